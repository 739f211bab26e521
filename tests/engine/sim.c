/*
 * sim.c - the simulated machine (see sim.h).
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "walk.h" /* AHV_PT_X86 / AHV_PT_EPT */

/* Entry bits the builder writes. x86: SDM Vol. 3A §4.5 Tables 4-14..4-20
 * (APM Vol. 2 §5.3.3). EPT: SDM Vol. 3C §28.2.2 Tables 28-1..28-6, memory
 * type WB (6) in bits 5:3 of leaves (§28.2.6.1). */
#define X86_P 0x1ull
#define X86_RW 0x2ull
#define X86_US 0x4ull
#define PS 0x80ull
#define EPT_R 0x1ull
#define EPT_W 0x2ull
#define EPT_X 0x4ull
#define EPT_WB (6ull << 3)
#define ADDR_MASK 0x000ffffffffff000ull

/* ---- memory ------------------------------------------------------------- */

void *sim_hpa_ptr(struct sim *s, uint64_t hpa)
{
	if (hpa < SIM_HPA_BASE || hpa - SIM_HPA_BASE >= s->mem_size)
		return NULL;
	return s->mem + (hpa - SIM_HPA_BASE);
}

static void *plat_map_hpa(void *ctx, uint64_t hpa, uint64_t len)
{
	struct sim *s = ctx;

	s->map_calls++;
	if (s->hook)
		s->hook(s, hpa, len);
	if (len == 0 || hpa < SIM_HPA_BASE || hpa - SIM_HPA_BASE > s->mem_size ||
	    len > s->mem_size - (hpa - SIM_HPA_BASE))
		return NULL;
	return s->mem + (hpa - SIM_HPA_BASE);
}

static uint64_t plat_now(void *ctx)
{
	struct sim *s = ctx;

	s->now += s->step;
	if (s->jump_after && ++s->calls == s->jump_after)
		s->now += s->jump_ns;
	return s->now;
}

uint64_t sim_alloc_hv(struct sim *s)
{
	uint64_t hpa = s->hv_next;

	if (hpa + SIM_4K > SIM_HPA_BASE + SIM_HV_SIZE)
		abort(); /* tests never need that many tables */
	s->hv_next += SIM_4K;
	memset(sim_hpa_ptr(s, hpa), 0, SIM_4K);
	return hpa;
}

uint64_t sim_alloc_gpa(struct sim *s, uint64_t size, uint64_t align)
{
	uint64_t gpa = (s->gpa_next + align - 1) & ~(align - 1);

	size = (size + SIM_4K - 1) & ~(SIM_4K - 1);
	if (gpa + size > s->cfg.guest_ram)
		abort();
	s->gpa_next = gpa + size;
	return gpa;
}

/* ---- the model ------------------------------------------------------------ */

static void model_add(struct sim_pt *pt, uint64_t va, uint64_t pa, uint64_t size)
{
	if (pt->nmap == pt->capmap) {
		pt->capmap = pt->capmap ? 2 * pt->capmap : 64;
		pt->map = realloc(pt->map, pt->capmap * sizeof(*pt->map));
		if (!pt->map)
			abort();
	}
	pt->map[pt->nmap++] = (struct sim_map){ va, pa, size };
}

bool sim_model_xlate(const struct sim_pt *pt, uint64_t va, uint64_t *pa)
{
	for (size_t i = pt->nmap; i-- > 0;) {
		const struct sim_map *m = &pt->map[i];

		if (va - m->va < m->size) {
			*pa = m->pa + (va - m->va);
			return true;
		}
	}
	return false;
}

/* ---- the builder ------------------------------------------------------------ */

static uint64_t *table_ptr(struct sim *s, const struct sim_pt *pt, uint64_t pa)
{
	uint64_t hpa = pa;

	if (pt->table_space == SIM_SPACE_GPA && !sim_model_xlate(&s->npt, pa, &hpa))
		return NULL;
	return sim_hpa_ptr(s, hpa);
}

