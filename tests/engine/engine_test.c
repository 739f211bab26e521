/*
 * engine_test.c - /attest_guest_memory and GET_INFO end to end on the
 * simulated machine: every status, page size and format, with every digest
 * checked against OpenSSL over the bytes the sim's model says are there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "oracle.h"
#include "sim.h"

static const uint8_t nonce8[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

static struct sim *mk(const struct sim_cfg *cfg)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(sim_init(s, cfg), 0);
	return s;
}

static void rm(struct sim *s)
{
	sim_free(s);
	free(s);
}

/* Map `size` bytes of fresh guest frames at a chosen GVA (tests that poke
 * shared upper-level entries use their own PML4 slot). */
static uint64_t map_at(struct sim *s, uint64_t va, uint64_t size, unsigned perm)
{
	uint64_t gpa = sim_alloc_gpa(s, size, SIM_4K);

	assert_int_equal(sim_map(s, &s->gpt, va, gpa, size, SIM_4K, perm), 0);
	return va;
}

/* Fill [addr, addr + len) with a pattern that differs per byte and call. */
static void fill(struct sim *s, uint32_t space, uint64_t addr, uint64_t len)
{
	static uint32_t salt;
	uint8_t *b = malloc(len ? len : 1);

	salt++;
	for (uint64_t i = 0; i < len; i++)
		b[i] = (uint8_t)((addr + i) * 7 + (i >> 12) * 13 + salt);
	assert_true(sim_write(s, space, addr, b, len));
	free(b);
}

/* Everything a verifier checks (protocol.md §11), against the oracle. */
static void check_report(struct sim *s, const uint8_t *req, size_t req_len,
			 const uint8_t *rep)
{
	struct ahv_request_hdr q;
	struct ahv_report_hdr h;
	uint8_t d[64], id[32];
	uint32_t hs;

	memcpy(&q, req, sizeof(q));
	memcpy(&h, rep, sizeof(h));
	hs = ahv_wire_hash_size(q.hash_alg);
	assert_int_equal(h.magic, AHV_REPORT_MAGIC);
	assert_int_equal(h.version_major, 1);
	assert_int_equal(h.version_minor, AHV_WIRE_VERSION_MINOR);
	assert_int_equal(h.total_size, AHV_REPORT_SIZE(q.region_count));
	assert_int_equal(h.hash_alg, q.hash_alg);
	assert_int_equal(h.sig_alg, s->hv_key.pub.curve);
	assert_int_equal(h.region_count, q.region_count);
	assert_int_equal(h.nonce_len, q.nonce_len);
	assert_int_equal(h.caller_cpl, s->cpl);
	assert_int_equal(h.paging_levels, s->gpt.levels);
	assert_int_equal(h.reserved0, 0);
	assert_int_equal(h.reserved1, 0);
	assert_true(h.counter >= 1);
	assert_memory_equal(h.nonce, q.nonce, 64);
	assert_memory_equal(h.boot_id, s->plat.boot_id, 16);
	assert_memory_equal(h.build_id, s->plat.build_id, 32);
	oracle_hash(q.hash_alg, req, req_len, d);
	assert_memory_equal(h.request_digest, d, hs);
	oracle_composite(rep, d);
	assert_memory_equal(h.composite_digest, d, hs);
	assert_memory_equal(h.guest_key_id, req + AHV_REQUEST_TAIL_OFFSET(q.region_count), 32);
	oracle_key_id(&s->hv_key.pub, id);
	assert_memory_equal(h.hv_key_id, id, 32);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(h.reserved2[i], 0);
	for (unsigned i = hs; i < 64; i++) {
		assert_int_equal(h.request_digest[i], 0);
		assert_int_equal(h.composite_digest[i], 0);
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < q.region_count; i++) {
		struct ahv_region g;
		struct ahv_region_result r;

		memcpy(&g, req + AHV_REQUEST_REGION_OFFSET(i), sizeof(g));
		memcpy(&r, rep + AHV_REPORT_RESULT_OFFSET(i), sizeof(r));
		assert_int_equal(r.address, g.address);
		assert_int_equal(r.size, g.size);
		assert_int_equal(r.space, g.space);
		assert_true(oracle_region(s, q.hash_alg, g.space, g.address, g.size, d));
		assert_memory_equal(r.digest, d, hs);
		for (unsigned j = hs; j < 64; j++)
			assert_int_equal(r.digest[j], 0);
		total += g.size;
	}
	assert_int_equal(h.total_bytes, total);
	assert_true(oracle_verify_report(&s->hv_key.pub, rep));
}

/* One request with the given regions, signed by guest key 0, placed at
 * `offset` into a page; returns the registers; checks the report on OK. */
static struct ahv_hc_regs attest_n(struct sim *s, uint32_t alg,
				   const struct sim_region *r, uint32_t n,
				   uint64_t offset, uint8_t *report_out)
{
	uint8_t req[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE];
	size_t len = sim_request(req, alg, nonce8, 8, r, n, &s->guest_key[0], &s->drbg);
	struct ahv_hc_regs o;

	assert_int_not_equal(len, 0);
	o = sim_attest(s, req, len, offset, rep);
	if (o.rax == AHV_OK) {
		assert_int_equal(o.rbx, AHV_REPORT_SIZE(n));
		assert_int_equal(o.rcx, 0);
		assert_int_equal(o.rdx, AHV_OBJ_NONE);
		check_report(s, req, len, rep);
		if (report_out)
			memcpy(report_out, rep, o.rbx);
	} else {
		assert_int_equal(o.rbx, o.rax == AHV_E_BUFFER_TOO_SMALL ? o.rbx : 0);
	}
	return o;
}

static struct ahv_hc_regs attest1(struct sim *s, uint32_t alg, uint32_t space,
				  uint64_t addr, uint64_t size)
{
	struct sim_region r = { .address = addr, .size = size, .space = space };

	return attest_n(s, alg, &r, 1, 0, NULL);
}

#define assert_status(o, st, obj, addr)                                        \
	do {                                                                   \
		struct ahv_hc_regs o_ = (o);                                   \
		assert_int_equal(o_.rax, (st));                                \
		assert_int_equal(o_.rdx, (obj));                               \
		assert_int_equal(o_.rcx, (addr));                              \
	} while (0)

/* ---- measurement: algorithms, sizes, alignment --------------------------- */

static void t_abc(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t gva = sim_alloc_gva(s, 3, 0x123, SIM_URW);
	uint8_t rep[AHV_REPORT_MAX_SIZE];
	struct sim_region r = { .address = gva, .size = 3, .space = AHV_SPACE_GVA };
	static const uint8_t abc_sha256[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };

	(void)st;
	sim_write(s, AHV_SPACE_GVA, gva, "abc", 3);
	assert_status(attest_n(s, 1, &r, 1, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
	assert_memory_equal(rep + AHV_REPORT_RESULT_OFFSET(0) + 24, abc_sha256, 32);
	rm(s);
}

static void t_all_algs_unaligned(void **st)
{
	struct sim *s = mk(NULL);

	(void)st;
	for (uint32_t alg = 1; alg <= 6; alg++) {
		uint64_t gva = sim_alloc_gva(s, 3 * 4096 + 77, 0xfff, SIM_URW);

		fill(s, AHV_SPACE_GVA, gva, 3 * 4096 + 77);
		assert_status(attest1(s, alg, AHV_SPACE_GVA, gva, 3 * 4096 + 77),
			      AHV_OK, AHV_OBJ_NONE, 0);
		/* one byte, last byte of a page */
		assert_status(attest1(s, alg, AHV_SPACE_GVA, gva, 1), AHV_OK,
			      AHV_OBJ_NONE, 0);
	}
	rm(s);
}

/* Guest pages of 4K, 2M and 1G, regions straddling the large-page edges,
 * over physically discontiguous backing (GPA != HPA ordering). */
static void t_guest_page_sizes(void **st)
{
	struct sim_cfg cfg = { .guest_ram = 128ull << 20 };
	struct sim *s = mk(&cfg);
	uint64_t g2m = sim_alloc_gpa(s, 2 * SIM_2M, SIM_2M);
	uint64_t va = 0x40000000ull; /* 1 GiB */

	(void)st;
	/* two 2 MiB pages mapped in reverse order */
	assert_int_equal(sim_map(s, &s->gpt, va, g2m + SIM_2M, SIM_2M, SIM_2M, SIM_URW), 0);
	assert_int_equal(sim_map(s, &s->gpt, va + SIM_2M, g2m, SIM_2M, SIM_2M, SIM_URW), 0);
	/* then 4 KiB pages right after */
	uint64_t g4k = sim_alloc_gpa(s, 8 * SIM_4K, SIM_4K);
	for (int i = 0; i < 8; i++)
		assert_int_equal(sim_map(s, &s->gpt, va + 2 * SIM_2M + i * SIM_4K,
					 g4k + (7 - i) * SIM_4K, SIM_4K, SIM_4K, SIM_URW), 0);
	fill(s, AHV_SPACE_GVA, va, 2 * SIM_2M + 8 * SIM_4K);
	assert_status(attest1(s, 3, AHV_SPACE_GVA, va + 5, 2 * SIM_2M + 8 * SIM_4K - 9),
		      AHV_OK, AHV_OBJ_NONE, 0);
	/* straddles 2M -> 2M and 2M -> 4K */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, va + SIM_2M - 100, 200), AHV_OK,
		      AHV_OBJ_NONE, 0);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, va + 2 * SIM_2M - 4097, 8194),
		      AHV_OK, AHV_OBJ_NONE, 0);

	/* 1 GiB guest pages: GVA [4G, 5G) -> GPA [1G, 2G) and GVA [5G, 6G) ->
	 * GPA [0, 1G). The nested map backs GPA 2G-4K.. with one 4 KiB page
	 * (outside the default GPA map), so a region can straddle them. */
	uint64_t v1g = 4ull << 30;
	assert_int_equal(sim_map(s, &s->gpt, v1g, SIM_1G, SIM_1G, SIM_1G, SIM_URW), 0);
	assert_int_equal(sim_map(s, &s->gpt, v1g + SIM_1G, 0, SIM_1G, SIM_1G, SIM_URW), 0);
	uint64_t back = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	assert_int_equal(sim_map(s, &s->npt, 2 * SIM_1G - SIM_4K, SIM_GUEST_HPA + back,
				 SIM_4K, SIM_4K, SIM_ALL), 0);
	fill(s, AHV_SPACE_GVA, v1g + SIM_1G - 300, 600);
	assert_status(attest1(s, 2, AHV_SPACE_GVA, v1g + SIM_1G - 300, 600), AHV_OK,
		      AHV_OBJ_NONE, 0);
	rm(s);
}

