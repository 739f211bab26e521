/*
 * watch_test.c - watched regions (docs/watch.md) on the simulated machine:
 * every state change of a watch (start, clean check, first write by a vCPU,
 * write from another vCPU, GVA remap, end, expiry, pool share and slot
 * exhaustion, shared frames) and every refusal, with digests checked
 * against OpenSSL over the bytes the sim's model says are there and the
 * nested tables read back from the sim.
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

static const uint8_t nonce8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static struct sim *mk(const struct sim_cfg *cfg)
{
	struct sim *s = sim_new(cfg);

	assert_non_null(s);
	return s;
}

/* A request over `r` with watch flags and argument, signed by key k. */
static size_t wreq(struct sim *s, uint8_t *req, const struct sim_region *r,
		   uint32_t n, uint32_t flags, uint64_t arg, unsigned k)
{
	struct ahv_request_hdr h;
	size_t len = sim_request(req, AHV_WIRE_HASH_SHA256, nonce8, 8, r, n,
				 &s->guest_key[k], &s->drbg);

	memcpy(&h, req, sizeof(h));
	h.flags = flags;
	h.watch_arg = arg;
	memcpy(req, &h, sizeof(h));
	assert_int_equal(sim_resign(req, &s->guest_key[k], &s->drbg), 0);
	return len;
}

/* Issue a watch request; the report (if OK) into rep. */
static struct ahv_hc_regs wcall(struct sim *s, const struct sim_region *r,
				uint32_t n, uint32_t flags, uint64_t arg,
				uint8_t *rep)
{
	uint8_t req[AHV_REQUEST_MAX_SIZE];
	size_t len = wreq(s, req, r, n, flags, arg, 0);

	return sim_attest(s, req, len, 0, rep);
}

static struct ahv_report_hdr hdr(const uint8_t *rep)
{
	struct ahv_report_hdr h;

	memcpy(&h, rep, sizeof(h));
	return h;
}

static struct ahv_region_result res(const uint8_t *rep, uint32_t i)
{
	struct ahv_region_result r;

	memcpy(&r, rep + AHV_REPORT_RESULT_OFFSET(i), sizeof(r));
	return r;
}

static struct ahv_watch_record rec(const uint8_t *rep, uint32_t i)
{
	struct ahv_region_result r = res(rep, i);
	struct ahv_watch_record w;

	memcpy(&w, r.digest + AHV_WATCH_RECORD_OFFSET, sizeof(w));
	return w;
}

/* Guest-physical frame of a GVA through the sim's model. */
static uint64_t gpa_of(struct sim *s, uint64_t gva)
{
	uint64_t gpa;

	assert_true(sim_model_xlate(&s->gpt, gva, &gpa));
	return gpa;
}

/* Fill with a pattern. */
static void fill(struct sim *s, uint32_t space, uint64_t a, uint64_t len, uint8_t salt)
{
	uint8_t *b = malloc(len);

	for (uint64_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 31 + salt);
	assert_true(sim_write(s, space, a, b, len));
	free(b);
}

/* Region digest and the report's signature against the oracle. */
static void check_digest(struct sim *s, const uint8_t *rep, uint32_t i)
{
	struct ahv_region_result r = res(rep, i);
	uint8_t d[64];

	assert_true(oracle_region(s, AHV_WIRE_HASH_SHA256, r.space, r.address, r.size, d));
	assert_memory_equal(r.digest, d, 32);
}

static void check_signed(struct sim *s, const uint8_t *rep)
{
	uint8_t d[64];

	oracle_composite(rep, d);
	assert_memory_equal(hdr(rep).composite_digest, d, 32);
	assert_true(oracle_verify_report(&s->hv_key.pub, rep));
}

/* START over a 3-page GVA region and a 2-page GPA region in a 2 MiB nested
 * leaf: report fields, frames read-only (leaf split), the rest writable. */
static uint64_t g_gva, g_gpa;
static struct sim_region g_r[2];

static struct sim *started(uint8_t *rep, uint64_t lifetime)
{
	struct sim_cfg cfg = { .cpl0 = true };
	struct sim *s = mk(&cfg);

