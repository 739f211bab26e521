/*
 * verifier_unit_test - pure unit checks of the verifier's building blocks:
 * the composite digest against protocol.md §12.2, strict base64, hex,
 * structural report/request checks, policy parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <attest/wire_digest.h>

#include "ecdsa_table.h"
#include "evidence.h"
#include "policy.h"
#include "vcrypto.h"
#include "verify.h"
#include "vutil.h"

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

static void test_composite_example(void)
{
	/* protocol.md §12.2: SHA-256, two regions, request_digest 00..1f */
	static uint8_t r[AHV_REPORT_SIZE(2)];
	memset(r, 0, sizeof r);
	struct ahv_report_hdr *h = (void *)r;
	h->hash_alg = AHV_WIRE_HASH_SHA256;
	h->region_count = 2;
	for (int i = 0; i < 32; i++)
		h->request_digest[i] = (uint8_t)i;
	struct ahv_region_result *r0 = (void *)(r + AHV_REPORT_RESULT_OFFSET(0));
	struct ahv_region_result *r1 = (void *)(r + AHV_REPORT_RESULT_OFFSET(1));
	r0->address = 0x00007f0000001000ull;
	r0->size = 3;
	r0->space = AHV_SPACE_GVA;
	vc_hash(AHV_WIRE_HASH_SHA256, "abc", 3, r0->digest);
	r1->address = 0x100000;
	r1->size = 0;
	r1->space = AHV_SPACE_GPA;
	vc_hash(AHV_WIRE_HASH_SHA256, "", 0, r1->digest);
	uint8_t out[64];
	char hex[129];
	CHECK(ahv_wire_composite(r, sizeof r, out) == 32);
	v_hex(hex, out, 32);
	CHECK(!strcmp(hex, "ea39042eee74d4b25360b7a0749aef8d52641a06acdf9114367f01a73f538b4c"));
}

static void test_base64(void)
{
	uint8_t b[16];
	CHECK(v_b64_decode(b, sizeof b, "YWJj", 4) == 3 && !memcmp(b, "abc", 3));
	CHECK(v_b64_decode(b, sizeof b, "YWI=", 4) == 2);
	CHECK(v_b64_decode(b, sizeof b, "YQ==", 4) == 1);
	CHECK(v_b64_decode(b, sizeof b, "", 0) == 0);
	CHECK(v_b64_decode(b, sizeof b, "YWJ=", 4) < 0); /* non-canonical bits */
	CHECK(v_b64_decode(b, sizeof b, "YR==", 4) < 0);
	CHECK(v_b64_decode(b, sizeof b, "Y===", 4) < 0);
	CHECK(v_b64_decode(b, sizeof b, "=YWJ", 4) < 0);
	CHECK(v_b64_decode(b, sizeof b, "YW=j", 4) < 0);
	CHECK(v_b64_decode(b, sizeof b, "YWJ", 3) < 0);
	CHECK(v_b64_decode(b, sizeof b, "YW J", 4) < 0);
	CHECK(v_b64_decode(b, 2, "YWJj", 4) < 0); /* capacity */
	char e[16];
	CHECK(v_b64url_encode(e, (const uint8_t *)"\xfb\xff", 2) == 3 && !strcmp(e, "-_8"));
	CHECK(v_b64_encode(e, (const uint8_t *)"ab", 2) == 4 && !strcmp(e, "YWI="));
	CHECK(v_unhex(b, sizeof b, "0aFf") == 2 && b[0] == 0x0a && b[1] == 0xff);
	CHECK(v_unhex(b, sizeof b, "0g") < 0);
	CHECK(v_unhex(b, sizeof b, "abc") < 0);
}

/* A report of a newer wire minor (issue 18 item 6): the fields reserved in
 * minor 0 may be used, but every field the verifier reads is checked as for
 * minor 0. r: a valid one-region minor-1 report. */