/* Nested leaves of 4K (default map), 2M, and 1G. */
static void t_nested_page_sizes(void **st)
{
	(void)st;
	for (int f = 0; f < 2; f++) {
		uint32_t fmt = f ? AHV_NESTED_NPT : AHV_NESTED_EPT;
		struct sim_cfg c4 = { .nested_page = SIM_4K, .nested_format = fmt };
		struct sim *s = mk(&c4);
		uint64_t gva = sim_alloc_gva(s, 5 * 4096, 10, SIM_URW);

		fill(s, AHV_SPACE_GVA, gva, 5 * 4096);
		assert_status(attest1(s, 1, AHV_SPACE_GVA, gva, 5 * 4096), AHV_OK,
			      AHV_OBJ_NONE, 0);
		rm(s);

		/* 1 GiB nested page GPA [8G, 9G) -> HPA [5G, 6G); only the
		 * first guest_ram bytes of it are RAM. The guest maps a 2 MiB
		 * page onto GPA 8G + 2M. */
		struct sim_cfg c1 = { .nested_format = fmt };
		s = mk(&c1);
		assert_int_equal(sim_map(s, &s->npt, 8 * SIM_1G, SIM_GUEST_HPA, SIM_1G,
					 SIM_1G, SIM_ALL), 0);
		assert_int_equal(sim_map(s, &s->gpt, 0x80000000ull, 8 * SIM_1G + SIM_2M,
					 SIM_2M, SIM_2M, SIM_URW), 0);
		fill(s, AHV_SPACE_GVA, 0x80000000ull, SIM_2M);
		assert_status(attest1(s, 6, AHV_SPACE_GVA, 0x80000000ull + 1, SIM_2M - 2),
			      AHV_OK, AHV_OBJ_NONE, 0);
		/* and a GPA region (CPL0) crossing the end of RAM inside it */
		s->cpl = 0;
		assert_status(attest1(s, 1, AHV_SPACE_GPA, 8 * SIM_1G + s->cfg.guest_ram - 8, 16),
			      AHV_E_NOT_RAM, 0, 8 * SIM_1G + s->cfg.guest_ram);
		rm(s);
	}
}

static void t_aliased(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	uint8_t rep[AHV_REPORT_MAX_SIZE];

	(void)st;
	assert_int_equal(sim_map(s, &s->gpt, 0x7000000000ull, gpa, SIM_4K, SIM_4K, SIM_URW), 0);
	assert_int_equal(sim_map(s, &s->gpt, 0x7000100000ull, gpa, SIM_4K, SIM_4K, SIM_URW), 0);
	fill(s, AHV_SPACE_GVA, 0x7000000000ull, SIM_4K);
	struct sim_region r[3] = {
		{ 0x7000000000ull, SIM_4K, AHV_SPACE_GVA, 0, NULL },
		{ 0x7000100000ull, SIM_4K, AHV_SPACE_GVA, 0, NULL },
		{ 0x7000000000ull, SIM_4K, AHV_SPACE_GVA, 0, NULL }, /* twice */
	};
	assert_status(attest_n(s, 1, r, 3, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
	assert_memory_equal(rep + AHV_REPORT_RESULT_OFFSET(0) + 24,
			    rep + AHV_REPORT_RESULT_OFFSET(1) + 24, 32);
	rm(s);
}

static void t_zero_length(void **st)
{
	struct sim *s = mk(NULL);
	uint8_t rep[AHV_REPORT_MAX_SIZE], empty[32];

	(void)st;
	/* unmapped, non-canonical: nothing is named, nothing translated */
	struct sim_region r[2] = {
		{ 0xdead000000000000ull, 0, AHV_SPACE_GVA, 0, NULL },
		{ UINT64_MAX, 0, AHV_SPACE_GVA, 0, NULL },
	};
	assert_status(attest_n(s, 1, r, 2, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
	oracle_hash(1, "", 0, empty);
	assert_memory_equal(rep + AHV_REPORT_RESULT_OFFSET(0) + 24, empty, 32);
	rm(s);
}

/* 2^30 bytes in one region (a 1 GiB guest page over 2 MiB nested pages),
 * then one byte too many, alone and as a running sum. */
static void t_max_length(void **st)
{
	struct sim_cfg cfg = { .guest_ram = 2 * SIM_1G + (32ull << 20) };
	struct sim *s = mk(&cfg);
	uint64_t va = 4ull << 30;

	(void)st;
	/* The measured GPA [1G, 2G) holds no paging structure: neither those
	 * sim_init made below it nor those allocated from now on above it
	 * (the report write sets Accessed flags in the ones that map the
	 * report buffer, after the measurement and before the oracle reads). */
	s->gpa_next = 2 * SIM_1G;
	assert_int_equal(sim_map(s, &s->gpt, va, SIM_1G, SIM_1G, SIM_1G, SIM_URW), 0);
	fill(s, AHV_SPACE_GVA, va + 12345, 100); /* mostly zero pages */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, va, SIM_1G), AHV_OK, AHV_OBJ_NONE, 0);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, va, SIM_1G + 1), AHV_E_TOO_MANY_BYTES, 0, va);
	struct sim_region r[3] = {
		{ va, 1, AHV_SPACE_GVA, 0, NULL },
		{ va + 1, SIM_1G - 2, AHV_SPACE_GVA, 0, NULL },
		{ va + 7, 2, AHV_SPACE_GVA, 0, NULL },
	};
	assert_status(attest_n(s, 1, r, 3, 0, NULL), AHV_E_TOO_MANY_BYTES, 2, va + 7);
	/* a huge size must not overflow the running sum */
	r[2].size = UINT64_MAX - r[2].address + 1;
	r[2].address = 0xffffffff00000000ull;
	r[2].size = 0x100000000ull;
	assert_status(attest_n(s, 1, r, 3, 0, NULL), AHV_E_TOO_MANY_BYTES, 2, r[2].address);
	rm(s);
}

static void t_wrap_and_canonical(void **st)
{
	struct sim *s = mk(NULL);

	(void)st;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0xfffffffffffff000ull, 0x1001),
		      AHV_E_RANGE_WRAP, 0, 0xfffffffffffff000ull);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, UINT64_MAX, 2), AHV_E_RANGE_WRAP, 0,
		      UINT64_MAX);
	/* ends exactly at 2^64: no wrap, canonical, just not mapped */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0xfffffffffffff000ull, 0x1000),
		      AHV_E_NOT_PRESENT, 0, 0xfffffffffffff000ull);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x0000800000000000ull, 1),
		      AHV_E_NONCANONICAL, 0, 0x0000800000000000ull);
	/* both ends canonical, but across the hole (NONCANONICAL comes
	 * before TOO_MANY_BYTES, §5.2 step 9) */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x00007ffffffff000ull,
			      0xffff800000000000ull - 0x00007ffffffff000ull + 1),
		      AHV_E_NONCANONICAL, 0, 0x00007ffffffff000ull);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x00007ffffffff000ull, 0x2000),
		      AHV_E_NONCANONICAL, 0, 0x00007ffffffff000ull);
	/* GPA: canonical rules do not apply; the nested width does */
	s->cpl = 0;
	assert_status(attest1(s, 1, AHV_SPACE_GPA, 0x0000800000000000ull, 1),
		      AHV_E_NESTED_FAULT, 0, 0x0000800000000000ull);
	assert_status(attest1(s, 1, AHV_SPACE_GPA, UINT64_MAX - 1, 3), AHV_E_RANGE_WRAP, 0,
		      UINT64_MAX - 1);
	rm(s);
}