	g_gva = sim_alloc_gva(s, 3 * SIM_4K, 0, SIM_RW);
	g_gpa = sim_alloc_gpa(s, 2 * SIM_4K, SIM_4K);
	fill(s, AHV_SPACE_GVA, g_gva, 3 * SIM_4K, 1);
	fill(s, AHV_SPACE_GPA, g_gpa, 2 * SIM_4K, 2);
	g_r[0] = (struct sim_region){ g_gva + 100, 3 * SIM_4K - 200, AHV_SPACE_GVA, 0, NULL };
	g_r[1] = (struct sim_region){ g_gpa, 2 * SIM_4K, AHV_SPACE_GPA, 0, NULL };
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_START, lifetime, rep).rax, AHV_OK);
	return s;
}

static void t_start(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	struct ahv_report_hdr h = hdr(rep);
	unsigned level;

	(void)st;
	assert_true(s->core.features & AHV_FEAT_WATCH);
	assert_int_equal(h.version_minor, 1);
	assert_int_equal(h.watch_state, AHV_WATCH_ACTIVE);
	assert_int_not_equal(h.watch_id, 0);
	assert_int_equal(h.watch_since_counter, h.counter);
	assert_int_equal(h.watch_since_ns, h.timestamp_ns);
	for (uint32_t i = 0; i < 2; i++) {
		check_digest(s, rep, i);
		assert_int_equal(res(rep, i).flags, 0);
	}
	check_signed(s, rep);
	/* every watched frame read-only, in a 4 KiB leaf; neighbours not */
	for (uint64_t p = 0; p < 3; p++) {
		uint64_t gpa = gpa_of(s, g_gva + p * SIM_4K);

		assert_false(sim_nested_writable(s, gpa));
		assert_non_null(sim_nested_leaf(s, gpa, &level));
		assert_int_equal(level, 1);
	}
	assert_false(sim_nested_writable(s, g_gpa));
	assert_false(sim_nested_writable(s, g_gpa + SIM_4K));
	assert_true(sim_nested_writable(s, g_gpa + 2 * SIM_4K));
	assert_int_equal(s->protects, 5);
	sim_delete(s);
}

/* map_hpa hook: was any watched data frame mapped for more than one
 * paging entry (a hash run)? */
static uint64_t g_data_maps;

static void data_hook(struct sim *s, uint64_t hpa, uint64_t len)
{
	uint64_t lo = SIM_GUEST_HPA + g_gpa, gva_hpa;

	assert_true(sim_model_xlate(&s->npt, gpa_of(s, g_gva), &gva_hpa));
	if (len > 8 && ((hpa < lo + 2 * SIM_4K && lo < hpa + len) ||
			(hpa < gva_hpa + 3 * SIM_4K && gva_hpa < hpa + len)))
		g_data_maps++;
}

/* A clean interval: unmodified, the START digest without hashing again. */
static void t_check_clean(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	struct ahv_report_hdr h = hdr(rep), h2;
	uint64_t calls;

	(void)st;
	calls = s->map_calls;
	g_data_maps = 0;
	s->hook = data_hook;
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, h.watch_id, rep2).rax, AHV_OK);
	h2 = hdr(rep2);
	assert_int_equal(h2.watch_state, AHV_WATCH_ACTIVE);
	assert_int_equal(h2.watch_id, h.watch_id);
	assert_int_equal(h2.watch_since_counter, h.counter);
	assert_int_equal(h2.watch_since_ns, h.timestamp_ns);
	assert_true(h2.counter > h.counter);
	for (uint32_t i = 0; i < 2; i++) {
		struct ahv_watch_record w = rec(rep2, i);

		assert_int_equal(res(rep2, i).flags, AHV_RESULT_F_WATCHED);
		assert_memory_equal(res(rep2, i).digest, res(rep, i).digest, 32);
		check_digest(s, rep2, i);
		assert_true(w.time_ns >= h.timestamp_ns && w.time_ns <= h2.timestamp_ns);
		assert_int_equal(w.gpa, 0);
		assert_int_equal(w.rip, 0);
	}
	check_signed(s, rep2);
	/* nothing of the 5 watched pages was read again (the hook saw the
	 * request, the report buffer and paging entries only) */
	assert_true(s->map_calls > calls);
	assert_int_equal(g_data_maps, 0);
	s->hook = NULL;
	sim_delete(s);
}

/* The first write to a watched page exits once, is recorded, and the
 * frame is writable again; later writes there do not exit. */
