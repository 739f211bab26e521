/*
 * wire_lib_test.c - the hosted wire library (wire/): getters, the structure
 * checks of reports and requests on well-formed and malformed input
 * (truncated, oversize counts, bad versions, reserved bits, tails, ranges),
 * the composite digest against the hypervisor core's own mbedTLS digest on
 * the same bytes, and base64 in both alphabets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <attest/base64.h>
#include <attest/wire_digest.h>
#include <attest/wire_parse.h>

#include "engine.h" /* ahv_composite_digest: the core's mbedTLS digest */

#define RH(f) offsetof(struct ahv_report_hdr, f)
#define QH(f) offsetof(struct ahv_request_hdr, f)
#define RR(f) offsetof(struct ahv_region_result, f)
#define RG(f) offsetof(struct ahv_region, f)

static uint32_t rng = 0x12345678u;
static uint8_t rnd8(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}
static void rnd(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd8();
}

/* len zero bytes, then the header fields that requests and reports share
 * (magic .. nonce_len, the same offsets in both). */
static void put_prefix(uint8_t *p, uint32_t magic, size_t len, uint32_t alg, uint32_t sig, unsigned n,
		       unsigned nonce_len)
{
	memset(p, 0, len);
	ahv_le32_put(p + QH(magic), magic);
	ahv_le16_put(p + QH(version_major), AHV_WIRE_VERSION_MAJOR);
	ahv_le16_put(p + QH(version_minor), AHV_WIRE_VERSION_MINOR);
	ahv_le32_put(p + QH(total_size), (uint32_t)len);
	ahv_le16_put(p + QH(hash_alg), (uint16_t)alg);
	ahv_le16_put(p + QH(sig_alg), (uint16_t)sig);
	ahv_le16_put(p + QH(region_count), (uint16_t)n);
	ahv_le16_put(p + QH(nonce_len), (uint16_t)nonce_len);
}

/* A well-formed report of n regions (signature bytes arbitrary). */
static size_t make_report(uint8_t *rep, unsigned n, uint32_t alg)
{
	size_t d = ahv_wire_hash_size(alg), len = AHV_REPORT_SIZE(n);
	uint64_t total = 0;
	put_prefix(rep, AHV_REPORT_MAGIC, len, alg, AHV_SIG_ECDSA_P256_SHA256, n, 16);
	rep[RH(caller_cpl)] = 3;
	rep[RH(paging_levels)] = 4;
	rep[RH(backend)] = AHV_BACKEND_SVM;
	ahv_le64_put(rep + RH(counter), 7);
	rnd(rep + RH(nonce), 16);
	rnd(rep + RH(request_digest), d);
	rnd(rep + RH(guest_key_id), AHV_KEY_ID_SIZE);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *r = rep + AHV_REPORT_RESULT_OFFSET(i);
		uint64_t size = 4096u * (i + 1) + rnd8();
		ahv_le64_put(r + RR(address), 0x7f0000000000ull + 0x100000ull * i + rnd8());
		ahv_le64_put(r + RR(size), size);
		ahv_le32_put(r + RR(space), i % 2 ? AHV_SPACE_GPA : AHV_SPACE_GVA);
		rnd(r + RR(digest), d);
		total += size;
	}
	ahv_le64_put(rep + RH(total_bytes), total);
	size_t c = ahv_wire_composite(rep, len, rep + RH(composite_digest));
	assert_int_equal(c, d);
	rnd(rep + AHV_REPORT_SIG_OFFSET(n), 64);
	return len;
}

/* A well-formed request of n regions. */
static size_t make_request(uint8_t *q, unsigned n, uint32_t alg)
{
	size_t len = AHV_REQUEST_SIZE(n);
	put_prefix(q, AHV_REQUEST_MAGIC, len, alg, AHV_SIG_ECDSA_P384_SHA384, n, 8);
	rnd(q + QH(nonce), 8);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *g = q + AHV_REQUEST_REGION_OFFSET(i);
		ahv_le64_put(g + RG(address), 0x1000ull * i);
		ahv_le64_put(g + RG(size), 16);
		ahv_le32_put(g + RG(space), AHV_SPACE_GVA);
		if (i % 2) {
			ahv_le32_put(g + RG(flags), AHV_REGION_F_CLAIMED);
			rnd(g + RG(claimed_digest), ahv_wire_hash_size(alg));
		}
	}
	rnd(q + AHV_REQUEST_TAIL_OFFSET(n), AHV_KEY_ID_SIZE + 96);
	return len;
}

