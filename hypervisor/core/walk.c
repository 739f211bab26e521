/*
 * walk.c - the one page-table walker (see walk.h for the two formats).
 *
 * Shape of every walk (SDM Vol. 3A §4.5, APM Vol. 2 §5.3, SDM Vol. 3C
 * §28.2.2): start at the root, take 9 bits of the input per level from the
 * top (bits 56:48 for a PML5, 47:39 PML4, 38:30 PDPT, 29:21 PD, 20:12 PT),
 * stop at a leaf (level 1, or PS/bit 7 = 1 at level 2 or 3). Not-present and
 * reserved-bit conditions end the walk at the entry where they occur;
 * access rights are the AND over all levels and are judged at the end, which
 * is how the hardware orders #PF causes and EPT misconfiguration vs.
 * violation (SDM Vol. 3C §28.2.3: misconfigurations are detected during the
 * walk, violations after it).
 *
 * The loop runs at most `levels` (<= 5) times whatever the table contents,
 * so no guest input can make it loop.
 */
#include "walk.h"

/* x86 entry bits (SDM Vol. 3A §4.5, Tables 4-15..4-20; APM Vol. 2 §5.3.3,
 * Figures 5-18..5-25). */
#define X86_P (UINT64_C(1) << 0)
#define X86_RW (UINT64_C(1) << 1)
#define X86_US (UINT64_C(1) << 2)
#define X86_PS (UINT64_C(1) << 7)
#define X86_PKEY_SHIFT 59 /* leaf bits 62:59, SDM Vol. 3A §4.6.2 */
#define X86_PKEY_MASK UINT64_C(0xf)
#define X86_AMD_MBZ8 (UINT64_C(1) << 8) /* APM Fig. 5-18: PML4E bits 8:7 MBZ */
#define X86_NX (UINT64_C(1) << 63)

/* EPT entry bits (SDM Vol. 3C §28.2.2, Tables 28-1..28-6). */
#define EPT_R (UINT64_C(1) << 0)
#define EPT_W (UINT64_C(1) << 1)
#define EPT_X (UINT64_C(1) << 2)
#define EPT_RWX (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT 3 /* leaf bits 5:3: memory type */
#define EPT_MT_MASK UINT64_C(7)
#define EPT_PS (UINT64_C(1) << 7)
/* PML5E/PML4E bits 7:3 reserved (Table 28-1); non-leaf PDPTE/PDE bits 6:3
 * reserved (Tables 28-3, 28-5). */
#define EPT_TOP_RSVD (UINT64_C(0x1f) << 3)
#define EPT_TABLE_RSVD (UINT64_C(0xf) << 3)

#define PAGE_SHIFT 12
#define LEVEL_SHIFT(l) (PAGE_SHIFT + 9u * ((unsigned)(l) - 1u))

/* Bits 51:MAXPHYADDR: reserved in every entry of both formats. */
static uint64_t rsvd_phys_mask(const struct ahv_pt_fmt *f)
{
	unsigned b = f->phys_bits;

	if (b < 36 || b > 52)
		b = 36; /* ahv_core_init refuses such a platform; be strict */
	return AHV_PT_ADDR_MASK & ~((UINT64_C(1) << b) - 1);
}

/* Address bits of a leaf at `level` that must be zero: for large pages the
 * bits between bit 12 and the page size. x86 keeps the PAT bit at bit 12
 * (SDM Table 4-17/4-19: bits 20:13 / 29:13 reserved); EPT has no PAT bit
 * there (Tables 28-2/28-4: bits 20:12 / 29:12 reserved). */
static uint64_t rsvd_large_mask(const struct ahv_pt_fmt *f, unsigned level)
{
	uint64_t low = f->kind == AHV_PT_X86 ? UINT64_C(1) << 13
					      : UINT64_C(1) << 12;

	if (level == 1)
		return 0;
	return ((UINT64_C(1) << LEVEL_SHIFT(level)) - 1) & ~(low - 1);
}

/* Input address inside the walk's width? Physical inputs (nested walks)
 * must have every bit above 12 + 9*levels clear (a GPA beyond the EPT/NPT
 * width cannot be mapped); virtual inputs must be canonical (SDM Vol. 3A
 * §3.3.7.1; APM Vol. 2 §5.3.1). */
static bool input_ok(const struct ahv_pt_fmt *f, uint64_t va)
{
	unsigned width = LEVEL_SHIFT(f->levels) + 9u; /* 48 or 57 */
	uint64_t high = va >> (width - 1);

	if (f->physical)
		return (va >> width) == 0;
	return high == 0 || high == (UINT64_MAX >> (width - 1));
}

/* Checks of one present x86 entry; returns AHV_WALK_OK or AHV_WALK_RSVD. */
static enum ahv_walk_res x86_entry(const struct ahv_pt_fmt *f, uint64_t e,
				   unsigned level, bool *leaf)
{
	if (e & rsvd_phys_mask(f))
		return AHV_WALK_RSVD;
	if ((e & X86_NX) && !f->nxe)
		return AHV_WALK_RSVD;
	*leaf = level == 1 || ((level == 2 || level == 3) && (e & X86_PS));
	if (level >= 4) {
		/* PS is reserved in PML4Es and PML5Es (SDM Table 4-15/4-14). */
		if (e & X86_PS)
			return AHV_WALK_RSVD;
		if (f->amd && level == 4 && (e & X86_AMD_MBZ8))
			return AHV_WALK_RSVD;
	}
	if (*leaf && level == 3 && !f->page_1g)
		return AHV_WALK_RSVD; /* no Page1GB: PS in a PDPTE is reserved */
	if (*leaf && (e & rsvd_large_mask(f, level)))
		return AHV_WALK_RSVD;
	return AHV_WALK_OK;
}

