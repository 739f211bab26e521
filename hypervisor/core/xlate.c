/*
 * xlate.c - from the caller's addresses to host-physical runs.
 *
 * GVA: the caller's page tables (x86 format, at its CPL), whose table frames
 *      are guest-physical and so are themselves translated through the
 *      nested tables and checked against the RAM map before each 8-byte
 *      entry is read; then the data GPA through the nested tables.
 * GPA: the nested tables only.
 * Every resulting frame is checked against the RAM map and the hypervisor
 * ranges (protocol.md §4.3 rules 4-7). Nothing here assumes that guest-
 * physical equals host-physical.
 */
#include <string.h>

#include "engine.h"


/* Read one 8-byte entry once (a guest may be rewriting its tables on another
 * CPU: each entry is loaded exactly once and judged from that copy). */
static uint32_t load_entry(const struct ahv_platform *p, uint64_t hpa,
			   uint64_t *e, uint32_t fail)
{
	const void *ptr = p->map_hpa(p->ctx, hpa, sizeof(*e));

	if (!ptr)
		return fail;
	*e = __atomic_load_n((const uint64_t *)ptr, __ATOMIC_RELAXED);
	return AHV_OK;
}

/* Nested paging structures are the hypervisor's own: they must lie in its
 * memory. A table pointer anywhere else means a corrupted EPT/NPT; refuse
 * rather than read MMIO or guest RAM as a table. */
static uint32_t nested_read(void *arg, uint64_t table, unsigned index,
			    uint64_t *e)
{
	struct ahv_call *c = arg;
	uint64_t hpa = table + 8u * index;

	if (!ahv_in_hv_mem(c->plat, hpa, 8))
		return AHV_E_NESTED_FAULT;
	return load_entry(c->plat, hpa, e, AHV_E_NESTED_FAULT);
}

#define BLOCK (UINT64_C(1) << 21) /* 2 MiB: the unit of the caches */

/* GPA -> HPA; *clean says that all of [*hpa, *hpa + *span) is known to be
 * RAM outside hypervisor memory (from the cache), so the caller may skip
 * ahv_frame_check for it. */
static uint32_t nested_lookup(struct ahv_call *c, uint64_t gpa, bool write,
			      uint64_t *hpa, uint64_t *span, bool *clean)
{
	struct ahv_walk_out o;
	/* NPT walks are user accesses (APM Vol. 2 §15.25.5); EPT has no U/S. */
	unsigned acc = (write ? AHV_ACC_WRITE : 0) |
		       (c->nfmt.kind == AHV_PT_X86 ? AHV_ACC_USER : 0);
	unsigned slot = (unsigned)(gpa >> 21) & 7u;
	uint64_t off = gpa & (BLOCK - 1);

	*clean = false;
	if (!write && c->ncache[slot].tag == (gpa >> 21) + 1) {
		*hpa = c->ncache[slot].hpa + off;
		*span = BLOCK - off;
		*clean = c->ncache[slot].clean;
		return AHV_OK;
	}
	if (ahv_walk(&c->nfmt, c->plat->nested.root, gpa, acc, nested_read, c,
		     &o) != AHV_WALK_OK)
		return AHV_E_NESTED_FAULT; /* every nested failure, §4.3 rule 5 */
	*hpa = o.pa;
	*span = o.span;
	if (!write && o.level >= 2) {
		/* a 2 MiB or 1 GiB leaf covers the whole block */
		uint64_t base = o.pa - off, len = BLOCK;

		c->ncache[slot].tag = (gpa >> 21) + 1;
		c->ncache[slot].hpa = base;
		c->ncache[slot].clean =
			ahv_frame_check(c->plat, base, &len) == AHV_OK && len == BLOCK;
	}
	return AHV_OK;
}

uint32_t ahv_xlate_gpa(struct ahv_call *c, uint64_t gpa, bool write,
		       uint64_t *hpa, uint64_t *span)
{
	bool clean;

	return nested_lookup(c, gpa, write, hpa, span, &clean);
}

/* Guest paging-structure entries live in guest-physical memory: nested
 * translation (read), RAM and hypervisor-range checks, then one load. */
static uint32_t guest_read(void *arg, uint64_t table, unsigned index,
			   uint64_t *e)
{
	struct ahv_call *c = arg;
	uint64_t hpa, span, len = 8;
	uint32_t st;
	bool clean;

	st = nested_lookup(c, table + 8u * index, false, &hpa, &span, &clean);
	if (st != AHV_OK)
		return st;
	if (!clean) {
		st = ahv_frame_check(c->plat, hpa, &len);
		if (st != AHV_OK)
			return st;
		if (len < 8) /* an aligned entry never crosses a frame */
			return AHV_E_NOT_RAM;
	}
	return load_entry(c->plat, hpa, e, AHV_E_NOT_RAM);
}