/* On this (little-endian) host the getters must give what an overlay gives. */
static void t_getters(void **st)
{
	(void)st;
	uint8_t b[AHV_REPORT_HDR_SIZE];
	for (int k = 0; k < 50; k++) {
		rnd(b, sizeof b);
		struct ahv_report_hdr a, o;
		struct ahv_request_hdr qa, qo;
		struct ahv_region ga, go;
		struct ahv_region_result ra, ro;
		ahv_wire_get_report_hdr(b, &a);
		memcpy(&o, b, sizeof o);
		assert_memory_equal(&a, &o, sizeof a);
		ahv_wire_get_request_hdr(b, &qa);
		memcpy(&qo, b, sizeof qo);
		assert_memory_equal(&qa, &qo, sizeof qa);
		ahv_wire_get_region(b + 7, &ga);
		memcpy(&go, b + 7, sizeof go);
		assert_memory_equal(&ga, &go, sizeof ga);
		ahv_wire_get_region_result(b + 3, &ra);
		memcpy(&ro, b + 3, sizeof ro);
		assert_memory_equal(&ra, &ro, sizeof ra);
	}
}

#define REP_FAULT(want)                                                        \
	do {                                                                   \
		struct ahv_wire_error e;                                       \
		assert_int_equal(ahv_wire_check_report(rep, len, &e), want);   \
		assert_int_equal(e.fault, want);                               \
		assert_true((want) == AHV_WIRE_OK ? e.text[0] == 0 : e.text[0] != 0); \
	} while (0)

static void t_report_good(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE];
	for (uint32_t alg = 1; alg <= AHV_WIRE_HASH_MAX_ID; alg++)
		for (unsigned n = 1; n <= AHV_MAX_REGIONS; n += 21) {
			size_t len = make_report(rep, n, alg);
			REP_FAULT(AHV_WIRE_OK);
			assert_int_equal(ahv_wire_check_report(rep, len, NULL), AHV_WIRE_OK);
			assert_true(ahv_wire_report_claims_agree(rep));
		}
}

static void t_report_truncated(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE + 1];
	size_t full = make_report(rep, 3, AHV_WIRE_HASH_SHA384), len;
	for (len = 0; len < full; len += len < AHV_REPORT_HDR_SIZE + 8 ? 1 : 37)
		REP_FAULT(AHV_WIRE_E_SIZE);
	len = full - 1;
	REP_FAULT(AHV_WIRE_E_SIZE);
	len = full + 1;
	REP_FAULT(AHV_WIRE_E_SIZE);
	/* total_size that disagrees with the count */
	len = full;
	ahv_le32_put(rep + RH(total_size), (uint32_t)full + 88);
	REP_FAULT(AHV_WIRE_E_SIZE);
}

static void t_report_counts(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE];
	size_t len = make_report(rep, 2, AHV_WIRE_HASH_SHA256);
	static const uint16_t bad[] = {0, AHV_MAX_REGIONS + 1, 0x100, 0xffff};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ahv_le16_put(rep + RH(region_count), bad[i]);
		REP_FAULT(AHV_WIRE_E_SIZE);
		/* the digest does not read past the bytes it is given */
		uint8_t out[64];
		assert_int_equal(ahv_wire_composite(rep, len, out), 0);
	}
	ahv_le16_put(rep + RH(region_count), 3); /* more regions than bytes */
	REP_FAULT(AHV_WIRE_E_SIZE);
	uint8_t out[64];
	assert_int_equal(ahv_wire_composite(rep, AHV_REPORT_SIGNED_SIZE(3) - 1, out), 0);
}