static uint64_t new_table(struct sim *s, const struct sim_pt *pt)
{
	if (pt->table_space == SIM_SPACE_HPA)
		return sim_alloc_hv(s);
	uint64_t gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	memset(table_ptr(s, pt, gpa), 0, SIM_4K);
	return gpa;
}

static uint64_t entry_bits(const struct sim_pt *pt, unsigned perm, bool leaf)
{
	uint64_t e = 0;

	if (pt->kind == AHV_PT_EPT) {
		e |= (perm & SIM_RD) ? EPT_R : 0;
		e |= (perm & SIM_WR) ? EPT_W : 0;
		e |= (perm & SIM_EX) ? EPT_X : 0;
		e |= leaf ? EPT_WB : 0;
	} else {
		e |= (perm & SIM_RD) ? X86_P : 0;
		e |= (perm & SIM_WR) ? X86_RW : 0;
		e |= (perm & SIM_US) ? X86_US : 0;
	}
	return e;
}

static unsigned shift_of(unsigned level)
{
	return 12 + 9 * (level - 1);
}

/* Descend to the table holding va's entry at `level`, creating tables when
 * `create`. Returns the entry pointer or NULL. */
static uint64_t *descend(struct sim *s, struct sim_pt *pt, uint64_t va,
			 unsigned level, bool create)
{
	uint64_t table = pt->root;

	for (unsigned l = pt->levels; l >= 1; l--) {
		uint64_t *t = table_ptr(s, pt, table);
		uint64_t *e;

		if (!t)
			return NULL;
		e = &t[(va >> shift_of(l)) & 511];
		if (l == level)
			return e;
		if (*e == 0) {
			if (!create)
				return NULL;
			*e = new_table(s, pt) | entry_bits(pt, SIM_ALL, false);
		} else if (l <= 3 && (*e & PS)) {
			return NULL; /* a large leaf is in the way */
		}
		table = *e & ADDR_MASK;
	}
	return NULL;
}

int sim_map(struct sim *s, struct sim_pt *pt, uint64_t va, uint64_t pa,
	    uint64_t size, uint64_t page, unsigned perm)
{
	unsigned level = page == SIM_1G ? 3 : page == SIM_2M ? 2 : 1;

	if ((va | pa | size) & (page - 1))
		return -1;
	for (uint64_t off = 0; off < size; off += page) {
		uint64_t *e = descend(s, pt, va + off, level, true);

		if (!e || *e)
			return -1;
		*e = ((pa + off) & ADDR_MASK) | entry_bits(pt, perm, true) |
		     (level > 1 ? PS : 0);
	}
	model_add(pt, va, pa, size);
	return 0;
}

uint64_t *sim_entry(struct sim *s, struct sim_pt *pt, uint64_t va,
		    unsigned level)
{
	return descend(s, pt, va, level, false);
}

/* ---- watched regions: the back end's hook ----------------------------------- */

uint64_t *sim_nested_leaf(struct sim *s, uint64_t gpa, unsigned *level)
{
	uint64_t table = s->npt.root;

	for (unsigned l = s->npt.levels; l >= 1; l--) {
		uint64_t *e = &table_ptr(s, &s->npt, table)[(gpa >> shift_of(l)) & 511];

		if (*e == 0)
			return NULL;
		if (l == 1 || (l <= 3 && (*e & PS))) {
			*level = l;
			return e;
		}
		table = *e & ADDR_MASK;
	}
	return NULL;
}

bool sim_nested_writable(struct sim *s, uint64_t gpa)
{
	unsigned level;
	uint64_t *e = sim_nested_leaf(s, gpa, &level);

	/* W (EPT) and R/W (x86) are both bit 1 (SDM Vol. 3C §29.3.2; APM
	 * Vol. 2 §5.4.1) */
	return e && (*e & EPT_W);
}