static void t_write(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	uint64_t va = g_gva + SIM_4K + 8, gpa = gpa_of(s, va);
	uint8_t x[4] = { 0xde, 0xad, 0xbe, 0xef };

	(void)st;
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GVA, va, x, 4, 0x401000, 0), 1);
	assert_true(sim_nested_writable(s, gpa));
	assert_int_equal(s->unprotects, 1);
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GVA, va + 64, x, 4, 0x401004, 0), 0);
	/* a write to an unwatched page is not a watch fault */
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GPA, g_gpa + 2 * SIM_4K, x, 4, 1, 0), 0);
	assert_false(ahv_watch_write_fault(&s->core, g_gpa + 2 * SIM_4K, 1, 0));

	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, hdr(rep).watch_id, rep2).rax, AHV_OK);
	struct ahv_watch_record w = rec(rep2, 0);
	assert_int_equal(res(rep2, 0).flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	assert_int_equal(w.gpa, gpa);
	assert_int_equal(w.rip, 0x401000);
	assert_int_equal(w.apic_id, 0);
	assert_true(w.time_ns > hdr(rep).timestamp_ns && w.time_ns < hdr(rep2).timestamp_ns);
	check_digest(s, rep2, 0); /* measured again: the new bytes */
	assert_memory_not_equal(res(rep2, 0).digest, res(rep, 0).digest, 32);
	assert_int_equal(res(rep2, 1).flags, AHV_RESULT_F_WATCHED);
	check_digest(s, rep2, 1);
	check_signed(s, rep2);
	sim_delete(s);
}

/* A write from another vCPU, to a GPA region; two regions sharing the
 * frame both get the record. */
static void t_write_other_cpu(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	uint8_t x = 0x5a;

	(void)st;
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GPA, g_gpa + SIM_4K + 3, &x, 1, 0xffff8000, 2), 1);
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, hdr(rep).watch_id, rep2).rax, AHV_OK);
	assert_int_equal(res(rep2, 0).flags, AHV_RESULT_F_WATCHED);
	assert_int_equal(res(rep2, 1).flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	assert_int_equal(rec(rep2, 1).apic_id, 2);
	assert_int_equal(rec(rep2, 1).gpa, g_gpa + SIM_4K + 3);
	assert_int_equal(rec(rep2, 1).rip, 0xffff8000);
	check_digest(s, rep2, 1);
	sim_delete(s);
}

/* The guest remaps a watched GVA page to another frame: REMAPPED, no
 * digest; the write to the new frame was no watch event. */
static void t_remap(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	uint64_t va = g_gva + 2 * SIM_4K, other = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	uint64_t *pte = sim_entry(s, &s->gpt, va, 1);
	uint8_t zero[64] = { 0 };

	(void)st;
	assert_non_null(pte);
	*pte = (*pte & ~0x000ffffffffff000ull) | other;
	assert_int_equal(sim_map(s, &s->gpt, 0x7f0000000000ull, other, SIM_4K, SIM_4K, SIM_RW), 0);
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, hdr(rep).watch_id, rep2).rax, AHV_OK);
	assert_int_equal(res(rep2, 0).flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_REMAPPED);
	assert_memory_equal(res(rep2, 0).digest, zero, 32);
	assert_int_equal(res(rep2, 1).flags, AHV_RESULT_F_WATCHED);
	check_signed(s, rep2);
	sim_delete(s);
}

/* Another address space (another process) asks: the region is judged and
 * measured through the START caller's tables. The new root's own tables
 * map the watched page elsewhere; the CHECK still says "not remapped", and
 * after a write the digest is of the START caller's frame. */
static uint64_t copy_table(struct sim *s, uint64_t table)
{
	uint8_t buf[SIM_4K];
	uint64_t t = sim_alloc_gpa(s, SIM_4K, SIM_4K);

	assert_true(sim_read(s, AHV_SPACE_GPA, table, buf, SIM_4K));
	assert_true(sim_write(s, AHV_SPACE_GPA, t, buf, SIM_4K));
	return t;
}