static void t_report_versions(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE];
	size_t len = make_report(rep, 1, AHV_WIRE_HASH_SHA256);
	ahv_le16_put(rep + RH(version_major), 0);
	REP_FAULT(AHV_WIRE_E_VERSION);
	ahv_le16_put(rep + RH(version_major), AHV_WIRE_VERSION_MAJOR + 1);
	REP_FAULT(AHV_WIRE_E_VERSION);
	ahv_le16_put(rep + RH(version_major), AHV_WIRE_VERSION_MAJOR);
	ahv_le32_put(rep + RH(magic), AHV_REQUEST_MAGIC);
	REP_FAULT(AHV_WIRE_E_MAGIC);
	ahv_le32_put(rep + RH(magic), AHV_REPORT_MAGIC);
	/* reserved in our minor: refused; from a newer minor: ignored (§10) */
	uint32_t fl = ahv_le32_get(rep + RH(flags));
	ahv_le32_put(rep + RH(flags), fl | 1u << 9);
	rep[RH(reserved2) + 5] = 1;
	uint8_t *r0 = rep + AHV_REPORT_RESULT_OFFSET(0);
	ahv_le32_put(r0 + RR(flags), 1u << 7);
	REP_FAULT(AHV_WIRE_E_RESERVED);
	ahv_le16_put(rep + RH(version_minor), AHV_WIRE_VERSION_MINOR + 1);
	REP_FAULT(AHV_WIRE_E_RESERVED); /* flags: must-understand in any minor */
	ahv_le32_put(rep + RH(flags), fl);
	REP_FAULT(AHV_WIRE_OK);
	/* ... but not the tails of the fields it reads */
	rep[RH(nonce) + 20] = 1;
	REP_FAULT(AHV_WIRE_E_RESERVED);
}

static void t_report_fields(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE], keep[AHV_REPORT_MAX_SIZE];
	size_t len = make_report(keep, 2, AHV_WIRE_HASH_SHA256);
	struct {
		size_t off;
		uint8_t val;
		enum ahv_wire_fault want;
	} cases[] = {
		{RH(hash_alg), 0, AHV_WIRE_E_ALG},
		{RH(hash_alg), 7, AHV_WIRE_E_ALG},
		{RH(sig_alg), 3, AHV_WIRE_E_ALG},
		{RH(nonce_len), 7, AHV_WIRE_E_VALUE},
		{RH(nonce_len), 65, AHV_WIRE_E_VALUE},
		{RH(caller_cpl), 1, AHV_WIRE_E_VALUE},
		{RH(paging_levels), 3, AHV_WIRE_E_VALUE},
		{RH(backend), 3, AHV_WIRE_E_VALUE},
		{RH(watch_state), 1, AHV_WIRE_E_VALUE}, /* a watch with id 0 */
		{RH(watch_state), 4, AHV_WIRE_E_VALUE},
		{RH(watch_id) + 3, 1, AHV_WIRE_E_RESERVED},
		{RH(watch_since_ns) + 1, 1, AHV_WIRE_E_RESERVED},
		{RH(request_digest) + 40, 1, AHV_WIRE_E_RESERVED},
		{RH(composite_digest) + 63, 1, AHV_WIRE_E_RESERVED},
		{RH(flags) + 2, 1, AHV_WIRE_E_RESERVED},
		{AHV_REPORT_SIG_OFFSET(2) + 64, 1, AHV_WIRE_E_RESERVED},
		{AHV_REPORT_RESULT_OFFSET(1) + RR(space), 3, AHV_WIRE_E_VALUE},
		{AHV_REPORT_RESULT_OFFSET(1) + RR(flags), AHV_RESULT_F_MATCH, AHV_WIRE_E_VALUE},
		{AHV_REPORT_RESULT_OFFSET(1) + RR(digest) + 32, 1, AHV_WIRE_E_RESERVED},
		{AHV_REPORT_RESULT_OFFSET(0) + RR(size) + 4, 1, AHV_WIRE_E_RANGE},
		{RH(total_bytes) + 7, 1, AHV_WIRE_E_RANGE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(rep, keep, len);
		rep[cases[i].off] = cases[i].val;
		REP_FAULT(cases[i].want);
	}
}