/* Split the large leaf at `e` (level l) into a table of 512 leaves of the
 * next size down with the same bits. */
static int split_leaf(struct sim *s, uint64_t *e, unsigned l)
{
	uint64_t t = sim_alloc_hv(s);
	uint64_t *n = sim_hpa_ptr(s, t);
	uint64_t base = *e & ADDR_MASK, bits = *e & ~ADDR_MASK;

	if (l - 1 == 1)
		bits &= ~PS;
	for (unsigned i = 0; i < 512; i++)
		n[i] = (base + ((uint64_t)i << shift_of(l - 1))) | bits;
	*e = t | entry_bits(&s->npt, SIM_ALL, false);
	return 0;
}

static int plat_watch_protect(void *ctx, uint64_t gpa, bool protect)
{
	struct sim *s = ctx;
	unsigned level;
	uint64_t *e = sim_nested_leaf(s, gpa, &level);

	if (!e)
		return -1;
	if (!protect) {
		s->unprotects++;
		if (level == 1)
			*e |= EPT_W;
		return 0;
	}
	if (s->protect_budget && s->protects >= s->protect_budget)
		return -1;
	s->protects++;
	while (level > 1) {
		split_leaf(s, e, level);
		e = sim_nested_leaf(s, gpa, &level);
	}
	*e &= ~EPT_W;
	return 0;
}

int sim_vcpu_write(struct sim *s, uint32_t space, uint64_t addr,
		   const void *in, uint64_t len, uint64_t rip, uint32_t apic_id)
{
	const uint8_t *b = in;
	int exits = 0;

	while (len) {
		uint64_t n = SIM_4K - (addr & (SIM_4K - 1)), gpa = addr;

		n = n < len ? n : len;
		if (space == AHV_SPACE_GVA && !sim_model_xlate(&s->gpt, addr, &gpa))
			return -1;
		if (!sim_nested_writable(s, gpa)) {
			if (!ahv_watch_write_fault(&s->core, gpa, rip, apic_id) ||
			    !sim_nested_writable(s, gpa))
				return -1;
			exits++;
		}
		if (!sim_write(s, space, addr, b, n))
			return -1;
		addr += n;
		b += n;
		len -= n;
	}
	return exits;
}

uint64_t sim_alloc_gva(struct sim *s, uint64_t size, uint64_t offset,
		       unsigned perm)
{
	uint64_t pages = (offset + size + SIM_4K - 1) / SIM_4K;
	uint64_t gva = s->gva_next;

	if (pages == 0)
		pages = 1;
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K);

		memset(table_ptr(s, &s->gpt, gpa), 0, SIM_4K);
		if (sim_map(s, &s->gpt, gva + i * SIM_4K, gpa, SIM_4K, SIM_4K, perm))
			abort();
	}
	s->gva_next += (pages + 1) * SIM_4K; /* one unmapped guard page */
	return gva + offset;
}

/* ---- copies through the model -------------------------------------------- */

static uint8_t *model_ptr(struct sim *s, uint32_t space, uint64_t addr)
{
	uint64_t gpa = addr, hpa;

	if (space == AHV_SPACE_GVA && !sim_model_xlate(&s->gpt, addr, &gpa))
		return NULL;
	if (!sim_model_xlate(&s->npt, gpa, &hpa))
		return NULL;
	return sim_hpa_ptr(s, hpa);
}

static bool copy(struct sim *s, uint32_t space, uint64_t addr, uint8_t *buf,
		 uint64_t len, bool out)
{
	while (len) {
		uint64_t n = SIM_4K - (addr & (SIM_4K - 1));
		uint8_t *p = model_ptr(s, space, addr);

		if (n > len)
			n = len;
		if (!p)
			return false;
		if (out)
			memcpy(buf, p, n);
		else
			memcpy(p, buf, n);
		addr += n;
		buf += n;
		len -= n;
	}
	return true;
}