static void t_other_address_space(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	uint64_t va = g_gva + SIM_4K, other = sim_alloc_gpa(s, SIM_4K, SIM_4K);
	uint64_t table = s->gpt.root, root2 = 0, parent = 0;
	uint8_t x = 0x77;

	(void)st;
	/* copy the four tables on the way to va; link each copy in its copied
	 * parent (x86 entry: address bits 51:12) */
	for (unsigned l = 4; l >= 1; l--) {
		uint64_t t = copy_table(s, table), e;
		unsigned idx = (unsigned)(va >> (12 + 9 * (l - 1))) & 511;

		if (parent) {
			unsigned pidx = (unsigned)(va >> (12 + 9 * l)) & 511;
			assert_true(sim_read(s, AHV_SPACE_GPA, parent + 8 * pidx, &e, 8));
			e = (e & ~0x000ffffffffff000ull) | t;
			assert_true(sim_write(s, AHV_SPACE_GPA, parent + 8 * pidx, &e, 8));
		} else {
			root2 = t;
		}
		assert_true(sim_read(s, AHV_SPACE_GPA, t + 8 * idx, &e, 8));
		if (l == 1) { /* the page maps another frame in the copy */
			e = (e & ~0x000ffffffffff000ull) | other;
			assert_true(sim_write(s, AHV_SPACE_GPA, t + 8 * idx, &e, 8));
		}
		parent = t;
		table = e & 0x000ffffffffff000ull;
	}
	s->gpt.root = root2; /* the caller now runs on the copy */
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, hdr(rep).watch_id, rep2).rax, AHV_OK);
	assert_int_equal(res(rep2, 0).flags, AHV_RESULT_F_WATCHED);
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GVA, va, &x, 1, 5, 0), 1); /* the START frame */
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, hdr(rep).watch_id, rep2).rax, AHV_OK);
	assert_int_equal(res(rep2, 0).flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	check_digest(s, rep2, 0); /* the model: the START caller's frames */
	sim_delete(s);
}

/* END: the last report says ENDED, frames come back, the id is gone. */
static void t_end(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 0);
	uint32_t id = hdr(rep).watch_id;
	struct ahv_hc_regs r;

	(void)st;
	r = wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END, id, rep2);
	assert_int_equal(r.rax, AHV_OK);
	assert_int_equal(hdr(rep2).watch_state, AHV_WATCH_ENDED);
	assert_int_equal(res(rep2, 0).flags, AHV_RESULT_F_WATCHED);
	assert_true(sim_nested_writable(s, g_gpa));
	assert_true(sim_nested_writable(s, gpa_of(s, g_gva)));
	assert_int_equal(s->unprotects, 5);
	r = wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, id, rep2);
	assert_int_equal(r.rax, AHV_E_WATCH_UNKNOWN);
	assert_int_equal(r.rdx, AHV_OBJ_REQUEST_FIELD);
	assert_int_equal(r.rcx, offsetof(struct ahv_request_hdr, watch_arg));
	sim_delete(s);
}

/* The lifetime runs out: EXPIRED once (records to the expiry), frames back
 * at the first look after it, then gone. A write after expiry is no event. */
static void t_expire(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], rep2[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(rep, 1);
	uint32_t id = hdr(rep).watch_id;
	uint8_t x = 1;

	(void)st;
	s->now += 2000000000ull; /* 2 s */
	assert_false(ahv_watch_write_fault(&s->core, g_gpa, 1, 0));
	assert_true(sim_nested_writable(s, g_gpa));
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GPA, g_gpa, &x, 1, 1, 0), 0);
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, id, rep2).rax, AHV_OK);
	assert_int_equal(hdr(rep2).watch_state, AHV_WATCH_EXPIRED);
	assert_int_equal(res(rep2, 1).flags, AHV_RESULT_F_WATCHED);
	assert_int_equal(rec(rep2, 1).time_ns, hdr(rep).timestamp_ns + 1000000000ull);
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, id, rep2).rax, AHV_E_WATCH_UNKNOWN);
	sim_delete(s);
}

/* Refusals: flag combinations, hash, argument, key, regions. None uses a
 * counter value or protects anything. */