static void test_newer_minor(uint8_t *r, size_t len)
{
	struct ahv_report_hdr *h = (void *)r;
	struct ahv_region_result *rr = (void *)(r + AHV_REPORT_RESULT_OFFSET(0));
	char d[256];
	h->reserved0 = 1;
	h->reserved1 = 2;
	h->reserved2[3] = 3;
	rr->flags = 1u << 7;
	CHECK(v_check_report(r, len, d, sizeof d) == V_OK); /* reserved: ignored */
	h->reserved0 = 0;
	h->reserved1 = 0;
	h->reserved2[3] = 0;
	rr->flags = 0;
#define READ_FIELD_CHECKED(field, bad)                                          \
	do {                                                                   \
		__typeof__(field) saved_ = (field);                            \
		(field) = (bad);                                               \
		CHECK(v_check_report(r, len, d, sizeof d) == V_E_REPORT_FORMAT); \
		(field) = saved_;                                              \
	} while (0)
	READ_FIELD_CHECKED(h->caller_cpl, 2);
	READ_FIELD_CHECKED(h->paging_levels, 3);
	READ_FIELD_CHECKED(h->backend, 9);
	READ_FIELD_CHECKED(h->total_bytes, 1);
	READ_FIELD_CHECKED(h->nonce[20], 1);          /* nonce tail */
	READ_FIELD_CHECKED(h->request_digest[40], 1); /* digest tail */
	READ_FIELD_CHECKED(h->composite_digest[63], 1);
	READ_FIELD_CHECKED(rr->space, 7);
	READ_FIELD_CHECKED(rr->flags, AHV_RESULT_F_MATCH); /* MATCH without CLAIMED */
	READ_FIELD_CHECKED(rr->digest[33], 1);
	READ_FIELD_CHECKED(rr->size, AHV_MAX_TOTAL_BYTES + 1);
#undef READ_FIELD_CHECKED
	CHECK(v_check_report(r, len, d, sizeof d) == V_OK);
}

static void test_structure(void)
{
	static uint8_t r[AHV_REPORT_SIZE(1)], q[AHV_REQUEST_SIZE(1)];
	char d[256];
	memset(r, 0, sizeof r);
	struct ahv_report_hdr *h = (void *)r;
	h->magic = AHV_REPORT_MAGIC;
	h->version_major = 1;
	h->total_size = sizeof r;
	h->hash_alg = 1;
	h->sig_alg = 1;
	h->region_count = 1;
	h->nonce_len = 8;
	h->caller_cpl = 3;
	h->paging_levels = 4;
	h->backend = AHV_BACKEND_SVM;
	((struct ahv_region_result *)(void *)(r + AHV_REPORT_RESULT_OFFSET(0)))->space = AHV_SPACE_GPA;
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_OK);
	CHECK(v_check_report(r, sizeof r - 1, d, sizeof d) == V_E_REPORT_FORMAT);
	h->nonce[8] = 1;
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_E_REPORT_FORMAT);
	h->nonce[8] = 0;
	r[AHV_REPORT_SIG_OFFSET(1) + 64] = 1; /* P-256 signature padding */
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_E_REPORT_FORMAT);
	r[AHV_REPORT_SIG_OFFSET(1) + 64] = 0;
	h->version_major = 2;
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_E_REPORT_VERSION);
	h->version_major = 1;
	h->flags = 1u << 9;
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_E_REPORT_FORMAT);
	/* report flags are must-understand in every minor (protocol.md §10) */
	h->version_minor = AHV_WIRE_VERSION_MINOR + 1;
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_E_REPORT_FORMAT);
	h->flags = 0; /* a newer minor may use reserved fields */
	CHECK(v_check_report(r, sizeof r, d, sizeof d) == V_OK);
	test_newer_minor(r, sizeof r);

	memset(q, 0, sizeof q);
	struct ahv_request_hdr *qh = (void *)q;
	qh->magic = AHV_REQUEST_MAGIC;
	qh->version_major = 1;
	qh->total_size = sizeof q;
	qh->hash_alg = 1;
	qh->sig_alg = 1;
	qh->region_count = 1;
	qh->nonce_len = 8;
	struct ahv_region *g = (void *)(q + AHV_REQUEST_REGION_OFFSET(0));
	g->space = AHV_SPACE_GVA;
	CHECK(v_check_request(q, sizeof q, d, sizeof d) == V_OK);
	g->claimed_digest[0] = 1; /* claim bytes without the CLAIMED flag */
	CHECK(v_check_request(q, sizeof q, d, sizeof d) == V_E_REQUEST_FORMAT);
	g->flags = AHV_REGION_F_CLAIMED;
	CHECK(v_check_request(q, sizeof q, d, sizeof d) == V_OK);
	g->claimed_digest[40] = 1; /* beyond the SHA-256 size */
	CHECK(v_check_request(q, sizeof q, d, sizeof d) == V_E_REQUEST_FORMAT);
}