/* Checks of one present EPT entry (SDM §28.2.3.1 "EPT Misconfigurations");
 * returns AHV_WALK_OK or AHV_WALK_RSVD. */
static enum ahv_walk_res ept_entry(const struct ahv_pt_fmt *f, uint64_t e,
				   unsigned level, bool *leaf)
{
	if ((e & EPT_W) && !(e & EPT_R))
		return AHV_WALK_RSVD; /* write-only: misconfiguration */
	if (e & rsvd_phys_mask(f))
		return AHV_WALK_RSVD;
	*leaf = level == 1 || ((level == 2 || level == 3) && (e & EPT_PS));
	if (level >= 4)
		return (e & EPT_TOP_RSVD) ? AHV_WALK_RSVD : AHV_WALK_OK;
	if (!*leaf)
		return (e & EPT_TABLE_RSVD) ? AHV_WALK_RSVD : AHV_WALK_OK;
	if (level == 3 && !f->page_1g)
		return AHV_WALK_RSVD; /* bit 7 reserved without 1 GiB support */
	switch ((e >> EPT_MT_SHIFT) & EPT_MT_MASK) {
	case 2: case 3: case 7: /* reserved memory types (SDM §28.2.6.1) */
		return AHV_WALK_RSVD;
	default:
		break;
	}
	if (e & rsvd_large_mask(f, level))
		return AHV_WALK_RSVD;
	return AHV_WALK_OK;
}

enum ahv_walk_res ahv_walk_from(const struct ahv_pt_fmt *f, uint64_t table,
				unsigned level, unsigned perm, uint64_t va,
				unsigned acc, ahv_pt_read_fn rd, void *arg,
				struct ahv_walk_out *out)
{
	const bool ept = f->kind == AHV_PT_EPT;
	/* AND of the permission bits over the levels walked so far. */
	bool user = perm & AHV_PERM_USER, write = perm & AHV_PERM_WRITE,
	     read = perm & AHV_PERM_READ;

	out->pa = 0;
	out->span = 0;
	out->level = (uint8_t)level;
	out->table_status = 0;
	out->l1_valid = false;
	out->pkey = 0;
	out->n_path = 0;
	if ((f->levels != 4 && f->levels != 5) || level < 1 ||
	    level > f->levels || (f->kind != AHV_PT_X86 && !ept))
		return AHV_WALK_ADDR; /* impossible format: refuse, never walk */
	if (!input_ok(f, va))
		return AHV_WALK_ADDR;
	table &= AHV_PT_ADDR_MASK & ~rsvd_phys_mask(f);

	for (; level >= 1; level--) {
		unsigned index = (unsigned)(va >> LEVEL_SHIFT(level)) & 511u;
		enum ahv_walk_res r;
		uint64_t e;
		bool leaf = false;
		uint32_t st;

		out->level = (uint8_t)level;
		if (level == 1) {
			out->l1_valid = true;
			out->l1_table = table;
			out->l1_perm = (uint8_t)((user ? AHV_PERM_USER : 0) |
						 (write ? AHV_PERM_WRITE : 0) |
						 (read ? AHV_PERM_READ : 0));
		}
		st = rd(arg, table, index, &e);
		if (st != 0) {
			out->table_status = st;
			return AHV_WALK_TABLE;
		}
		out->path[out->n_path++] = table + 8u * index;
		if (ept) {
			if ((e & EPT_RWX) == 0)
				return AHV_WALK_NOT_PRESENT;
			r = ept_entry(f, e, level, &leaf);
			read = read && (e & EPT_R);
			write = write && (e & EPT_W);
		} else {
			if (!(e & X86_P))
				return AHV_WALK_NOT_PRESENT;
			r = x86_entry(f, e, level, &leaf);
			user = user && (e & X86_US);
			write = write && (e & X86_RW);
		}
		if (r != AHV_WALK_OK)
			return r;
		if (leaf) {
			uint64_t size = UINT64_C(1) << LEVEL_SHIFT(level);
			uint64_t off = va & (size - 1);

			if (!read)
				return AHV_WALK_NOT_READABLE;
			if ((acc & AHV_ACC_USER) && !ept && !user)
				return AHV_WALK_NOT_USER;
			if ((acc & AHV_ACC_WRITE) && !write)
				return AHV_WALK_NOT_WRITABLE;
			out->pa = (e & AHV_PT_ADDR_MASK & ~(size - 1)) | off;
			out->span = size - off;
			if (!ept)
				out->pkey = (uint8_t)((e >> X86_PKEY_SHIFT) & X86_PKEY_MASK);
			return AHV_WALK_OK;
		}
		table = e & AHV_PT_ADDR_MASK;
	}
	return AHV_WALK_ADDR; /* unreachable: level 1 is always a leaf */
}

enum ahv_walk_res ahv_walk(const struct ahv_pt_fmt *f, uint64_t root,
			   uint64_t va, unsigned acc, ahv_pt_read_fn rd,
			   void *arg, struct ahv_walk_out *out)
{
	return ahv_walk_from(f, root, f->levels, AHV_PERM_ALL, va, acc, rd,
			     arg, out);
}