static uint32_t guest_walk_status(enum ahv_walk_res r, uint32_t table_status)
{
	switch (r) {
	case AHV_WALK_OK: return AHV_OK;
	case AHV_WALK_NOT_PRESENT: return AHV_E_NOT_PRESENT;
	case AHV_WALK_RSVD: return AHV_E_GUEST_RSVD;
	case AHV_WALK_NOT_USER: return AHV_E_NOT_USER;
	case AHV_WALK_NOT_WRITABLE: return AHV_E_NOT_WRITABLE;
	case AHV_WALK_ADDR: return AHV_E_NONCANONICAL;
	case AHV_WALK_TABLE: return table_status;
	case AHV_WALK_NOT_READABLE: break; /* x86 format: cannot happen */
	}
	return AHV_E_INTERNAL;
}

/* CPL3 and CR4.PKE: the protection key of the leaf, through the caller's
 * PKRU (SDM Vol. 3A §4.6.2; APM Vol. 2 §5.6.7). A user-mode access to a
 * user-mode page (every CPL3 walk that got here has U/S = 1 at every level)
 * may not read or write with AD = 1, nor write with WD = 1. Instruction
 * fetches are not subject to protection keys. */
static uint32_t pkey_check(const struct ahv_call *c, uint8_t pkey, bool write)
{
	uint32_t k;

	if (c->cpl != 3 || c->fetch || !(c->x->cr4 & CR4_PKE))
		return AHV_OK;
	k = c->x->pkru >> (2u * pkey);
	if (k & PKRU_AD)
		return AHV_E_NOT_USER;
	if (write && (k & PKRU_WD))
		return AHV_E_NOT_WRITABLE;
	return AHV_OK;
}

/* The host-physical address of each guest paging entry of a walk, for the
 * A/D update that the write will do: nested write permission, RAM and not
 * hypervisor memory, like any other write to guest memory. */
static uint32_t mark_entries(struct ahv_call *c, const struct ahv_walk_out *o,
			     struct ahv_pt_marks *m)
{
	m->n = 0;
	for (unsigned i = 0; i < o->n_path; i++) {
		uint64_t hpa, span, len = 8;
		bool clean;
		uint32_t st = nested_lookup(c, o->path[i], true, &hpa, &span,
					    &clean);

		if (st == AHV_OK)
			st = ahv_frame_check(c->plat, hpa, &len);
		if (st == AHV_OK && len < 8)
			st = AHV_E_NOT_RAM;
		if (st != AHV_OK)
			return st;
		m->hpa[m->n++] = hpa;
	}
	return AHV_OK;
}

/* The caller's tables for addr (a full walk when `full`, else from the
 * cached page table of its 2 MiB block when there is one). */
static uint32_t guest_walk(struct ahv_call *c, uint64_t addr, bool write,
			   bool full, struct ahv_walk_out *o)
{
	unsigned acc = (write ? AHV_ACC_WRITE : 0) |
		       (c->cpl == 3 ? AHV_ACC_USER : 0);
	uint64_t tag = (addr >> 21) + 1;
	enum ahv_walk_res r;

	if (c->gcache.tag == tag && !full) {
		r = ahv_walk_from(&c->gfmt, c->gcache.table, 1, c->gcache.perm,
				  addr, acc, guest_read, c, o);
	} else {
		r = ahv_walk(&c->gfmt, c->groot, addr, acc, guest_read, c, o);
		if (o->l1_valid) {
			c->gcache.tag = tag;
			c->gcache.table = o->l1_table;
			c->gcache.perm = o->l1_perm;
		}
	}
	return r == AHV_WALK_OK ? AHV_OK : guest_walk_status(r, o->table_status);
}

uint32_t ahv_xlate_gva_gpa(struct ahv_call *c, uint64_t gva, uint64_t *gpa)
{
	struct ahv_walk_out o;
	uint32_t st = guest_walk(c, gva, false, false, &o);

	if (st == AHV_OK)
		*gpa = o.pa;
	return st;
}

uint32_t ahv_xlate(struct ahv_call *c, uint32_t space, uint64_t addr,
		   bool write, uint64_t *hpa, uint64_t *len,
		   struct ahv_pt_marks *marks)
{
	uint64_t gpa = addr, span = UINT64_MAX, nspan;
	uint32_t st;
	bool clean;