static void test_submission_and_policy(void)
{
	static struct v_submission s;
	char d[256];
	const char *ok = "{\"request\":\"\",\"report\":\"YWJj\",\"region_names\":[\"a\",null]}";
	CHECK(v_parse_submission(ok, strlen(ok), &s, d, sizeof d) == V_OK);
	CHECK(s.report_len == 3 && s.has_names && s.n_names == 2 && !strcmp(s.names[0], "a") && !s.names[1][0]);
	const char *bad = "{\"request\":\"\",\"report\":\"\",\"region_names\":[\"\"]}";
	CHECK(v_parse_submission(bad, strlen(bad), &s, d, sizeof d) == V_E_BAD_FIELD);
	const char *nul = "{\"request\":\"\",\"report\":\"\",\"region_names\":[\"a\\u0000b\"]}";
	CHECK(v_parse_submission(nul, strlen(nul), &s, d, sizeof d) != V_OK);
	char err[256];
	const char *pol = "{\"allow_dev_key\":true,\"min_hv_version\":\"1.2.3\",\"regions\":[{\"name\":\"k\",\"address\":\"0x1000\",\"size\":4096,\"space\":\"gpa\",\"digests\":[\"sha384:" \
			  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\"]}]}";
	struct v_policy *p = v_policy_parse(pol, strlen(pol), err, sizeof err);
	CHECK(p && p->allow_dev_key && p->min_hv_version == AHV_HV_VERSION(1, 2, 3) && p->n_regions == 1 &&
	      p->regions[0].address == 0x1000 && p->regions[0].digests[0].len == 48 && p->regions[0].digests[0].alg == 2);
	v_policy_free(p);
	const char *bp = "{\"regions\":[{\"name\":\"k\",\"digests\":[\"sha256:00\"]}]}";
	CHECK(!v_policy_parse(bp, strlen(bp), err, sizeof err) && strstr(err, "digests"));
	CHECK(v_parse_hv_version("1.2") < 0 && v_parse_hv_version("256.0.0") < 0 && v_parse_hv_version("1.0.0x") < 0);
	for (int e = 0; e < V_E__COUNT; e++)
		CHECK(v_err_code(e) && v_err_http(e) >= 200 && v_err_text(e));
}

/* Watched regions (docs/watch.md): which report regions are under an
 * unbroken watch, and the policy key that requires one. */