/* 5-level paging for the guest, for the nested tables, and both. */
static void t_five_level(void **st)
{
	(void)st;
	for (int v = 0; v < 4; v++) {
		struct sim_cfg cfg = {
			.guest_levels = (v & 1) ? 5 : 4,
			.nested_levels = (v & 2) ? 5 : 4,
			.nested_format = v == 3 ? AHV_NESTED_NPT : AHV_NESTED_EPT,
		};
		struct sim *s = mk(&cfg);
		uint64_t gpa = sim_alloc_gpa(s, 2 * SIM_4K, SIM_4K);
		/* with LA57, bits 56:48 select the PML5 entry */
		uint64_t va = (v & 1) ? 0x00ab000000001000ull : 0x0000700000001000ull;
		uint8_t rep[AHV_REPORT_MAX_SIZE];

		assert_int_equal(sim_map(s, &s->gpt, va, gpa, 2 * SIM_4K, SIM_4K, SIM_URW), 0);
		fill(s, AHV_SPACE_GVA, va, 2 * SIM_4K);
		struct sim_region r = { va + 3, 2 * SIM_4K - 6, AHV_SPACE_GVA, 0, NULL };
		assert_status(attest_n(s, 4, &r, 1, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
		assert_int_equal(rep[25], (v & 1) ? 5 : 4);
		if (v & 1) /* canonical for 57 bits, not for 48 */
			assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x0100000000000000ull, 1),
				      AHV_E_NONCANONICAL, 0, 0x0100000000000000ull);
		rm(s);
	}
}

/* ---- who may name what ------------------------------------------------- */

static void t_cpl_rules(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t user = sim_alloc_gva(s, SIM_4K, 0, SIM_URW);
	uint64_t kern = sim_alloc_gva(s, SIM_4K, 0, SIM_RW); /* U/S = 0 */
	uint64_t gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K);

	(void)st;
	fill(s, AHV_SPACE_GVA, user, SIM_4K);
	fill(s, AHV_SPACE_GVA, kern, SIM_4K);
	fill(s, AHV_SPACE_GPA, gpa, SIM_4K);
	/* CPL3: supervisor page, GPA */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, kern + 9, 5), AHV_E_NOT_USER, 0, kern + 9);
	assert_status(attest1(s, 1, AHV_SPACE_GPA, gpa, 5), AHV_E_PRIVILEGE, 0, gpa);
	/* an empty GPA region names nothing: rules 2-7 are vacuous (§4.3) */
	assert_status(attest1(s, 1, AHV_SPACE_GPA, gpa, 0), AHV_OK, AHV_OBJ_NONE, 0);
	/* U/S = 0 in a non-leaf entry (the PDE) refuses CPL3 too */
	uint64_t far = map_at(s, 0x200000000000ull, SIM_4K, SIM_URW);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, far, 5), AHV_OK, AHV_OBJ_NONE, 0);
	*sim_entry(s, &s->gpt, far, 2) &= ~4ull;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, far, 5), AHV_E_NOT_USER, 0, far);
	*sim_entry(s, &s->gpt, far, 4) &= ~4ull;
	*sim_entry(s, &s->gpt, far, 2) |= 4ull;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, far, 5), AHV_E_NOT_USER, 0, far);
	/* CPL0 may name all of it */
	s->cpl = 0;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, kern + 9, 5), AHV_OK, AHV_OBJ_NONE, 0);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, far, 5), AHV_OK, AHV_OBJ_NONE, 0);
	assert_status(attest1(s, 1, AHV_SPACE_GPA, gpa + 1, SIM_4K - 1), AHV_OK, AHV_OBJ_NONE, 0);
	/* CPL 1 and 2 are not served */
	s->cpl = 1;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, user, 5), AHV_E_BAD_MODE, AHV_OBJ_NONE, 0);
	rm(s);

	/* configuration without CPL3 service; without GPA regions */
	struct sim_cfg cfg = { .policy = AHV_POLICY_CPL3 };
	s = mk(&cfg);
	gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	s->cpl = 0;
	assert_status(attest1(s, 1, AHV_SPACE_GPA, gpa, 5), AHV_E_BAD_SPACE,
		      AHV_OBJ_REQUEST_FIELD, 96 + 16);
	rm(s);
	cfg.policy = AHV_POLICY_GPA_REGIONS;
	s = mk(&cfg);
	user = sim_alloc_gva(s, SIM_4K, 0, SIM_URW);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, user, 5), AHV_E_BAD_MODE, AHV_OBJ_NONE, 0);
	rm(s);
}

/* ---- guest paging faults --------------------------------------------------- */

static void t_guest_faults(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t gva = sim_alloc_gva(s, 4 * SIM_4K, 0, SIM_URW);
	uint64_t *pte2 = sim_entry(s, &s->gpt, gva + 2 * SIM_4K, 1);
	uint64_t keep = *pte2;

	(void)st;
	/* not present in the middle: the failing address is the page start */
	*pte2 = 0;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, gva + 100, 3 * SIM_4K),
		      AHV_E_NOT_PRESENT, 0, gva + 2 * SIM_4K);
	/* reserved: bit 51 (above MAXPHYADDR 46) */
	*pte2 = keep | (1ull << 51);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, gva + 2 * SIM_4K + 5, 1),
		      AHV_E_GUEST_RSVD, 0, gva + 2 * SIM_4K + 5);
	/* XD set while EFER.NXE = 0 */
	*pte2 = keep | (1ull << 63);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, gva, 3 * SIM_4K), AHV_OK, AHV_OBJ_NONE, 0);
	s->efer &= ~(1ull << 11);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, gva, 3 * SIM_4K), AHV_E_GUEST_RSVD, 0,
		      gva + 2 * SIM_4K);
	s->efer |= 1ull << 11;
	*pte2 = keep;
	/* PS in a PML4E is reserved (a PML4 slot of its own) */
	uint64_t far = map_at(s, 0x8000000000ull, SIM_4K, SIM_URW);
	uint64_t *pml4e = sim_entry(s, &s->gpt, far, 4);
	*pml4e |= 0x80;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, far, 1), AHV_E_GUEST_RSVD, 0, far);
	*pml4e &= ~0x80ull;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, far, 1), AHV_OK, AHV_OBJ_NONE, 0);
	/* PCID bits in CR3 are not part of the table address */
	s->cr3_flags = 0x5a5;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, gva, 4 * SIM_4K), AHV_OK, AHV_OBJ_NONE, 0);
	rm(s);

	/* large-page reserved bits and the 1 GiB capability */
	struct sim_cfg cfg = { .no_1g = true };
	s = mk(&cfg);
	uint64_t g = sim_alloc_gpa(s, SIM_2M, SIM_2M);
	assert_int_equal(sim_map(s, &s->gpt, 0x80000000ull, g, SIM_2M, SIM_2M, SIM_URW), 0);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x80000000ull, 64), AHV_OK, AHV_OBJ_NONE, 0);
	*sim_entry(s, &s->gpt, 0x80000000ull, 2) |= 1ull << 13; /* bits 20:13 */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x80000000ull, 64), AHV_E_GUEST_RSVD, 0,
		      0x80000000ull);
	*sim_entry(s, &s->gpt, 0x80000000ull, 2) &= ~(1ull << 13);
	*sim_entry(s, &s->gpt, 0x80000000ull, 2) |= 1ull << 12; /* PAT: fine */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x80000000ull, 64), AHV_OK, AHV_OBJ_NONE, 0);
	/* a 1 GiB leaf where the CPU has no Page1GB */
	uint64_t *pdpte = sim_entry(s, &s->gpt, 0x80000000ull, 3);
	*pdpte = 0x80 | 0x7; /* PS, GPA 0 */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x80000000ull, 64), AHV_E_GUEST_RSVD, 0,
		      0x80000000ull);
	rm(s);
}

/* ---- nested faults, non-RAM, hypervisor memory --------------------------- */