/* Minor 1 watch reports (protocol.md §6.4): records in the digest tails. */
static void t_report_watch(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE], keep[AHV_REPORT_MAX_SIZE];
	size_t len = make_report(keep, 2, AHV_WIRE_HASH_SHA256);
	uint8_t *r0 = keep + AHV_REPORT_RESULT_OFFSET(0), *t0 = r0 + RR(digest) + AHV_WATCH_RECORD_OFFSET;
	uint8_t *r1 = keep + AHV_REPORT_RESULT_OFFSET(1), *t1 = r1 + RR(digest) + AHV_WATCH_RECORD_OFFSET;
	keep[RH(watch_state)] = AHV_WATCH_ACTIVE;
	ahv_le32_put(keep + RH(watch_id), 9);
	ahv_le64_put(keep + RH(watch_since_counter), 3);
	ahv_le32_put(r0 + RR(flags), AHV_RESULT_F_WATCHED);
	ahv_le64_put(t0, 1234); /* unmodified up to then */
	ahv_le32_put(r1 + RR(flags), AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	ahv_le64_put(t1, 1200);
	ahv_le64_put(t1 + 8, 0x5000);
	ahv_le64_put(t1 + 16, 0x401000);
	memcpy(rep, keep, len);
	REP_FAULT(AHV_WIRE_OK);
	rep[RH(watch_state)] = 0; /* records without a watch */
	REP_FAULT(AHV_WIRE_E_RESERVED);
	memcpy(rep, keep, len);
	ahv_le16_put(rep + RH(hash_alg), AHV_WIRE_HASH_SHA384); /* no room for records */
	REP_FAULT(AHV_WIRE_E_VALUE);
	memcpy(rep, keep, len);
	rep[AHV_REPORT_RESULT_OFFSET(0) + RR(digest) + AHV_WATCH_RECORD_OFFSET + 28] = 1;
	REP_FAULT(AHV_WIRE_E_RESERVED);
	memcpy(rep, keep, len);
	rep[AHV_REPORT_RESULT_OFFSET(0) + RR(digest) + AHV_WATCH_RECORD_OFFSET + 8] = 1; /* unmodified, gpa */
	REP_FAULT(AHV_WIRE_E_VALUE);
	memcpy(rep, keep, len);
	rep[AHV_REPORT_RESULT_OFFSET(1) + RR(flags)] = AHV_RESULT_F_MODIFIED; /* without WATCHED */
	REP_FAULT(AHV_WIRE_E_VALUE);
	memcpy(rep, keep, len);
	rep[AHV_REPORT_RESULT_OFFSET(0) + RR(flags)] |= AHV_RESULT_F_REMAPPED; /* with a digest */
	REP_FAULT(AHV_WIRE_E_VALUE);
}

/* Ranges: the last byte may sit at 2^64 - 1, never beyond (protocol.md §4.3). */
static void t_report_ranges(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE];
	size_t len = make_report(rep, 1, AHV_WIRE_HASH_SHA256);
	uint8_t *r0 = rep + AHV_REPORT_RESULT_OFFSET(0);
	ahv_le64_put(r0 + RR(address), UINT64_MAX);
	ahv_le64_put(r0 + RR(size), 1);
	ahv_le64_put(rep + RH(total_bytes), 1);
	REP_FAULT(AHV_WIRE_OK);
	ahv_le64_put(r0 + RR(size), 2);
	ahv_le64_put(rep + RH(total_bytes), 2);
	REP_FAULT(AHV_WIRE_E_RANGE);
	ahv_le64_put(r0 + RR(address), 0);
	ahv_le64_put(r0 + RR(size), AHV_MAX_TOTAL_BYTES + 1);
	ahv_le64_put(rep + RH(total_bytes), AHV_MAX_TOTAL_BYTES + 1);
	REP_FAULT(AHV_WIRE_E_RANGE);
	ahv_le64_put(r0 + RR(size), 0);
	ahv_le64_put(rep + RH(total_bytes), 0);
	REP_FAULT(AHV_WIRE_OK);
	/* two regions of 1 GiB each: each within the limit, the sum not */
	len = make_report(rep, 2, AHV_WIRE_HASH_SHA256);
	for (unsigned i = 0; i < 2; i++)
		ahv_le64_put(rep + AHV_REPORT_RESULT_OFFSET(i) + RR(size), AHV_MAX_TOTAL_BYTES);
	ahv_le64_put(rep + RH(total_bytes), 2 * AHV_MAX_TOTAL_BYTES);
	REP_FAULT(AHV_WIRE_E_RANGE);
}