static void test_watch(void)
{
	static uint8_t r[AHV_REPORT_SIZE(2)];
	struct ahv_report_hdr *h = (void *)r;
	struct ahv_region_result *r0 = (void *)(r + AHV_REPORT_RESULT_OFFSET(0));
	struct ahv_region_result *r1 = (void *)(r + AHV_REPORT_RESULT_OFFSET(1));
	uint64_t since = 0;
	uint32_t id = 0;
	memset(r, 0, sizeof r);
	h->region_count = 2;
	h->counter = 7;
	CHECK(!v_watch_unbroken(r, 0, &since, &id)); /* no watch */
	h->watch_state = AHV_WATCH_ACTIVE; /* START: since = this report */
	h->watch_id = 3;
	h->watch_since_counter = 7;
	h->watch_since_ns = 1234;
	CHECK(v_watch_unbroken(r, 0, &since, &id) && since == 1234 && id == 3);
	h->counter = 9; /* a CHECK */
	r0->flags = AHV_RESULT_F_WATCHED;
	r1->flags = AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED;
	CHECK(v_watch_unbroken(r, 0, &since, &id) && !v_watch_unbroken(r, 1, &since, &id));
	r1->flags = AHV_RESULT_F_WATCHED | AHV_RESULT_F_REMAPPED;
	CHECK(!v_watch_unbroken(r, 1, &since, &id));
	r1->flags = 0; /* a CHECK result without WATCHED */
	CHECK(!v_watch_unbroken(r, 1, &since, &id));
	h->watch_state = AHV_WATCH_ENDED; /* ended by this report: held to it */
	CHECK(v_watch_unbroken(r, 0, &since, &id));
	h->watch_state = AHV_WATCH_EXPIRED; /* ran out before this report */
	CHECK(!v_watch_unbroken(r, 0, &since, &id));
	char err[256];
	const char *pol = "{\"regions\":[{\"name\":\"t\",\"require_watch\":true,\"digests\":[\"sha256:"
			  "0000000000000000000000000000000000000000000000000000000000000000\"]}]}";
	struct v_policy *p = v_policy_parse(pol, strlen(pol), err, sizeof err);
	CHECK(p && p->n_regions == 1 && p->regions[0].require_watch);
	v_policy_free(p);
	const char *bad = "{\"regions\":[{\"name\":\"t\",\"require_watch\":1,\"digests\":[\"sha256:"
			  "0000000000000000000000000000000000000000000000000000000000000000\"]}]}";
	CHECK(!v_policy_parse(bad, strlen(bad), err, sizeof err));
	CHECK(!strcmp(v_err_code(V_E_REGION_UNWATCHED), "policy_region_unwatched") &&
	      v_err_http(V_E_REGION_UNWATCHED) == 403 && !strcmp(v_rv_name(V_RV_UNWATCHED), "unwatched"));
}

/* The submission fast path (bodies of exactly "report" and "request" with
 * plain base64 strings) gives what the jansson path gives: each case is
 * parsed as written (fast) and with the members swapped, extra whitespace
 * and every '/' escaped as "\/" (which only jansson takes). */