static void t_nested_faults(void **st)
{
	(void)st;
	for (int f = 0; f < 2; f++) {
		/* 4 KiB nested pages: one nested leaf per guest frame, so a
		 * test can break exactly one */
		struct sim_cfg cfg = { .nested_format = f ? AHV_NESTED_NPT : AHV_NESTED_EPT,
				       .nested_page = SIM_4K };
		struct sim *s = mk(&cfg);
		uint64_t va = 0x50000000ull, w = 16 * SIM_1G; /* a GPA window */
		uint64_t back = sim_alloc_gpa(s, 4 * SIM_4K, SIM_4K);

		/* guest page -> GPA in a window the nested tables map 4K-wise */
		for (int i = 0; i < 4; i++) {
			assert_int_equal(sim_map(s, &s->npt, w + i * SIM_4K,
						 SIM_GUEST_HPA + back + i * SIM_4K, SIM_4K,
						 SIM_4K, SIM_ALL), 0);
			assert_int_equal(sim_map(s, &s->gpt, va + i * SIM_4K, w + i * SIM_4K,
						 SIM_4K, SIM_4K, SIM_URW), 0);
		}
		fill(s, AHV_SPACE_GVA, va, 4 * SIM_4K);
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va, 4 * SIM_4K), AHV_OK,
			      AHV_OBJ_NONE, 0);
		uint64_t *ne = sim_entry(s, &s->npt, w + SIM_4K, 1);
		uint64_t keep = *ne;
		/* not readable: EPT execute-only / NPT not present */
		*ne = f ? (keep & ~1ull) : ((keep & ~7ull) | 4);
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + 10, 2 * SIM_4K),
			      AHV_E_NESTED_FAULT, 0, va + SIM_4K);
		/* EPT write-only (misconfiguration) / NPT U=0 (nested walks
		 * are user accesses) */
		*ne = f ? (keep & ~4ull) : ((keep & ~7ull) | 2);
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + 10, 2 * SIM_4K),
			      AHV_E_NESTED_FAULT, 0, va + SIM_4K);
		/* reserved memory type 2 (EPT) / bit 51 (NPT) */
		*ne = f ? (keep | (1ull << 51)) : ((keep & ~(7ull << 3)) | (2ull << 3));
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + SIM_4K, 1),
			      AHV_E_NESTED_FAULT, 0, va + SIM_4K);
		/* maps to the non-RAM hole, to MMIO, to hypervisor memory */
		*ne = (keep & ~0x000ffffffffff000ull) | SIM_HOLE_HPA;
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + SIM_4K, 1), AHV_E_NOT_RAM, 0,
			      va + SIM_4K);
		*ne = (keep & ~0x000ffffffffff000ull) | SIM_MMIO_HPA;
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + SIM_4K, 1), AHV_E_NOT_RAM, 0,
			      va + SIM_4K);
		*ne = (keep & ~0x000ffffffffff000ull) | (SIM_HPA_BASE + 0x3000);
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + SIM_4K, 1), AHV_E_HV_MEMORY, 0,
			      va + SIM_4K);
		/* ... also as a GPA region from CPL0 */
		s->cpl = 0;
		assert_status(attest1(s, 1, AHV_SPACE_GPA, w + SIM_4K + 1, 1), AHV_E_HV_MEMORY, 0,
			      w + SIM_4K + 1);
		s->cpl = 3;
		*ne = keep;

		/* the guest's own page table frame is not mapped in the nested
		 * tables: reported at the GVA being translated */
		uint64_t pt_gpa = *sim_entry(s, &s->gpt, va, 2) & 0x000ffffffffff000ull;
		uint64_t *nd = sim_entry(s, &s->npt, pt_gpa, 1);
		uint64_t nkeep = *nd;
		*nd = 0;
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + 3, 1), AHV_E_NESTED_FAULT, 0, va + 3);
		/* or maps it to the hypervisor's memory */
		*nd = (nkeep & ~0x000ffffffffff000ull) | SIM_HPA_BASE;
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + 3, 1), AHV_E_HV_MEMORY, 0, va + 3);
		*nd = nkeep;
		assert_status(attest1(s, 1, AHV_SPACE_GVA, va + 3, 1), AHV_OK, AHV_OBJ_NONE, 0);
		rm(s);
	}
}

/* ---- the request and report buffers ---------------------------------------- */

static void t_request_buffer(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t data = sim_alloc_gva(s, 100, 0, SIM_URW);
	struct sim_region r = { data, 100, AHV_SPACE_GVA, 0, NULL };
	uint8_t req[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE];
	size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	struct ahv_hc_regs o;

	(void)st;
	fill(s, AHV_SPACE_GVA, data, 100);
	/* request crossing a page boundary, pages physically out of order */
	uint64_t gpa = sim_alloc_gpa(s, 2 * SIM_4K, SIM_4K), va = 0x60000000ull;
	assert_int_equal(sim_map(s, &s->gpt, va, gpa + SIM_4K, SIM_4K, SIM_4K, SIM_URW), 0);
	assert_int_equal(sim_map(s, &s->gpt, va + SIM_4K, gpa, SIM_4K, SIM_4K, SIM_URW), 0);
	uint64_t rq = va + SIM_4K - 100;
	uint64_t rp = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 4096);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	assert_int_equal(o.rsi, 4096); /* preserved */
	sim_read(s, AHV_SPACE_GVA, rp, rep, o.rbx);
	check_report(s, req, len, rep);

	/* length out of range, length != total_size */
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, 319, rp, 4096);
	assert_status(o, AHV_E_REQUEST_SIZE, AHV_OBJ_NONE, 0);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, AHV_REQUEST_MAX_SIZE + 1, rp, 4096);
	assert_status(o, AHV_E_REQUEST_SIZE, AHV_OBJ_NONE, 0);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len + 96, rp, 4096);
	assert_status(o, AHV_E_REQUEST_SIZE, AHV_OBJ_REQUEST_FIELD, 8);
	/* second page of the request not present / supervisor-only */
	uint64_t *pte = sim_entry(s, &s->gpt, va + SIM_4K, 1), keep = *pte;
	*pte = 0;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 4096);
	assert_status(o, AHV_E_NOT_PRESENT, AHV_OBJ_REQUEST_BUFFER, va + SIM_4K);
	*pte = keep & ~4ull;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 4096);
	assert_status(o, AHV_E_NOT_USER, AHV_OBJ_REQUEST_BUFFER, va + SIM_4K);
	*pte = keep;
	/* wrapping, non-canonical request buffers */
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, UINT64_MAX - 10, len, rp, 4096);
	assert_status(o, AHV_E_RANGE_WRAP, AHV_OBJ_REQUEST_BUFFER, UINT64_MAX - 10);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, 0x0000800000000000ull, len, rp, 4096);
	assert_status(o, AHV_E_NONCANONICAL, AHV_OBJ_REQUEST_BUFFER, 0x0000800000000000ull);
	rm(s);
}

static void t_report_buffer(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t data = sim_alloc_gva(s, 100, 0, SIM_URW);
	struct sim_region r = { data, 100, AHV_SPACE_GVA, 0, NULL };
	uint8_t req[AHV_REQUEST_MAX_SIZE], before[AHV_REPORT_MAX_SIZE],
		after[AHV_REPORT_MAX_SIZE];
	size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	uint64_t rq = sim_alloc_gva(s, len, 0, SIM_URW);
	/* report buffer crossing a page; second page read-only */
	uint64_t rp = sim_alloc_gva(s, 2 * SIM_4K, 4096 - 300, SIM_URW);
	uint64_t p2 = rp + 300;
	uint64_t *pte = sim_entry(s, &s->gpt, p2, 1), keep = *pte;
	struct ahv_hc_regs o;

	(void)st;
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	fill(s, AHV_SPACE_GVA, rp, AHV_REPORT_SIZE(1));
	sim_read(s, AHV_SPACE_GVA, rp, before, AHV_REPORT_SIZE(1));
	*pte = keep & ~2ull;
	uint64_t c0 = s->core.counter;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 8192);
	assert_status(o, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER, p2);
	assert_int_equal(s->core.counter, c0); /* no counter value consumed */
	sim_read(s, AHV_SPACE_GVA, rp, after, AHV_REPORT_SIZE(1));
	assert_memory_equal(before, after, AHV_REPORT_SIZE(1));
	/* CPL0 too: R/W is checked regardless of CR0.WP */
	s->cpl = 0;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 8192);
	assert_status(o, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER, p2);
	s->cpl = 3;
	*pte = keep;
	/* nested write protection */
	uint64_t gpa;
	assert_true(sim_model_xlate(&s->gpt, p2, &gpa));
	uint64_t *ne = sim_entry(s, &s->npt, gpa, 2), nkeep = *ne;
	*ne &= ~2ull; /* a 2 MiB nested leaf: both pages of the buffer */
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 8192);
	assert_status(o, AHV_E_NESTED_FAULT, AHV_OBJ_OUTPUT_BUFFER, rp);
	*ne = nkeep;
	/* capacity */
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_SIZE(1) - 1);
	assert_int_equal(o.rax, AHV_E_BUFFER_TOO_SMALL);
	assert_int_equal(o.rbx, AHV_REPORT_SIZE(1));
	assert_int_equal(o.rdx, AHV_OBJ_OUTPUT_BUFFER);
	/* only the bytes written are checked: a capacity reaching into an
	 * unmapped page is fine */
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 1u << 20);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	sim_read(s, AHV_SPACE_GVA, rp, after, o.rbx);
	check_report(s, req, len, after);
	rm(s);
}

/* ---- authentication --------------------------------------------------------- */