static void t_report_claims(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE];
	size_t len = make_report(rep, 2, AHV_WIRE_HASH_SHA256);
	uint8_t *r1 = rep + AHV_REPORT_RESULT_OFFSET(1);
	ahv_le32_put(r1 + RR(flags), AHV_RESULT_F_CLAIMED | AHV_RESULT_F_MATCH);
	REP_FAULT(AHV_WIRE_OK);
	assert_true(ahv_wire_report_claims_agree(rep));
	ahv_le32_put(r1 + RR(flags), AHV_RESULT_F_CLAIMED);
	REP_FAULT(AHV_WIRE_OK); /* structure fine ... */
	assert_false(ahv_wire_report_claims_agree(rep)); /* ... the flag missing */
	ahv_le32_put(rep + RH(flags), AHV_REPORT_F_CLAIM_MISMATCH);
	assert_true(ahv_wire_report_claims_agree(rep));
	ahv_le32_put(r1 + RR(flags), 0);
	assert_false(ahv_wire_report_claims_agree(rep));
}

#define REQ_FAULT(want)                                                        \
	do {                                                                   \
		struct ahv_wire_error e;                                       \
		assert_int_equal(ahv_wire_check_request(q, len, &e), want);    \
		assert_int_equal(e.fault, want);                               \
	} while (0)