static void t_refusals(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], req[AHV_REQUEST_MAX_SIZE];
	struct sim *s = started(rep, 0);
	uint32_t id = hdr(rep).watch_id;
	uint64_t counter = s->core.counter, protects = s->protects;
	struct sim_region other[2] = { g_r[0], g_r[1] };
	struct ahv_hc_regs r;
	size_t len;

	(void)st;
	r = wcall(s, g_r, 2, AHV_REQ_F_WATCH_START | AHV_REQ_F_WATCH_CHECK, id, rep);
	assert_int_equal(r.rax, AHV_E_RESERVED);
	assert_int_equal(r.rcx, offsetof(struct ahv_request_hdr, flags));
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_END, id, rep).rax, AHV_E_RESERVED);
	assert_int_equal(wcall(s, g_r, 2, 1u << 3, 0, rep).rax, AHV_E_RESERVED);
	r = wcall(s, g_r, 2, 0, 5, rep);
	assert_int_equal(r.rax, AHV_E_RESERVED);
	assert_int_equal(r.rcx, offsetof(struct ahv_request_hdr, watch_arg));
	r = wcall(s, g_r, 2, AHV_REQ_F_WATCH_START, AHV_WATCH_MAX_LIFETIME_S + 1ull, rep);
	assert_int_equal(r.rax, AHV_E_WATCH_LIMIT);
	assert_int_equal(r.rcx, offsetof(struct ahv_request_hdr, watch_arg));
	/* SHA-384: no room for the record */
	len = sim_request(req, AHV_WIRE_HASH_SHA384, nonce8, 8, g_r, 2, &s->guest_key[0], &s->drbg);
	req[0 + offsetof(struct ahv_request_hdr, flags)] = AHV_REQ_F_WATCH_START;
	assert_int_equal(sim_resign(req, &s->guest_key[0], &s->drbg), 0);
	assert_int_equal(sim_attest(s, req, len, 0, rep).rax, AHV_E_BAD_HASH_ALG);
	/* another guest key: as unknown as a missing id */
	len = wreq(s, req, g_r, 2, AHV_REQ_F_WATCH_CHECK, id, 1);
	assert_int_equal(sim_attest(s, req, len, 0, rep).rax, AHV_E_WATCH_UNKNOWN);
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK, id + 1, rep).rax, AHV_E_WATCH_UNKNOWN);
	/* other regions */
	other[1].size -= 1;
	r = wcall(s, other, 2, AHV_REQ_F_WATCH_CHECK, id, rep);
	assert_int_equal(r.rax, AHV_E_WATCH_MISMATCH);
	assert_int_equal(r.rdx, 1);
	r = wcall(s, g_r, 1, AHV_REQ_F_WATCH_CHECK, id, rep);
	assert_int_equal(r.rax, AHV_E_WATCH_MISMATCH);
	assert_int_equal(r.rdx, AHV_OBJ_REQUEST_FIELD);
	assert_int_equal(s->core.counter, counter);
	assert_int_equal(s->protects, protects);
	sim_delete(s);

	/* a platform without the hook: the flag is a reserved bit */
	struct sim_cfg cfg = { .cpl0 = true, .no_watch = true };
	s = mk(&cfg);
	assert_false(s->core.features & AHV_FEAT_WATCH);
	struct sim_region one = { sim_alloc_gpa(s, SIM_4K, SIM_4K), SIM_4K, AHV_SPACE_GPA, 0, NULL };
	assert_int_equal(wcall(s, &one, 1, AHV_REQ_F_WATCH_START, 0, rep).rax, AHV_E_RESERVED);
	assert_false(ahv_watch_write_fault(&s->core, one.address, 0, 0));
	sim_delete(s);
}

/* The pool share: too many pages, no nested table page, no slot. Each a
 * clear AHV_E_WATCH_LIMIT, nothing left protected, no counter used. */
static void t_limits(void **st)
{
	struct sim_cfg cfg = { .cpl0 = true, .watch_mem = AHV_WATCH_MEM_MIN, .guest_ram = 96u << 20 };
	struct sim *s = mk(&cfg);
	uint8_t rep[AHV_REPORT_MAX_SIZE];
	/* 64 MiB: more page entries than 128 KiB holds */
	struct sim_region big = { sim_alloc_gpa(s, 64u << 20, SIM_2M), 64u << 20, AHV_SPACE_GPA, 0, NULL };
	struct sim_region one = { sim_alloc_gpa(s, 4 * SIM_4K, SIM_4K), 4 * SIM_4K, AHV_SPACE_GPA, 0, NULL };
	uint64_t counter = s->core.counter;
	struct ahv_hc_regs r;

	(void)st;
	memset(rep, 0xee, sizeof(rep));
	r = wcall(s, &big, 1, AHV_REQ_F_WATCH_START, 0, rep);
	assert_int_equal(r.rax, AHV_E_WATCH_LIMIT);
	assert_int_equal(r.rdx, 0);
	assert_int_equal(s->core.counter, counter);
	assert_int_equal(s->protects, 0);
	/* the hook runs out of table pages on the third frame */
	s->protect_budget = 2;
	r = wcall(s, &one, 1, AHV_REQ_F_WATCH_START, 0, rep);
	assert_int_equal(r.rax, AHV_E_WATCH_LIMIT);
	assert_int_equal(s->unprotects, 2);
	for (uint64_t p = 0; p < 4; p++)
		assert_true(sim_nested_writable(s, one.address + p * SIM_4K));
	assert_int_equal(s->core.counter, counter);
	s->protect_budget = 0;
	/* slots: AHV_WATCH_MAX watches, then a refusal; an expired one is
	 * taken over */
	one.size = SIM_4K;
	for (uint32_t i = 0; i < AHV_WATCH_MAX; i++)
		assert_int_equal(wcall(s, &one, 1, AHV_REQ_F_WATCH_START, i == 0 ? 1 : 0, rep).rax, AHV_OK);
	assert_int_equal(wcall(s, &one, 1, AHV_REQ_F_WATCH_START, 0, rep).rax, AHV_E_WATCH_LIMIT);
	s->now += 2000000000ull;
	assert_int_equal(wcall(s, &one, 1, AHV_REQ_F_WATCH_START, 0, rep).rax, AHV_OK);
	/* the frame stays protected while any watch holds it */
	assert_false(sim_nested_writable(s, one.address));
	sim_delete(s);
}