static void test_submission_fast_path(void)
{
	static struct v_submission a, b;
	static const char *const cases[][2] = {
		{"////AAEC", "YWJj"},      /* valid, '/' in the report */
		{"", "YWI="},              /* empty report, padded request */
		{"YWJ=", "YWJj"},          /* non-canonical padding bits */
		{"YW Jj", "YWJj"},         /* space: never fast, both jansson */
		{"Y", "////"},             /* truncated base64 */
	};
	char big[8192];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = 0;
	for (unsigned i = 0; i <= sizeof cases / sizeof cases[0]; i++) {
		const char *rep = i < 5 ? cases[i][0] : "YWJj", *req = i < 5 ? cases[i][1] : big; /* 5: too long */
		char fast[9000], slow[18000], esc[9000], da[256] = "", db[256] = "";
		size_t k = 0;
		for (const char *p = req; *p && k + 2 < sizeof esc; p++) {
			if (*p == '/')
				esc[k++] = '\\';
			esc[k++] = *p;
		}
		esc[k] = 0;
		snprintf(fast, sizeof fast, "{\"nonce\":\"00ab\",\"report\":\"%s\",\"request\":\"%s\"}", rep, req);
		snprintf(slow, sizeof slow, " {\n \"request\" : \"%s\" ,\t\"report\":\"%s\", \"nonce\": \"00\\u0061b\" }\r\n",
			 esc, rep);
		enum v_err ea = v_parse_submission(fast, strlen(fast), &a, da, sizeof da);
		enum v_err eb = v_parse_submission(slow, strlen(slow), &b, db, sizeof db);
		CHECK(ea == eb && !strcmp(da, db));
		if (ea == V_OK)
			CHECK(a.report_len == b.report_len && a.request_len == b.request_len &&
			      !memcmp(a.report, b.report, a.report_len) && !memcmp(a.request, b.request, a.request_len));
		if (ea != eb || strcmp(da, db))
			fprintf(stderr, "fast path case %u: %d \"%s\" vs %d \"%s\"\n", i, ea, da, eb, db);
	}
	/* a duplicate member is jansson's to refuse, as before */
	const char *dup = "{\"report\":\"YWJj\",\"report\":\"YWJj\"}";
	CHECK(v_parse_submission(dup, strlen(dup), &a, (char[256]){0}, 256) == V_E_MALFORMED_JSON);
	const char *dup2 = "{\"nonce\":\"a\",\"report\":\"YWJj\",\"request\":\"\",\"nonce\":\"b\"}";
	CHECK(v_parse_submission(dup2, strlen(dup2), &a, (char[256]){0}, 256) == V_E_MALFORMED_JSON);
	const char *rn = "{\"report\":\"YWJj\",\"request\":\"\",\"region_names\":\"a\"}";
	CHECK(v_parse_submission(rn, strlen(rn), &a, (char[256]){0}, 256) == V_E_BAD_FIELD);
	const char *junk = "{\"report\":\"YWJj\",\"request\":\"\"} x";
	CHECK(v_parse_submission(junk, strlen(junk), &a, (char[256]){0}, 256) == V_E_MALFORMED_JSON);
	const char *one = "{\"report\":\"YWJj\"}";
	CHECK(v_parse_submission(one, strlen(one), &a, (char[256]){0}, 256) == V_E_MISSING_FIELD);
}

/* The table verify (ecdsa_table.h) agrees with OpenSSL's ECDSA_do_verify on
 * valid signatures and on every kind of bad one: flipped bits in r, s and
 * the digest, r or s zero or >= n, another key's signature. */