static void t_request(void **st)
{
	(void)st;
	static uint8_t q[AHV_REQUEST_MAX_SIZE + 1], keep[AHV_REQUEST_MAX_SIZE];
	size_t len;
	for (unsigned n = 1; n <= AHV_MAX_REGIONS; n += 9) {
		len = make_request(q, n, AHV_WIRE_HASH_SHA512);
		REQ_FAULT(AHV_WIRE_OK);
	}
	size_t full = make_request(keep, 2, AHV_WIRE_HASH_SHA256);
	/* truncated and oversize */
	memcpy(q, keep, full);
	for (len = 0; len < full; len += 13)
		REQ_FAULT(AHV_WIRE_E_SIZE);
	len = full + 1;
	q[full] = 0;
	REQ_FAULT(AHV_WIRE_E_SIZE);
	len = AHV_REQUEST_MAX_SIZE + 1;
	REQ_FAULT(AHV_WIRE_E_SIZE);
	len = full;
	struct {
		size_t off;
		uint16_t val;
		enum ahv_wire_fault want;
	} cases[] = {
		{QH(magic), 0, AHV_WIRE_E_MAGIC},
		{QH(version_major), 0, AHV_WIRE_E_VERSION},
		{QH(version_major), AHV_WIRE_VERSION_MAJOR + 1, AHV_WIRE_E_VERSION},
		{QH(version_minor), AHV_WIRE_VERSION_MINOR + 1, AHV_WIRE_E_VERSION},
		{QH(total_size), 320, AHV_WIRE_E_SIZE},
		{QH(flags), 8, AHV_WIRE_E_RESERVED},
		{QH(flags), AHV_REQ_F_WATCH_START | AHV_REQ_F_WATCH_CHECK, AHV_WIRE_E_RESERVED},
		{QH(flags), AHV_REQ_F_WATCH_END, AHV_WIRE_E_RESERVED},
		{QH(hash_alg), 9, AHV_WIRE_E_ALG},
		{QH(sig_alg), 0, AHV_WIRE_E_ALG},
		{QH(region_count), 0, AHV_WIRE_E_SIZE},
		{QH(region_count), 1, AHV_WIRE_E_SIZE},
		{QH(region_count), AHV_MAX_REGIONS + 1, AHV_WIRE_E_SIZE},
		{QH(region_count), 0xffff, AHV_WIRE_E_SIZE},
		{QH(nonce_len), 4, AHV_WIRE_E_VALUE},
		{QH(nonce_len), 0x100, AHV_WIRE_E_VALUE},
		{QH(reserved) + 6, 1, AHV_WIRE_E_RESERVED},
		{QH(nonce) + 8, 1, AHV_WIRE_E_RESERVED},
		{AHV_REQUEST_REGION_OFFSET(0) + RG(space), 0, AHV_WIRE_E_VALUE},
		{AHV_REQUEST_REGION_OFFSET(0) + RG(flags), 2, AHV_WIRE_E_RESERVED},
		{AHV_REQUEST_REGION_OFFSET(0) + RG(claimed_digest), 1, AHV_WIRE_E_RESERVED},
		{AHV_REQUEST_REGION_OFFSET(1) + RG(claimed_digest) + 32, 1, AHV_WIRE_E_RESERVED},
		{AHV_REQUEST_REGION_OFFSET(1) + RG(reserved), 1, AHV_WIRE_E_RESERVED},
		{AHV_REQUEST_SIG_OFFSET(2) + 90, 0x0101, AHV_WIRE_OK}, /* P-384 uses all 96 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(q, keep, full);
		ahv_le16_put(q + cases[i].off, cases[i].val);
		REQ_FAULT(cases[i].want);
	}
	/* P-256 leaves 32 bytes of padding that must be zero */
	memcpy(q, keep, full);
	ahv_le16_put(q + QH(sig_alg), AHV_SIG_ECDSA_P256_SHA256);
	REQ_FAULT(AHV_WIRE_E_RESERVED);
	memset(q + AHV_REQUEST_SIG_OFFSET(2) + 64, 0, 32);
	REQ_FAULT(AHV_WIRE_OK);
}

/* The library's digest and the core's mbedTLS digest on the same bytes. */
static void t_composite_vs_core(void **st)
{
	(void)st;
	static uint8_t rep[AHV_REPORT_MAX_SIZE];
	for (uint32_t alg = 1; alg <= AHV_WIRE_HASH_MAX_ID; alg++)
		for (unsigned n = 1; n <= AHV_MAX_REGIONS; n = n * 3 + 1) {
			size_t len = make_report(rep, n, alg), d = ahv_wire_hash_size(alg);
			uint8_t lib[64], core[64];
			assert_int_equal(ahv_wire_composite(rep, len, lib), d);
			assert_int_equal(ahv_composite_digest(rep, core), 0);
			assert_memory_equal(lib, core, d);
			/* one changed input byte changes both, alike */
			rep[AHV_REPORT_RESULT_OFFSET(n - 1) + RR(space)] ^= 1;
			assert_int_equal(ahv_wire_composite(rep, len, lib), d);
			assert_int_equal(ahv_composite_digest(rep, core), 0);
			assert_memory_equal(lib, core, d);
			assert_memory_not_equal(lib, rep + RH(composite_digest), d);
		}
	uint8_t out[64];
	size_t len = make_report(rep, 1, AHV_WIRE_HASH_SHA256);
	ahv_le16_put(rep + RH(hash_alg), 0);
	assert_int_equal(ahv_wire_composite(rep, len, out), 0);
	assert_null(ahv_wire_md(0));
	assert_null(ahv_wire_md(AHV_WIRE_HASH_MAX_ID + 1));
}

/* protocol.md §12.2, byte for byte. */
static void t_composite_example(void **st)
{
	(void)st;
	static const uint8_t want[32] = {
		0xea, 0x39, 0x04, 0x2e, 0xee, 0x74, 0xd4, 0xb2, 0x53, 0x60, 0xb7, 0xa0, 0x74, 0x9a, 0xef, 0x8d,
		0x52, 0x64, 0x1a, 0x06, 0xac, 0xdf, 0x91, 0x14, 0x36, 0x7f, 0x01, 0xa7, 0x3f, 0x53, 0x8b, 0x4c};
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	static const uint8_t empty[32] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	uint8_t rep[AHV_REPORT_SIZE(2)] = {0}, out[64];
	ahv_le16_put(rep + RH(hash_alg), AHV_WIRE_HASH_SHA256);
	ahv_le16_put(rep + RH(region_count), 2);
	for (int i = 0; i < 32; i++)
		rep[RH(request_digest) + i] = (uint8_t)i;
	uint8_t *r0 = rep + AHV_REPORT_RESULT_OFFSET(0), *r1 = rep + AHV_REPORT_RESULT_OFFSET(1);
	ahv_le64_put(r0 + RR(address), 0x00007f0000001000ull);
	ahv_le64_put(r0 + RR(size), 3);
	ahv_le32_put(r0 + RR(space), AHV_SPACE_GVA);
	memcpy(r0 + RR(digest), abc, 32);
	ahv_le64_put(r1 + RR(address), 0x100000);
	ahv_le32_put(r1 + RR(space), AHV_SPACE_GPA);
	memcpy(r1 + RR(digest), empty, 32);
	assert_int_equal(ahv_wire_composite(rep, sizeof rep, out), 32);
	assert_memory_equal(out, want, 32);
	assert_int_equal(ahv_composite_digest(rep, out), 0);
	assert_memory_equal(out, want, 32);
}

static void b64_is(const char *in, enum ahv_b64_alphabet a, const char *want)
{
	uint8_t out[64];
	long n = ahv_b64_decode(out, sizeof out, in, strlen(in), a);
	if (!want) {
		assert_int_equal(n, -1);
		return;
	}
	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(out, want, (size_t)n);
	char enc[100];
	assert_int_equal(ahv_b64_encode(enc, (const uint8_t *)want, (size_t)n, a), strlen(in));
	assert_string_equal(enc, in);
	assert_int_equal(ahv_b64_encoded_len((size_t)n, a), strlen(in));
}

static void t_base64(void **st)
{
	(void)st;
	/* RFC 4648 §10 */
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		b64_is(std[i], AHV_B64_STD, plain[i]);
		b64_is(url[i], AHV_B64_URL, plain[i]);
	}
	b64_is("-_8", AHV_B64_URL, "\xfb\xff");
	b64_is("+/8=", AHV_B64_STD, "\xfb\xff");
	/* each alphabet refuses the other's characters and padding rules */
	b64_is("-_8=", AHV_B64_STD, NULL);
	b64_is("+/8", AHV_B64_URL, NULL);
	b64_is("Zg", AHV_B64_STD, NULL);
	b64_is("Zg==", AHV_B64_URL, NULL);
	/* not canonical: unused bits, padding in the middle, too much padding */
	b64_is("Zh==", AHV_B64_STD, NULL);
	b64_is("Zm9=", AHV_B64_STD, NULL);
	b64_is("Zh", AHV_B64_URL, NULL);
	b64_is("Zg==Zm9v", AHV_B64_STD, NULL);
	b64_is("Z===", AHV_B64_STD, NULL);
	b64_is("====", AHV_B64_STD, NULL);
	b64_is("Z", AHV_B64_URL, NULL);
	b64_is("Zm9vY", AHV_B64_URL, NULL);
	b64_is("Zm9", AHV_B64_STD, NULL);
	b64_is("Zm 9v", AHV_B64_STD, NULL);
	b64_is("Zm9v\n", AHV_B64_URL, NULL);
	/* exactly len characters are read: an embedded NUL is a bad character */
	uint8_t out[8];
	assert_int_equal(ahv_b64_decode(out, sizeof out, "Zm\0v", 4, AHV_B64_STD), -1);
	/* room */
	assert_int_equal(ahv_b64_decode(out, 2, "Zm9v", 4, AHV_B64_STD), -1);
	assert_int_equal(ahv_b64_decode(out, 3, "Zm9v", 4, AHV_B64_STD), 3);
	assert_int_equal(ahv_b64_decode(out, 0, "", 0, AHV_B64_URL), 0);
	/* round trips */
	for (size_t n = 0; n < 80; n++) {
		uint8_t in[80], back[80];
		char enc[120];
		rnd(in, n);
		for (int a = AHV_B64_STD; a <= AHV_B64_URL; a++) {
			size_t l = ahv_b64_encode(enc, in, n, (enum ahv_b64_alphabet)a);
			assert_int_equal(l, ahv_b64_encoded_len(n, (enum ahv_b64_alphabet)a));
			assert_true(ahv_b64_decoded_max(l) >= n);
			assert_int_equal(ahv_b64_decode(back, n, enc, l, (enum ahv_b64_alphabet)a), (long)n);
			assert_memory_equal(back, in, n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_getters),
		cmocka_unit_test(t_report_good),
		cmocka_unit_test(t_report_truncated),
		cmocka_unit_test(t_report_counts),
		cmocka_unit_test(t_report_versions),
		cmocka_unit_test(t_report_fields),
		cmocka_unit_test(t_report_watch),
		cmocka_unit_test(t_report_ranges),
		cmocka_unit_test(t_report_claims),
		cmocka_unit_test(t_request),
		cmocka_unit_test(t_composite_vs_core),
		cmocka_unit_test(t_composite_example),
		cmocka_unit_test(t_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