bool sim_read(struct sim *s, uint32_t space, uint64_t addr, void *out,
	      uint64_t len)
{
	return copy(s, space, addr, out, len, true);
}

bool sim_write(struct sim *s, uint32_t space, uint64_t addr, const void *in,
	       uint64_t len)
{
	return copy(s, space, addr, (uint8_t *)(uintptr_t)in, len, false);
}

/* ---- requests ---------------------------------------------------------------- */

int sim_entropy(void *arg, uint8_t *out, size_t len)
{
	uint64_t *x = arg;

	for (size_t i = 0; i < len; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		out[i] = (uint8_t)*x;
	}
	return 0;
}

int sim_resign(uint8_t *buf, const ahv_ec_key *key, ahv_drbg *drbg)
{
	struct ahv_request_hdr h;
	uint8_t d[64];
	size_t n, signed_len, sig_len;
	ahv_hash_alg mh;

	memcpy(&h, buf, sizeof(h));
	n = h.region_count <= AHV_MAX_REGIONS ? h.region_count : AHV_MAX_REGIONS;
	signed_len = AHV_REQUEST_SIGNED_SIZE(n);
	mh = key->pub.curve == AHV_CURVE_P384 ? AHV_HASH_SHA384 : AHV_HASH_SHA256;
	memset(buf + signed_len, 0, AHV_SIG_FIELD_SIZE);
	if (ahv_hash(mh, buf, signed_len, d))
		return -1;
	return ahv_ecdsa_sign_raw(key, drbg, d, ahv_hash_size(mh), buf + signed_len,
				  AHV_SIG_FIELD_SIZE, &sig_len);
}

size_t sim_request(uint8_t *buf, uint32_t hash_alg, const uint8_t *nonce,
		   uint32_t nonce_len, const struct sim_region *r, uint32_t n,
		   const ahv_ec_key *key, ahv_drbg *drbg)
{
	struct ahv_request_hdr h = {
		.magic = AHV_REQUEST_MAGIC,
		.version_major = AHV_WIRE_VERSION_MAJOR,
		.version_minor = AHV_WIRE_VERSION_MINOR,
		.total_size = (uint32_t)AHV_REQUEST_SIZE(n),
		.hash_alg = (uint16_t)hash_alg,
		.sig_alg = (uint16_t)key->pub.curve,
		.region_count = (uint16_t)n,
		.nonce_len = (uint16_t)nonce_len,
	};
	size_t hs = ahv_hash_size((ahv_hash_alg)hash_alg);

	memset(buf, 0, AHV_REQUEST_SIZE(n));
	memcpy(h.nonce, nonce, nonce_len > 64 ? 64 : nonce_len);
	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < n; i++) {
		struct ahv_region g = {
			.address = r[i].address,
			.size = r[i].size,
			.space = r[i].space,
			.flags = r[i].flags,
		};
		if (r[i].claim) {
			g.flags |= AHV_REGION_F_CLAIMED;
			memcpy(g.claimed_digest, r[i].claim, hs);
		}
		memcpy(buf + AHV_REQUEST_REGION_OFFSET(i), &g, sizeof(g));
	}
	if (ahv_spki_key_id(&key->pub, buf + AHV_REQUEST_TAIL_OFFSET(n)))
		return 0;
	if (sim_resign(buf, key, drbg))
		return 0;
	return AHV_REQUEST_SIZE(n);
}

/* ---- calls ---------------------------------------------------------------- */

struct ahv_hc_regs sim_call(struct sim *s, uint64_t rax, uint64_t rbx,
			    uint64_t rcx, uint64_t rdx, uint64_t rsi)
{
	struct ahv_vcpu_exit x = {
		.regs = { .rax = rax, .rbx = rbx, .rcx = rcx, .rdx = rdx, .rsi = rsi },
		.cr0 = s->cr0,
		.cr3 = s->gpt.root | s->cr3_flags,
		.cr4 = s->cr4,
		.efer = s->efer,
		.cs_l = s->cs_l,
		.cpl = s->cpl,
		.apic_id = 7,
		.pkru = s->pkru,
	};

	ahv_hypercall_quiesced(&s->core, &x, s->quiesce);
	return x.regs;
}