static void t_signatures(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t data = sim_alloc_gva(s, 100, 0, SIM_URW);
	struct sim_region r = { data, 100, AHV_SPACE_GVA, 0, NULL };
	uint8_t req[AHV_REQUEST_MAX_SIZE];
	size_t len, tail = AHV_REQUEST_TAIL_OFFSET(1);

	(void)st;
	/* P-384 guest key works */
	len = sim_request(req, 2, nonce8, 8, &r, 1, &s->guest_key[1], &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_OK, AHV_OBJ_NONE, 0);
	/* forged: a signed byte changed after signing */
	len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	req[100] ^= 1;
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_BAD_SIGNATURE,
		      AHV_OBJ_REQUEST_FIELD, AHV_REQUEST_SIG_OFFSET(1));
	/* s out of range / zero signature */
	req[100] ^= 1;
	memset(req + AHV_REQUEST_SIG_OFFSET(1), 0, 64);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_BAD_SIGNATURE,
		      AHV_OBJ_REQUEST_FIELD, AHV_REQUEST_SIG_OFFSET(1));
	memset(req + AHV_REQUEST_SIG_OFFSET(1), 0xff, 64);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_BAD_SIGNATURE,
		      AHV_OBJ_REQUEST_FIELD, AHV_REQUEST_SIG_OFFSET(1));
	/* a key that is not enrolled */
	len = sim_request(req, 1, nonce8, 8, &r, 1, &s->stranger_key, &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_UNKNOWN_KEY,
		      AHV_OBJ_REQUEST_FIELD, tail);
	/* signed by the stranger, naming an enrolled key: wrong key */
	memcpy(req + tail, s->enrolled[0].key_id, 32);
	sim_resign(req, &s->stranger_key, &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_BAD_SIGNATURE,
		      AHV_OBJ_REQUEST_FIELD, AHV_REQUEST_SIG_OFFSET(1));
	/* sig_alg P-256 but the named key is P-384 */
	memcpy(req + tail, s->enrolled[1].key_id, 32);
	sim_resign(req, &s->stranger_key, &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_KEY_MISMATCH,
		      AHV_OBJ_REQUEST_FIELD, 18);
	/* nothing about the regions is looked at before authentication */
	struct sim_region bad = { UINT64_MAX, 5, AHV_SPACE_GVA, 0, NULL };
	len = sim_request(req, 1, nonce8, 8, &bad, 1, &s->stranger_key, &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_UNKNOWN_KEY,
		      AHV_OBJ_REQUEST_FIELD, tail);
	rm(s);
}

/* ---- parsing: every field, its status, its offset ------------------------ */

struct mutation {
	size_t off;
	unsigned width;
	uint64_t value;
	uint32_t status;
	uint64_t rcx;
};

static void put(uint8_t *p, unsigned width, uint64_t v)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void t_parse_fields(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t data = sim_alloc_gva(s, 100, 0, SIM_URW);
	struct sim_region r = { data, 100, AHV_SPACE_GVA, 0, NULL };
	const size_t R = AHV_REQUEST_REGION_OFFSET(0), SIG = AHV_REQUEST_SIG_OFFSET(1);
	const struct mutation m[] = {
		{ 0, 4, 0x51564842, AHV_E_BAD_MAGIC, 0 },
		{ 4, 2, 2, AHV_E_BAD_VERSION, 4 },
		{ 4, 2, 0, AHV_E_BAD_VERSION, 4 },
		{ 6, 2, AHV_WIRE_VERSION_MINOR + 1, AHV_E_BAD_VERSION, 6 },
		{ 8, 4, 416, AHV_E_REQUEST_SIZE, 8 },
		{ 12, 4, 1u << 31, AHV_E_RESERVED, 12 },
		{ 16, 2, 0, AHV_E_BAD_HASH_ALG, 16 },
		{ 16, 2, 7, AHV_E_BAD_HASH_ALG, 16 },
		{ 18, 2, 0, AHV_E_BAD_SIG_ALG, 18 },
		{ 18, 2, 3, AHV_E_BAD_SIG_ALG, 18 },
		{ 20, 2, 0, AHV_E_BAD_REGION_COUNT, 20 },
		{ 20, 2, 65, AHV_E_BAD_REGION_COUNT, 20 },
		{ 20, 2, 2, AHV_E_REQUEST_SIZE, 8 },
		{ 22, 2, 7, AHV_E_BAD_NONCE_LEN, 22 },
		{ 22, 2, 65, AHV_E_BAD_NONCE_LEN, 22 },
		{ 24, 8, 1ull << 60, AHV_E_RESERVED, 24 },
		{ 32 + 8, 1, 1, AHV_E_RESERVED, 40 },
		{ 32 + 63, 1, 1, AHV_E_RESERVED, 40 },
		{ R + 16, 4, 0, AHV_E_BAD_SPACE, R + 16 },
		{ R + 16, 4, 3, AHV_E_BAD_SPACE, R + 16 },
		{ R + 20, 4, 2, AHV_E_RESERVED, R + 20 },
		{ R + 24 + 5, 1, 1, AHV_E_RESERVED, R + 24 },   /* no claim: all 0 */
		{ R + 88, 8, 1, AHV_E_RESERVED, R + 88 },
		{ SIG + 64, 1, 1, AHV_E_RESERVED, SIG + 64 },
		{ SIG + 95, 1, 1, AHV_E_RESERVED, SIG + 64 },
	};
	uint8_t req[AHV_REQUEST_MAX_SIZE];

	(void)st;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);

		put(req + m[i].off, m[i].width, m[i].value);
		if (m[i].off < SIG)
			sim_resign(req, &s->guest_key[0], &s->drbg); /* parse first */
		print_message("mutation %zu\n", i);
		assert_status(sim_attest(s, req, len, 0, NULL), m[i].status,
			      AHV_OBJ_REQUEST_FIELD, m[i].rcx);
	}
	/* claim tail: SHA-256 claim uses 32 bytes; byte 32 must be 0 */
	uint8_t claim[64] = { 1 };
	struct sim_region rc = { data, 100, AHV_SPACE_GVA, 0, claim };
	size_t len = sim_request(req, 1, nonce8, 8, &rc, 1, &s->guest_key[0], &s->drbg);
	req[R + 24 + 32] = 1;
	sim_resign(req, &s->guest_key[0], &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_RESERVED,
		      AHV_OBJ_REQUEST_FIELD, R + 24 + 32);
	/* two faults: the first in offset order wins */
	len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	put(req + 22, 2, 99);
	put(req + 16, 2, 99);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_E_BAD_HASH_ALG,
		      AHV_OBJ_REQUEST_FIELD, 16);
	/* minor version 0 request to a 1.0 hypervisor; 64-byte nonce */
	uint8_t n64[64];
	memset(n64, 0xab, 64);
	len = sim_request(req, 1, n64, 64, &r, 1, &s->guest_key[0], &s->drbg);
	assert_status(sim_attest(s, req, len, 0, NULL), AHV_OK, AHV_OBJ_NONE, 0);
	rm(s);
}

/* ---- call level ------------------------------------------------------------- */

static void t_call_level(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t buf = sim_alloc_gva(s, 4096, 0, SIM_URW);
	struct ahv_hc_regs o;

	(void)st;
	o = sim_call(s, 0x41480003, buf, 4096, 0, 77);
	assert_status(o, AHV_E_BAD_FUNCTION, AHV_OBJ_NONE, 0);
	assert_int_equal(o.rsi, 77);
	o = sim_call(s, (1ull << 32) | AHV_HC_GET_INFO, buf, 4096, 0, 0);
	assert_status(o, AHV_E_BAD_FUNCTION, AHV_OBJ_NONE, 0);
	/* not 64-bit mode: compatibility mode (CS.L = 0), paging off */
	s->cs_l = false;
	assert_status(sim_call(s, AHV_HC_GET_INFO, buf, 4096, 0, 0), AHV_E_BAD_MODE,
		      AHV_OBJ_NONE, 0);
	s->cs_l = true;
	s->efer &= ~(1ull << 10);
	assert_status(sim_call(s, AHV_HC_GET_INFO, buf, 4096, 0, 0), AHV_E_BAD_MODE,
		      AHV_OBJ_NONE, 0);
	s->efer |= 1ull << 10;
	s->cpl = 2;
	assert_status(sim_call(s, AHV_HC_GET_INFO, buf, 4096, 0, 0), AHV_E_BAD_MODE,
		      AHV_OBJ_NONE, 0);
	s->cpl = 3;
	/* engine busy on another CPU */
	s->core.busy = 1;
	assert_status(sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, buf, 320, buf, 4096),
		      AHV_E_BUSY, AHV_OBJ_NONE, 0);
	s->core.busy = 0;
	/* CPUID leaves */
	uint32_t c[4];
	assert_true(ahv_core_cpuid(&s->core, 0x40000000, c));
	assert_int_equal(c[0], 0x40000001);
	assert_memory_equal(&c[1], "AttestHVisor", 12);
	assert_true(ahv_core_cpuid(&s->core, 0x40000001, c));
	assert_int_equal(c[0], 0x00010001);
	assert_int_equal(c[1], AHV_FEAT_ATTEST | AHV_FEAT_GET_INFO | AHV_FEAT_GPA_REGIONS |
			       AHV_FEAT_SHA3 | AHV_FEAT_SEALED_KEY | AHV_FEAT_WATCH);
	assert_int_equal(c[3], AHV_BACKEND_VMX);
	assert_true(ahv_core_cpuid(&s->core, 0x40000005, c));
	assert_int_equal(c[0] | c[1] | c[2] | c[3], 0);
	assert_false(ahv_core_cpuid(&s->core, 0x0, c));
	rm(s);
}