/* Two watches over one frame: ending one keeps it protected; a write is
 * recorded in both. */
static void t_shared_frame(void **st)
{
	uint8_t rep[AHV_REPORT_MAX_SIZE], a[AHV_REPORT_MAX_SIZE], b[AHV_REPORT_MAX_SIZE];
	struct sim *s = started(a, 0);
	struct sim_region part = { g_gpa + SIM_4K, 16, AHV_SPACE_GPA, 0, NULL };
	uint8_t x = 7;

	(void)st;
	assert_int_equal(wcall(s, &part, 1, AHV_REQ_F_WATCH_START, 0, b).rax, AHV_OK);
	assert_int_not_equal(hdr(b).watch_id, hdr(a).watch_id);
	assert_int_equal(wcall(s, g_r, 2, AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END,
			       hdr(a).watch_id, rep).rax, AHV_OK);
	assert_false(sim_nested_writable(s, g_gpa + SIM_4K));
	assert_true(sim_nested_writable(s, g_gpa));
	assert_int_equal(sim_vcpu_write(s, AHV_SPACE_GPA, g_gpa + SIM_4K + 4, &x, 1, 9, 1), 1);
	assert_int_equal(wcall(s, &part, 1, AHV_REQ_F_WATCH_CHECK, hdr(b).watch_id, rep).rax, AHV_OK);
	assert_int_equal(res(rep, 0).flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	assert_int_equal(rec(rep, 0).gpa, g_gpa + SIM_4K + 4);
	sim_delete(s);
}

/* The report of a START written into a frame it watches: that frame is
 * modified by the engine's own write at once (never "unmodified"). */
static void t_report_in_watched_frame(void **st)
{
	struct sim_cfg cfg = { .cpl0 = true };
	struct sim *s = mk(&cfg);
	uint8_t req[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE];
	uint64_t buf = sim_alloc_gva(s, 2 * SIM_4K, 0, SIM_RW);
	struct sim_region r = { buf, 2 * SIM_4K, AHV_SPACE_GVA, 0, NULL };
	size_t len = wreq(s, req, &r, 1, AHV_REQ_F_WATCH_START, 0, 0);
	uint64_t rq = sim_alloc_gva(s, len, 0, SIM_RW);
	struct ahv_hc_regs x;

	(void)st;
	assert_true(sim_write(s, AHV_SPACE_GVA, rq, req, len));
	x = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, buf + SIM_4K, AHV_REPORT_MAX_SIZE);
	assert_int_equal(x.rax, AHV_OK);
	assert_true(sim_read(s, AHV_SPACE_GVA, buf + SIM_4K, rep, x.rbx));
	assert_false(sim_nested_writable(s, gpa_of(s, buf)));
	assert_true(sim_nested_writable(s, gpa_of(s, buf + SIM_4K)));
	len = wreq(s, req, &r, 1, AHV_REQ_F_WATCH_CHECK, hdr(rep).watch_id, 0);
	assert_int_equal(sim_attest(s, req, len, 0, rep).rax, AHV_OK);
	assert_int_equal(res(rep, 0).flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	assert_int_equal(rec(rep, 0).gpa, gpa_of(s, buf + SIM_4K));
	assert_int_equal(rec(rep, 0).apic_id, 7);
	check_digest(s, rep, 0);
	sim_delete(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_start),
		cmocka_unit_test(t_check_clean),
		cmocka_unit_test(t_write),
		cmocka_unit_test(t_write_other_cpu),
		cmocka_unit_test(t_remap),
		cmocka_unit_test(t_other_address_space),
		cmocka_unit_test(t_end),
		cmocka_unit_test(t_expire),
		cmocka_unit_test(t_refusals),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_shared_frame),
		cmocka_unit_test(t_report_in_watched_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