static void test_ecdsa_table(void)
{
	static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
				      0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
	EVP_PKEY *k = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	CHECK(k && other && vc_table_attach(k) == 0 && vc_table_has(k) && !vc_table_has(other));
	EVP_PKEY *k384 = EVP_EC_gen("P-384");
	CHECK(k384 && vc_table_attach(k384) == 1 && !vc_table_has(k384));
	EVP_PKEY_free(k384);
	int agree = 0, valid = 0, total = 0;
	for (int i = 0; i < 400; i++) {
		uint8_t h[32], sig[64], der[80];
		size_t dl = sizeof der;
		RAND_bytes(h, sizeof h);
		EVP_PKEY *signer = i % 7 == 3 ? other : k;
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(signer, NULL);
		CHECK(c && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_sign(c, der, &dl, h, sizeof h) == 1);
		EVP_PKEY_CTX_free(c);
		const unsigned char *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
		CHECK(es && BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) == 32 &&
		      BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) == 32);
		ECDSA_SIG_free(es);
		switch (i % 7) {
		case 1: sig[i % 64] ^= (uint8_t)(1u << (i % 8)); break;  /* r or s bit */
		case 2: h[i % 32] ^= 0x80; break;                        /* digest */
		case 4: memset(sig + 32 * (i % 2), 0, 32); break;       /* r or s = 0 */
		case 5: memcpy(sig + 32 * (i % 2), n, 32); break;       /* r or s = n */
		case 6: memset(sig + 32 * (i % 2), 0xff, 32); break;    /* > n */
		default: break;                                         /* 0, 3: as signed */
		}
		/* the reference: OpenSSL's own verify of the same r, s */
		ECDSA_SIG *rs = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
		CHECK(rs && r && s && ECDSA_SIG_set0(rs, r, s) == 1);
		unsigned char *d2 = NULL;
		int l2 = i2d_ECDSA_SIG(rs, &d2);
		ECDSA_SIG_free(rs);
		c = EVP_PKEY_CTX_new(k, NULL);
		int want = c && EVP_PKEY_verify_init(c) == 1 && l2 > 0 && EVP_PKEY_verify(c, d2, (size_t)l2, h, 32) == 1;
		EVP_PKEY_CTX_free(c);
		OPENSSL_free(d2);
		int got = vc_table_verify(k, h, sig);
		agree += got == want;
		valid += want;
		total++;
		if (got != want)
			fprintf(stderr, "ecdsa table: case %d (kind %d): got %d, OpenSSL %d\n", i, i % 7, got, want);
	}
	CHECK(agree == total && valid >= 50 && valid < total);
	/* the verify's inversion mod n against BN_mod_inverse, edges included */
	BIGNUM *bn = BN_bin2bn(n, 32, NULL), *x = BN_new(), *inv = BN_new();
	BN_CTX *bc = BN_CTX_new();
	int inv_ok = 0;
	for (int i = 0; i < 2000; i++) {
		uint8_t sb[32], got[32], want[32];
		if (i == 0)
			BN_one(x);
		else if (i == 1 || i == 2)
			BN_sub(x, bn, BN_value_one()), i == 2 && BN_sub_word(x, 1);
		else if (i == 3)
			BN_set_word(x, 2);
		else
			BN_rand_range(x, bn), BN_is_zero(x) && BN_one(x);
		BN_bn2binpad(x, sb, 32);
		vc_table_inverse_selftest(sb, got);
		BN_mod_inverse(inv, x, bn, bc);
		BN_bn2binpad(inv, want, 32);
		inv_ok += !memcmp(got, want, 32);
	}
	CHECK(inv_ok == 2000);
	BN_free(bn);
	BN_free(x);
	BN_free(inv);
	BN_CTX_free(bc);
	uint8_t z[64] = {1};
	CHECK(vc_table_verify(other, z, z) == -1); /* no table */
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

/* OpenSSL's verify of a raw r||s over h: 1 valid, 0 not */
static int openssl_verify_raw(EVP_PKEY *pk, const uint8_t h[32], const uint8_t sig[64])
{
	ECDSA_SIG *rs = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	int dl = rs && r && s && ECDSA_SIG_set0(rs, r, s) == 1 ? i2d_ECDSA_SIG(rs, &der) : -1;
	ECDSA_SIG_free(rs);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	int ok = c && dl > 0 && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_verify(c, der, (size_t)dl, h, 32) == 1;
	EVP_PKEY_CTX_free(c);
	OPENSSL_free(der);
	return ok;
}

/* The table verify compares x_R with r in Jacobian coordinates, where
 * x_R >= n (r = x_R - n) takes its own branch, which a random signature
 * reaches with probability ~2^-128. So build one: a point R whose x is in
 * [n+1, p), r = x - n, random e and s, and the public key Q that makes it
 * valid: Q = u2^-1 (R - u1 G), u1 = e/s, u2 = r/s (SEC 1 s4.1.4). */