static void t_no_key_and_info(void **st)
{
	struct sim_cfg cfg = { .no_key = true, .plat_flags = AHV_PLAT_DEBUG };
	struct sim *s = mk(&cfg);
	uint64_t buf = sim_alloc_gva(s, 2 * 4096, 4000, SIM_URW); /* crosses a page */
	struct ahv_hv_info info;
	struct ahv_hc_regs o;

	(void)st;
	assert_status(sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, buf, 320, buf, 4096),
		      AHV_E_NO_KEY, AHV_OBJ_NONE, 0);
	o = sim_call(s, AHV_HC_GET_INFO, buf, 383, 0, 0);
	assert_int_equal(o.rax, AHV_E_BUFFER_TOO_SMALL);
	assert_int_equal(o.rbx, 384);
	o = sim_call(s, AHV_HC_GET_INFO, buf, 384, 0, 0);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	assert_int_equal(o.rbx, 384);
	sim_read(s, AHV_SPACE_GVA, buf, &info, sizeof(info));
	assert_int_equal(info.magic, AHV_INFO_MAGIC);
	assert_int_equal(info.sig_alg, 0);
	assert_int_equal(info.spki_len, 0);
	assert_int_equal(info.features & AHV_FEAT_ATTEST, 0);
	assert_int_equal(info.flags, AHV_REPORT_F_DEBUG | AHV_REPORT_F_TIME_INVALID);
	assert_int_equal(info.timestamp_ns, 0);
	rm(s);

	s = mk(NULL);
	buf = sim_alloc_gva(s, 4096, 0, SIM_URW);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, buf, 10), AHV_OK, AHV_OBJ_NONE, 0);
	o = sim_call(s, AHV_HC_GET_INFO, buf, 4096, 0, 0);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	sim_read(s, AHV_SPACE_GVA, buf, &info, sizeof(info));
	uint8_t spki[128] = { 0 }, id[32];
	size_t n;
	assert_int_equal(ahv_spki_write_der(&s->hv_key.pub, spki, sizeof(spki), &n), 0);
	assert_int_equal(info.spki_len, n);
	assert_int_equal(n, 91);
	assert_memory_equal(info.hv_spki, spki, 128);
	oracle_key_id(&s->hv_key.pub, id);
	assert_memory_equal(info.hv_key_id, id, 32);
	assert_int_equal(info.sig_alg, AHV_SIG_ECDSA_P256_SHA256);
	assert_int_equal(info.hash_alg_mask, 0x7e);
	assert_int_equal(info.report_counter, 1);
	assert_int_equal(info.max_request_size, 6368);
	assert_int_equal(info.max_report_size, 6176);
	assert_int_equal(info.guest_key_count, 2);
	assert_int_equal(info.vcpu_count, 3); /* sim.c: three CPUs under the hypervisor */
	assert_true(info.timestamp_ns > 1700000000ull * 1000000000ull);
	/* read-only info buffer */
	*sim_entry(s, &s->gpt, buf, 1) &= ~2ull;
	assert_status(sim_call(s, AHV_HC_GET_INFO, buf + 8, 4096, 0, 0), AHV_E_NOT_WRITABLE,
		      AHV_OBJ_OUTPUT_BUFFER, buf + 8);
	rm(s);
}

/* ---- claims, counter, P-384 hypervisor key, time limit -------------------- */

static void t_claims_counter(void **st)
{
	struct sim_cfg cfg = { .hv_curve = AHV_CURVE_P384 };
	struct sim *s = mk(&cfg);
	uint64_t gva = sim_alloc_gva(s, 500, 0, SIM_URW);
	uint8_t good[64] = { 0 }, bad[64] = { 0 }, rep[AHV_REPORT_MAX_SIZE];
	struct ahv_report_hdr h;

	(void)st;
	fill(s, AHV_SPACE_GVA, gva, 500);
	assert_true(oracle_region(s, 5, AHV_SPACE_GVA, gva, 500, good));
	memcpy(bad, good, 48);
	bad[47] ^= 0x80;
	struct sim_region r[2] = {
		{ gva, 500, AHV_SPACE_GVA, 0, good },
		{ gva, 500, AHV_SPACE_GVA, 0, NULL },
	};
	assert_status(attest_n(s, 5, r, 2, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
	memcpy(&h, rep, sizeof(h));
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.counter, 1);
	assert_int_equal(rep[AHV_REPORT_RESULT_OFFSET(0) + 20], 3); /* CLAIMED|MATCH */
	assert_int_equal(rep[AHV_REPORT_RESULT_OFFSET(1) + 20], 0);
	r[1].claim = bad;
	assert_status(attest_n(s, 5, r, 2, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
	memcpy(&h, rep, sizeof(h));
	assert_int_equal(h.flags, AHV_REPORT_F_CLAIM_MISMATCH);
	assert_int_equal(h.counter, 2);
	assert_int_equal(rep[AHV_REPORT_RESULT_OFFSET(1) + 20], 1); /* CLAIMED */
	/* a failed call consumes no counter value */
	assert_status(attest1(s, 1, AHV_SPACE_GVA, 0x0000900000000000ull, 1),
		      AHV_E_NONCANONICAL, 0, 0x0000900000000000ull);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, gva, 1), AHV_OK, AHV_OBJ_NONE, 0);
	assert_int_equal(s->core.counter, 3);
	rm(s);
}

/* A hypervisor that took no IOMMU says so in every report and in GET_INFO
 * (protocol.md §8.3, docs/iommu.md); one that did never does (above). */
static void t_dma_unprotected_flag(void **st)
{
	struct sim_cfg cfg = { .plat_flags = AHV_PLAT_TIME_VALID | AHV_PLAT_DMA_UNPROTECTED };
	struct sim *s = mk(&cfg);
	uint64_t gva = sim_alloc_gva(s, 4096, 0, SIM_URW);
	uint8_t rep[AHV_REPORT_MAX_SIZE];
	struct ahv_report_hdr h;
	struct ahv_hv_info info;

	struct sim_region r = { .address = gva, .size = 64, .space = AHV_SPACE_GVA };

	(void)st;
	assert_status(attest_n(s, 1, &r, 1, 0, rep), AHV_OK, AHV_OBJ_NONE, 0);
	memcpy(&h, rep, sizeof(h));
	assert_int_equal(h.magic, AHV_REPORT_MAGIC);
	assert_int_equal(h.flags, AHV_REPORT_F_DMA_UNPROTECTED);
	assert_status(sim_call(s, AHV_HC_GET_INFO, gva, 384, 0, 0), AHV_OK, AHV_OBJ_NONE, 0);
	sim_read(s, AHV_SPACE_GVA, gva, &info, sizeof(info));
	assert_int_equal(info.flags, AHV_REPORT_F_DMA_UNPROTECTED);
	rm(s);
}

static void t_time_limit(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t gva = sim_alloc_gva(s, 64 * SIM_4K, 0, SIM_URW);
	struct ahv_hc_regs o;

	(void)st;
	/* the clock jumps by 16 s after a few reads: deterministic, untimed */
	s->jump_after = 4;
	s->jump_ns = 16ull * 1000000000ull;
	struct sim_region r[2] = {
		{ gva, 1, AHV_SPACE_GVA, 0, NULL },
		{ gva + 1, 64 * SIM_4K - 1, AHV_SPACE_GVA, 0, NULL },
	};
	o = attest_n(s, 1, r, 2, 0, NULL);
	assert_int_equal(o.rax, AHV_E_TIME_LIMIT);
	assert_true(o.rdx <= 1);
	assert_true(o.rcx >= gva && o.rcx < gva + 64 * SIM_4K);
	assert_int_equal(s->core.counter, 0);
	/* exactly at the limit is still fine */
	s->jump_after = 0;
	s->step = 0;
	assert_status(attest_n(s, 1, r, 2, 0, NULL), AHV_OK, AHV_OBJ_NONE, 0);
	rm(s);
}

/* The request is read once: scribbling over it while the engine works (as
 * another vCPU could) changes nothing. */
static uint64_t scribble_at;
static unsigned scribble_maps;
static void scribble(struct sim *s, uint64_t hpa, uint64_t len)
{
	(void)hpa;
	/* mappings longer than a table entry: 1st = the request copy, 2nd =
	 * the first run hashed; scribble right after the copy */
	if (len > 8 && ++scribble_maps == 2) {
		uint8_t junk[AHV_REQUEST_MIN_SIZE];
		memset(junk, 0xee, sizeof(junk));
		sim_write(s, AHV_SPACE_GVA, scribble_at, junk, sizeof(junk));
	}
}

static void t_double_fetch(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t gva = sim_alloc_gva(s, 5000, 0, SIM_URW);
	struct sim_region r = { gva, 5000, AHV_SPACE_GVA, 0, NULL };
	uint8_t req[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE];
	size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	uint64_t rq = sim_alloc_gva(s, len, 0, SIM_URW);
	uint64_t rp = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	struct ahv_hc_regs o;

	(void)st;
	fill(s, AHV_SPACE_GVA, gva, 5000);
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	scribble_at = rq;
	scribble_maps = 0;
	s->hook = scribble;
	s->map_calls = 0;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, 8192);
	s->hook = NULL;
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	sim_read(s, AHV_SPACE_GVA, rp, rep, o.rbx);
	check_report(s, req, len, rep); /* request_digest of the original */
	uint8_t now[AHV_REQUEST_MIN_SIZE];
	sim_read(s, AHV_SPACE_GVA, rq, now, sizeof(now));
	assert_int_equal(now[0], 0xee); /* the scribble did happen */
	rm(s);
}