struct ahv_hc_regs sim_attest(struct sim *s, const uint8_t *req, size_t len,
			      uint64_t offset, uint8_t *report)
{
	uint64_t rq = sim_alloc_gva(s, len, offset, SIM_URW);
	uint64_t rp = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	struct ahv_hc_regs r;

	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	r = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	if (r.rax == AHV_OK && report)
		sim_read(s, AHV_SPACE_GVA, rp, report, r.rbx);
	return r;
}

/* The simulated machine has three CPUs under the hypervisor (GET_INFO). */
static const uint32_t sim_vcpus = 3;

/* ---- setup ---------------------------------------------------------------- */

int sim_init(struct sim *s, const struct sim_cfg *cfg_in)
{
	struct sim_cfg cfg = cfg_in ? *cfg_in : (struct sim_cfg){ 0 };

	memset(s, 0, sizeof(*s));
	if (!cfg.guest_ram)
		cfg.guest_ram = 32ull << 20;
	if (!cfg.nested_format)
		cfg.nested_format = AHV_NESTED_EPT;
	if (!cfg.nested_levels)
		cfg.nested_levels = 4;
	if (!cfg.guest_levels)
		cfg.guest_levels = 4;
	if (!cfg.nested_page)
		cfg.nested_page = SIM_2M;
	if (!cfg.hv_curve)
		cfg.hv_curve = AHV_CURVE_P256;
	if (!cfg.policy)
		cfg.policy = AHV_POLICY_GPA_REGIONS | AHV_POLICY_CPL3;
	if (!cfg.plat_flags)
		cfg.plat_flags = AHV_PLAT_TIME_VALID;
	s->cfg = cfg;

	s->mem_size = SIM_GUEST_HPA - SIM_HPA_BASE + cfg.guest_ram;
	s->mem = mmap(NULL, s->mem_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->mem == MAP_FAILED)
		return -1;
	s->hv_next = SIM_HPA_BASE;
	s->gpa_next = 1ull << 20; /* keep GPA 0 .. 1 MiB unused */
	s->gva_next = 0x10000000ull;
	s->step = 1000;

	/* nested tables: GPA [0, guest_ram) -> HPA SIM_GUEST_HPA + gpa */
	s->npt = (struct sim_pt){
		.kind = cfg.nested_format == AHV_NESTED_EPT ? AHV_PT_EPT : AHV_PT_X86,
		.levels = cfg.nested_levels,
		.table_space = SIM_SPACE_HPA,
	};
	s->npt.root = sim_alloc_hv(s);
	if (sim_map(s, &s->npt, 0, SIM_GUEST_HPA, cfg.guest_ram, cfg.nested_page,
		    SIM_ALL))
		return -1;
	s->gpt = (struct sim_pt){
		.kind = AHV_PT_X86,
		.levels = cfg.guest_levels,
		.table_space = SIM_SPACE_GPA,
	};
	s->gpt.root = new_table(s, &s->gpt);

	/* keys: deterministic, so failures reproduce */
	s->seed = 0x9e3779b97f4a7c15ull;
	if (ahv_drbg_init(&s->drbg, 0, sim_entropy, &s->seed, "sim", 3) ||
	    ahv_ec_keygen((ahv_curve)cfg.hv_curve, &s->drbg, &s->hv_key) ||
	    ahv_ec_keygen(AHV_CURVE_P256, &s->drbg, &s->guest_key[0]) ||
	    ahv_ec_keygen(AHV_CURVE_P384, &s->drbg, &s->guest_key[1]) ||
	    ahv_ec_keygen(AHV_CURVE_P256, &s->drbg, &s->stranger_key) ||
	    ahv_guest_key_enroll(&s->enrolled[0], &s->guest_key[0].pub) ||
	    ahv_guest_key_enroll(&s->enrolled[1], &s->guest_key[1].pub))
		return -1;

	s->ram[0] = (struct ahv_phys_range){ SIM_HPA_BASE, SIM_HV_SIZE };
	s->ram[1] = (struct ahv_phys_range){ SIM_GUEST_HPA, cfg.guest_ram };
	s->hv[0] = (struct ahv_phys_range){ SIM_HPA_BASE, SIM_HV_SIZE };
	s->plat = (struct ahv_platform){
		.ctx = s,
		.map_hpa = plat_map_hpa,
		.ram = s->ram,
		.ram_count = 2,
		.hv_mem = s->hv,
		.hv_mem_count = 1,
		.phys_addr_bits = 46,
		.guest_page_1g = !cfg.no_1g,
		.nested = {
			.format = cfg.nested_format,
			.levels = cfg.nested_levels,
			.page_1g = !cfg.no_1g,
			.nxe = true,
			.root = s->npt.root,
		},
		.monotonic_ns = plat_now,
		.rtc_boot_ns = 1700000000ull * 1000000000ull,
		.sign_key = cfg.no_key ? NULL : &s->hv_key,
		.drbg = &s->drbg,
		.guest_keys = s->enrolled,
		.guest_key_count = 2,
		.backend = cfg.nested_format == AHV_NESTED_EPT ? AHV_BACKEND_VMX
							       : AHV_BACKEND_SVM,
		.vcpu_count = &sim_vcpus,
		.hv_version = AHV_HV_VERSION(0, 1, 0),
		.flags = cfg.plat_flags,
		.policy = cfg.policy,
	};
	if (!cfg.no_watch) {
		size_t n = cfg.watch_mem ? cfg.watch_mem : (size_t)256 << 10;

		s->watch_mem = calloc(1, n);
		if (!s->watch_mem)
			return -1;
		s->plat.watch_mem = s->watch_mem;
		s->plat.watch_mem_size = n;
		s->plat.watch_protect = plat_watch_protect;
	}
	for (unsigned i = 0; i < AHV_BOOT_ID_SIZE; i++)
		s->plat.boot_id[i] = (uint8_t)(0xb0 + i);
	for (unsigned i = 0; i < AHV_BUILD_ID_SIZE; i++) {
		s->plat.build_id[i] = (uint8_t)(0x10 + i);
		s->plat.hv_image_digest[i] = (uint8_t)(0x20 + i);
		s->plat.hv_config_digest[i] = (uint8_t)(0x30 + i);
	}
	if (ahv_core_init(&s->core, &s->plat))
		return -1;

	/* the caller: 64-bit mode, paging on, NXE (SDM Vol. 3A §2.2.1, §2.5) */
	s->cpl = cfg.cpl0 ? 0 : 3;
	s->efer = (1ull << 8) | (1ull << 10) | (1ull << 11); /* LME LMA NXE */
	s->cr0 = (1ull << 31) | 1ull;                          /* PG PE */
	s->cr4 = (1ull << 5) | (cfg.guest_levels == 5 ? 1ull << 12 : 0);
	s->cs_l = true;
	return 0;
}

struct sim *sim_new(const struct sim_cfg *cfg)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (s && sim_init(s, cfg)) {
		sim_free(s);
		free(s);
		s = NULL;
	}
	return s;
}

void sim_delete(struct sim *s)
{
	sim_free(s);
	free(s);
}

void sim_free(struct sim *s)
{
	if (s->mem && s->mem != MAP_FAILED)
		munmap(s->mem, s->mem_size);
	free(s->gpt.map);
	free(s->npt.map);
	free(s->watch_mem);
	ahv_drbg_free(&s->drbg);
	memset(s, 0, sizeof(*s));
}