static void test_ecdsa_table_high_x(void)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BN_CTX *bc = BN_CTX_new();
	BIGNUM *p = BN_new(), *x = BN_new(), *r = BN_new(), *s = BN_new(), *e = BN_new(), *w = BN_new(),
	       *u1 = BN_new(), *u2 = BN_new();
	EC_POINT *R = g ? EC_POINT_new(g) : NULL, *Q = g ? EC_POINT_new(g) : NULL;
	CHECK(g && bc && p && x && r && s && e && w && u1 && u2 && R && Q);
	if (!g || !bc || !p || !x || !r || !s || !e || !w || !u1 || !u2 || !R || !Q)
		return;
	const BIGNUM *n = EC_GROUP_get0_order(g);
	CHECK(EC_GROUP_get_curve(g, p, NULL, NULL, bc) == 1);
	BN_copy(x, n);
	int found = 0;
	for (int i = 0; i < 64 && !found; i++) { /* about half the x are on the curve */
		BN_add_word(x, 1);
		found = BN_cmp(x, p) < 0 && EC_POINT_set_compressed_coordinates(g, R, x, i & 1, bc) == 1;
	}
	CHECK(found);
	uint8_t h[32], sig[64], q[65];
	int valid = 0, refused = 0;
	for (int k = 0; found && k < 8; k++) {
		RAND_bytes(h, sizeof h);
		BN_sub(r, x, n);
		BN_bin2bn(h, 32, e);
		BN_rand_range(s, n);
		if (BN_is_zero(s))
			BN_one(s);
		BN_mod_inverse(w, s, n, bc);
		BN_mod_mul(u1, e, w, n, bc);
		BN_mod_mul(u2, r, w, n, bc);
		/* Q = u2^-1 * (R + (n - u1) G) */
		BN_sub(u1, n, u1);
		BN_mod_inverse(w, u2, n, bc);
		CHECK(EC_POINT_mul(g, Q, u1, R, BN_value_one(), bc) == 1 && EC_POINT_mul(g, Q, NULL, Q, w, bc) == 1);
		size_t ql = EC_POINT_point2oct(g, Q, POINT_CONVERSION_UNCOMPRESSED, q, sizeof q, bc);
		OSSL_PARAM_BLD *pb = OSSL_PARAM_BLD_new();
		OSSL_PARAM *prm = NULL;
		EVP_PKEY_CTX *fc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		EVP_PKEY *pk = NULL;
		CHECK(ql == 65 && pb && fc &&
		      OSSL_PARAM_BLD_push_utf8_string(pb, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
		      OSSL_PARAM_BLD_push_octet_string(pb, OSSL_PKEY_PARAM_PUB_KEY, q, ql) == 1 &&
		      (prm = OSSL_PARAM_BLD_to_param(pb)) && EVP_PKEY_fromdata_init(fc) == 1 &&
		      EVP_PKEY_fromdata(fc, &pk, EVP_PKEY_PUBLIC_KEY, prm) == 1 && vc_table_attach(pk) == 0);
		BN_bn2binpad(r, sig, 32);
		BN_bn2binpad(s, sig + 32, 32);
		if (pk) {
			/* valid, and the same as OpenSSL says */
			valid += vc_table_verify(pk, h, sig) == 1 && openssl_verify_raw(pk, h, sig) == 1;
			/* another digest: refused by both */
			h[k] ^= 1;
			refused += vc_table_verify(pk, h, sig) == 0 && openssl_verify_raw(pk, h, sig) == 0;
		}
		EVP_PKEY_free(pk);
		EVP_PKEY_CTX_free(fc);
		OSSL_PARAM_free(prm);
		OSSL_PARAM_BLD_free(pb);
	}
	CHECK(valid == 8 && refused == 8);
	EC_POINT_free(R);
	EC_POINT_free(Q);
	BN_free(p), BN_free(x), BN_free(r), BN_free(s), BN_free(e), BN_free(w), BN_free(u1), BN_free(u2);
	BN_CTX_free(bc);
	EC_GROUP_free(g);
}

int main(void)
{
	CHECK(vc_init() == 0);
	test_composite_example();
	test_base64();
	test_structure();
	test_submission_and_policy();
	test_watch();
	test_ecdsa_table();
	test_ecdsa_table_high_x();
	test_submission_fast_path();
	if (failures) {
		fprintf(stderr, "verifier_unit_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("verifier_unit_test: ok\n");
	return 0;
}