/* protocol.md §12.2, the worked composite example, through the engine's
 * composite function and through the oracle. */
static void t_composite_example(void **st)
{
	uint8_t rep[AHV_REPORT_SIZE(2)] = { 0 }, out[64];
	struct ahv_report_hdr h = { .hash_alg = 1, .region_count = 2 };
	struct ahv_region_result r0 = { .address = 0x00007f0000001000ull, .size = 3, .space = 1 };
	struct ahv_region_result r1 = { .address = 0x100000, .size = 0, .space = 2 };
	static const uint8_t want[32] = {
		0xea, 0x39, 0x04, 0x2e, 0xee, 0x74, 0xd4, 0xb2, 0x53, 0x60, 0xb7,
		0xa0, 0x74, 0x9a, 0xef, 0x8d, 0x52, 0x64, 0x1a, 0x06, 0xac, 0xdf,
		0x91, 0x14, 0x36, 0x7f, 0x01, 0xa7, 0x3f, 0x53, 0x8b, 0x4c };

	(void)st;
	for (int i = 0; i < 32; i++)
		h.request_digest[i] = (uint8_t)i;
	oracle_hash(1, "abc", 3, r0.digest);
	oracle_hash(1, "", 0, r1.digest);
	memcpy(rep, &h, sizeof(h));
	memcpy(rep + AHV_REPORT_RESULT_OFFSET(0), &r0, sizeof(r0));
	memcpy(rep + AHV_REPORT_RESULT_OFFSET(1), &r1, sizeof(r1));
	assert_int_equal(ahv_composite_digest(rep, out), 0);
	assert_memory_equal(out, want, 32);
	oracle_composite(rep, out);
	assert_memory_equal(out, want, 32);
}

/* ---- protection keys and the report's Dirty flags (protocol.md §4.3, §4.4) - */

#define T_CR4_PKE (1ull << 22)          /* SDM Vol. 3A §2.5 */
#define T_PKEY(k) ((uint64_t)(k) << 59) /* leaf bits 62:59, SDM §4.6.2 */
#define T_AD(k) (1u << (2 * (k)))       /* PKRU.ADk */
#define T_WD(k) (2u << (2 * (k)))       /* PKRU.WDk */

static void t_protection_keys(void **st)
{
	struct sim *s = mk(NULL);
	uint64_t data = sim_alloc_gva(s, SIM_4K, 0, SIM_URW);
	uint64_t *pte = sim_entry(s, &s->gpt, data, 1);
	struct sim_region r = { .address = data, .size = 1, .space = AHV_SPACE_GVA };
	uint8_t req[AHV_REQUEST_MAX_SIZE], before[AHV_REPORT_MAX_SIZE], after[AHV_REPORT_MAX_SIZE];
	size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	uint64_t rq = sim_alloc_gva(s, len, 0, SIM_URW);
	uint64_t rp = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	uint64_t *rq_pte = sim_entry(s, &s->gpt, rq, 1), *rp_pte = sim_entry(s, &s->gpt, rp, 1);
	struct ahv_hc_regs o;

	(void)st;
	fill(s, AHV_SPACE_GVA, data, SIM_4K);
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	*pte |= T_PKEY(5);
	s->cr4 |= T_CR4_PKE;
	/* AD for the data page's key: a 1-byte region is no digest oracle */
	s->pkru = T_AD(5);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, data + 7, 1), AHV_E_NOT_USER, 0, data + 7);
	/* WD alone still lets the page be read; other keys' AD do not matter */
	s->pkru = T_WD(5) | T_AD(4) | T_AD(6);
	assert_status(attest1(s, 1, AHV_SPACE_GVA, data + 7, 1), AHV_OK, AHV_OBJ_NONE, 0);
	/* PKRU is ignored while CR4.PKE = 0 (SDM Vol. 3A §4.6.2) */
	s->pkru = T_AD(5);
	s->cr4 &= ~T_CR4_PKE;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, data + 7, 1), AHV_OK, AHV_OBJ_NONE, 0);
	s->cr4 |= T_CR4_PKE;
	/* a CPL0 caller controls PKRU itself: keys are not consulted (§4.3) */
	s->cpl = 0;
	assert_status(attest1(s, 1, AHV_SPACE_GVA, data + 7, 1), AHV_OK, AHV_OBJ_NONE, 0);
	s->cpl = 3;
	/* the request buffer is read at CPL3 too */
	*pte &= ~T_PKEY(15);
	*rq_pte |= T_PKEY(3);
	s->pkru = T_AD(3);
	fill(s, AHV_SPACE_GVA, rp, AHV_REPORT_MAX_SIZE);
	sim_read(s, AHV_SPACE_GVA, rp, before, AHV_REPORT_MAX_SIZE);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_NOT_USER, AHV_OBJ_REQUEST_BUFFER, rq);
	/* the report write obeys WD, and AD */
	*rp_pte |= T_PKEY(9);
	s->pkru = T_WD(9) | T_WD(3);
	uint64_t c0 = s->core.counter;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER, rp);
	s->pkru = T_AD(9);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_NOT_USER, AHV_OBJ_OUTPUT_BUFFER, rp);
	assert_int_equal(s->core.counter, c0);
	sim_read(s, AHV_SPACE_GVA, rp, after, AHV_REPORT_MAX_SIZE);
	assert_memory_equal(before, after, AHV_REPORT_MAX_SIZE);
	/* GET_INFO writes like a report */
	s->pkru = T_WD(9);
	o = sim_call(s, AHV_HC_GET_INFO, rp, AHV_HV_INFO_SIZE, 0, 0);
	assert_status(o, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER, rp);
	s->pkru = 0;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	rm(s);
}

/* A and D as the CPU's own write of the report would leave them (SDM
 * Vol. 3A §4.8), and the entries' frames checked like any guest write. */
static void t_report_dirty(void **st)
{
	struct sim_cfg cfg = { .nested_page = SIM_4K };
	struct sim *s = mk(&cfg);
	uint64_t data = sim_alloc_gva(s, 64, 0, SIM_URW);
	struct sim_region r = { .address = data, .size = 64, .space = AHV_SPACE_GVA };
	uint8_t req[AHV_REQUEST_MAX_SIZE];
	size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	uint64_t rq = sim_alloc_gva(s, len, 0, SIM_URW);
	/* a report crossing into a second page */
	uint64_t rp = sim_alloc_gva(s, 2 * SIM_4K, SIM_4K - 100, SIM_URW);
	const uint64_t A = 1u << 5, D = 1u << 6;
	struct ahv_hc_regs o;

	(void)st;
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	for (uint64_t p = rp; p < rp + 200; p += SIM_4K)
		for (unsigned l = 1; l <= s->gpt.levels; l++)
			*sim_entry(s, &s->gpt, p, l) &= ~(A | D);
	*sim_entry(s, &s->gpt, data, 1) &= ~(A | D);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	for (uint64_t p = rp; p < rp + 200; p += SIM_4K) {
		assert_int_equal(*sim_entry(s, &s->gpt, p, 1) & (A | D), A | D);
		for (unsigned l = 2; l <= s->gpt.levels; l++)
			assert_int_equal(*sim_entry(s, &s->gpt, p, l) & A, A);
	}
	/* reads set nothing (§4.3: the measured pages' flags are the guest's) */
	assert_int_equal(*sim_entry(s, &s->gpt, data, 1) & (A | D), 0);
	/* the report page's page table write-protected in the nested tables:
	 * the flag update is a write the CPU could not do either */
	uint64_t *pte = sim_entry(s, &s->gpt, rp, 1);
	uint64_t table_gpa = SIM_HPA_BASE + (uint64_t)((uint8_t *)pte - s->mem) - SIM_GUEST_HPA;
	uint64_t *ne = sim_entry(s, &s->npt, table_gpa & ~(SIM_4K - 1), 1);
	assert_non_null(ne);
	*ne &= ~2ull;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_NESTED_FAULT, AHV_OBJ_OUTPUT_BUFFER, rp);
	*ne |= 2ull;
	rm(s);
}