	if (space == AHV_SPACE_GVA) {
		struct ahv_walk_out o;

		st = guest_walk(c, addr, write, marks != NULL, &o);
		if (st != AHV_OK)
			return st;
		st = pkey_check(c, o.pkey, write);
		if (st == AHV_OK && marks)
			st = mark_entries(c, &o, marks);
		if (st != AHV_OK)
			return st;
		gpa = o.pa;
		span = o.span;
	}
	st = nested_lookup(c, gpa, write, hpa, &nspan, &clean);
	if (st != AHV_OK)
		return st;
	if (span > nspan)
		span = nspan;
	if (*len > span)
		*len = span;
	return clean ? AHV_OK : ahv_frame_check(c->plat, *hpa, len);
}

/* Canonical for the caller's paging mode: bits 63:47 (4-level) or 63:56
 * (5-level) all equal (SDM Vol. 3A §3.3.7.1; APM Vol. 2 §5.3.1). */
static bool canonical(uint64_t a, unsigned levels)
{
	unsigned top = levels == 5 ? 56 : 47;
	uint64_t high = a >> top;

	return high == 0 || high == UINT64_MAX >> top;
}

uint32_t ahv_range_check(const struct ahv_call *c, uint32_t space,
			 uint64_t addr, uint64_t size)
{
	uint64_t last;

	if (size == 0)
		return AHV_OK; /* empty: nothing is named (§4.3) */
	if (size - 1 > UINT64_MAX - addr)
		return AHV_E_RANGE_WRAP; /* address + size > 2^64 */
	last = addr + (size - 1);
	/* Both ends canonical and in the same half: then every byte is, and
	 * the range cannot span the non-canonical hole. */
	if (space == AHV_SPACE_GVA &&
	    (!canonical(addr, c->gfmt.levels) ||
	     !canonical(last, c->gfmt.levels) || (addr >> 63) != (last >> 63)))
		return AHV_E_NONCANONICAL;
	return AHV_OK;
}

size_t ahv_guest_fetch(struct ahv_core *core, const struct ahv_vcpu_exit *x, uint64_t va, uint8_t *buf, size_t n)
{
	struct ahv_call c;
	size_t done = 0;

	if ((x->cr0 & CR0_PG) && !(x->efer & EFER_LMA))
		return 0;
	ahv_call_setup(&c, core, x);
	c.fetch = true;
	while (done < n) {
		uint64_t hpa, len = n - done, a = va + done;
		uint32_t st = (x->cr0 & CR0_PG)
				      ? ahv_xlate(&c, AHV_SPACE_GVA, a, false, &hpa, &len, NULL)
				      : ahv_xlate(&c, AHV_SPACE_GPA, a & 0xffffffffu, false, &hpa, &len, NULL);
		if (st != AHV_OK || !len)
			break;
		/* Through the platform, like every other guest read
		 * (ahv/platform.h): host virtual need not equal physical. */
		const volatile uint8_t *src = c.plat->map_hpa(c.plat->ctx, hpa, len);
		if (!src)
			break;
		for (uint64_t i = 0; i < len; i++)
			buf[done + i] = src[i];
		done += (size_t)len;
	}
	return done;
}

void ahv_call_setup(struct ahv_call *c, struct ahv_core *core,
		    const struct ahv_vcpu_exit *x)
{
	const struct ahv_platform *p = core->plat;

	c->core = core;
	c->plat = p;
	c->x = x;
	c->cpl = x->cpl;
	c->fetch = false;
	c->quiesce = NULL;
	c->watch_op = 0;
	c->watch_end = false;
	c->watch = NULL;
	c->t0 = p->monotonic_ns(p->ctx);
	ahv_call_flush(c);
	c->groot = x->cr3 & AHV_PT_ADDR_MASK; /* bits 11:0 PCID/flags, 63:52 */
	c->gfmt = (struct ahv_pt_fmt){
		.kind = AHV_PT_X86,
		.levels = (x->cr4 & CR4_LA57) ? 5 : 4,
		.page_1g = p->guest_page_1g,
		.nxe = (x->efer & EFER_NXE) != 0,
		.amd = p->backend == AHV_BACKEND_SVM,
		.physical = false,
		.phys_bits = p->phys_addr_bits,
	};
	c->nfmt = (struct ahv_pt_fmt){
		.kind = p->nested.format == AHV_NESTED_EPT ? AHV_PT_EPT
							    : AHV_PT_X86,
		.levels = p->nested.levels,
		.page_1g = p->nested.page_1g,
		.nxe = p->nested.nxe,
		.amd = p->nested.format == AHV_NESTED_NPT,
		.physical = true,
		.phys_bits = p->phys_addr_bits,
	};
}

void ahv_call_flush(struct ahv_call *c)
{
	memset(c->ncache, 0, sizeof(c->ncache));
	memset(&c->gcache, 0, sizeof(c->gcache));
}