/* ---- the SMP stop: after every check, around the measurement (item 6) ---- */

struct stop_probe {
	struct sim *s;
	unsigned stops, resumes;
	int fail;            /* stop() answers this */
	uint64_t poke;       /* GVA rewritten by stop(), as a vCPU would just before */
	uint64_t *move_pte;  /* a PTE stop() points at move_to (a remap in flight) */
	uint64_t move_to;
};

static int probe_stop(void *arg)
{
	struct stop_probe *p = arg;

	p->stops++;
	if (p->fail)
		return p->fail;
	if (p->poke)
		fill(p->s, AHV_SPACE_GVA, p->poke, 64);
	if (p->move_pte)
		*p->move_pte = (*p->move_pte & ~UINT64_C(0x000ffffffffff000)) | p->move_to;
	return 0;
}

static void probe_resume(void *arg)
{
	((struct stop_probe *)arg)->resumes++;
}

static void t_stop_order(void **st)
{
	struct sim *s = mk(NULL);
	struct stop_probe p = { .s = s };
	const struct ahv_quiesce q = { probe_stop, probe_resume, &p };
	uint64_t data = sim_alloc_gva(s, 64, 0, SIM_URW);
	struct sim_region r = { .address = data, .size = 64, .space = AHV_SPACE_GVA };
	uint8_t req[AHV_REQUEST_MAX_SIZE], bad[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE],
		before[AHV_REPORT_MAX_SIZE];
	size_t len = sim_request(req, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	uint64_t rq = sim_alloc_gva(s, len, 0, SIM_URW), rqbad = sim_alloc_gva(s, len, 0, SIM_URW);
	uint64_t rp = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	uint64_t ro = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	uint64_t info = sim_alloc_gva(s, AHV_HV_INFO_SIZE, 0, SIM_URW);
	struct ahv_hc_regs o;

	(void)st;
	s->quiesce = &q;
	fill(s, AHV_SPACE_GVA, data, 64);
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	*sim_entry(s, &s->gpt, ro, 1) &= ~2ull; /* read-only report buffer */
	/* refused without a stop: bogus function, CPL 1, GET_INFO, a request
	 * whose key is unknown, a bad signature, a bad region, a bad buffer */
	o = sim_call(s, 0x41480077, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_BAD_FUNCTION, AHV_OBJ_NONE, 0);
	s->cpl = 1;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_BAD_MODE, AHV_OBJ_NONE, 0);
	s->cpl = 3;
	o = sim_call(s, AHV_HC_GET_INFO, info, AHV_HV_INFO_SIZE, 0, 0);
	assert_int_equal(o.rax, AHV_OK);
	memcpy(bad, req, len);
	sim_resign(bad, &s->stranger_key, &s->drbg);
	sim_write(s, AHV_SPACE_GVA, rqbad, bad, len);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rqbad, len, rp, AHV_REPORT_MAX_SIZE);
	assert_int_equal(o.rax, AHV_E_BAD_SIGNATURE);
	memcpy(bad + AHV_REQUEST_TAIL_OFFSET(1), s->enrolled[1].key_id, AHV_KEY_ID_SIZE);
	sim_write(s, AHV_SPACE_GVA, rqbad, bad, len);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rqbad, len, rp, AHV_REPORT_MAX_SIZE);
	assert_int_equal(o.rax, AHV_E_KEY_MISMATCH);
	r.address = UINT64_C(0x0000800000000000); /* non-canonical */
	sim_request(bad, 1, nonce8, 8, &r, 1, &s->guest_key[0], &s->drbg);
	sim_write(s, AHV_SPACE_GVA, rqbad, bad, len);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rqbad, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_NONCANONICAL, 0, r.address);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, ro, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER, ro);
	assert_int_equal(p.stops, 0);
	/* a good request: one stop, and the measurement is inside it (what a
	 * vCPU wrote just before the stop is what the report hashes) */
	p.poke = data;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	assert_int_equal(p.stops, 1);
	assert_int_equal(p.resumes, 1);
	sim_read(s, AHV_SPACE_GVA, rp, rep, o.rbx);
	check_report(s, req, len, rep);
	/* the report buffer remapped between its check and the stop: the
	 * report goes where the tables point under the stop */
	uint64_t other = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	uint64_t *rp_pte = sim_entry(s, &s->gpt, rp, 1), keep = *rp_pte;
	uint64_t old_gpa;
	assert_true(sim_model_xlate(&s->gpt, rp, &old_gpa));
	p.poke = 0;
	p.move_pte = rp_pte;
	p.move_to = other;
	memset(rep, 0, sizeof(rep));
	sim_write(s, AHV_SPACE_GPA, old_gpa, rep, SIM_4K);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	sim_read(s, AHV_SPACE_GPA, other, rep, SIM_4K);
	assert_int_equal(((struct ahv_report_hdr *)rep)->magic, AHV_REPORT_MAGIC);
	sim_read(s, AHV_SPACE_GPA, old_gpa, before, SIM_4K);
	for (unsigned i = 0; i < SIM_4K; i++)
		assert_int_equal(before[i], 0);
	*rp_pte = keep;
	p.move_pte = NULL;
	/* the stop times out: AHV_E_BUSY with RBX = RCX = 0 and RDX =
	 * AHV_OBJ_NONE (protocol.md §3.1, §5.1), nothing written, no counter
	 * value used, no resume, and the engine free again */
	p.fail = -1;
	p.stops = p.resumes = 0;
	fill(s, AHV_SPACE_GVA, rp, AHV_REPORT_MAX_SIZE);
	sim_read(s, AHV_SPACE_GVA, rp, before, AHV_REPORT_MAX_SIZE);
	uint64_t c0 = s->core.counter;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_E_BUSY, AHV_OBJ_NONE, 0);
	assert_int_equal(o.rbx, 0);
	assert_int_equal(p.stops, 1);
	assert_int_equal(p.resumes, 0);
	assert_int_equal(s->core.counter, c0);
	sim_read(s, AHV_SPACE_GVA, rp, rep, AHV_REPORT_MAX_SIZE);
	assert_memory_equal(before, rep, AHV_REPORT_MAX_SIZE);
	p.fail = 0;
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
	assert_status(o, AHV_OK, AHV_OBJ_NONE, 0);
	assert_int_equal(p.resumes, 1);
	rm(s);
}

static void t_init_refuses(void **st)
{
	struct sim *s = mk(NULL);
	struct ahv_platform p = s->plat;
	struct ahv_core *core = malloc(sizeof(*core));
	struct ahv_phys_range bad[2] = { { 0x2000, 0x1000 }, { 0x1000, 0x2000 } };

	(void)st;
	assert_int_equal(ahv_core_init(core, &p), 0);
	p.ram = bad;
	assert_int_equal(ahv_core_init(core, &p), -1); /* overlapping */
	p = s->plat;
	p.phys_addr_bits = 60;
	assert_int_equal(ahv_core_init(core, &p), -1);
	p = s->plat;
	p.nested.levels = 3;
	assert_int_equal(ahv_core_init(core, &p), -1);
	p = s->plat;
	p.map_hpa = NULL;
	assert_int_equal(ahv_core_init(core, &p), -1);
	free(core);
	rm(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_abc),
		cmocka_unit_test(t_all_algs_unaligned),
		cmocka_unit_test(t_guest_page_sizes),
		cmocka_unit_test(t_nested_page_sizes),
		cmocka_unit_test(t_aliased),
		cmocka_unit_test(t_zero_length),
		cmocka_unit_test(t_max_length),
		cmocka_unit_test(t_wrap_and_canonical),
		cmocka_unit_test(t_five_level),
		cmocka_unit_test(t_cpl_rules),
		cmocka_unit_test(t_guest_faults),
		cmocka_unit_test(t_nested_faults),
		cmocka_unit_test(t_request_buffer),
		cmocka_unit_test(t_report_buffer),
		cmocka_unit_test(t_signatures),
		cmocka_unit_test(t_parse_fields),
		cmocka_unit_test(t_call_level),
		cmocka_unit_test(t_no_key_and_info),
		cmocka_unit_test(t_claims_counter),
		cmocka_unit_test(t_dma_unprotected_flag),
		cmocka_unit_test(t_time_limit),
		cmocka_unit_test(t_double_fetch),
		cmocka_unit_test(t_composite_example),
		cmocka_unit_test(t_init_refuses),
		cmocka_unit_test(t_protection_keys),
		cmocka_unit_test(t_report_dirty),
		cmocka_unit_test(t_stop_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
