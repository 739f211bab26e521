/* engine_test.c - libattest-hv against the REAL attestation engine
 * (hypervisor/core) running on the simulated machine of tests/engine: the
 * transport mirrors every page the hypercall names (request and report
 * buffers, GVA regions) from this process into the simulated guest at the
 * same guest-virtual addresses, calls ahv_hypercall(), and copies the
 * report back. So the bytes measured are this process's own bytes, and the
 * report is the engine's, signed with the simulated hypervisor key.
 *
 * Checks: attest + offline verify round trip; the digest of this program's
 * .text (and of its r-x PT_LOAD) in the report equals ahvl_elf_refvals() of
 * /proc/self/exe; tampering; engine error statuses through the library.
 * Writes fixtures for the CLI test into argv[1]. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <attest-hv/attest.h>

#include "sim.h"


/* An address range that is certainly not mapped in this process: low
 * memory, far below where the kernel places mappings top-down, checked with
 * mincore (ENOMEM: not mapped). */
static uintptr_t hole_addr(void)
{
	unsigned char v[4];
	for (uintptr_t a = 0x10000000; a < 0x70000000; a += 0x1000000) {
		int unmapped = 0;
		for (int i = 0; i < 4; i++)
			unmapped += mincore((void *)(a + 4096u * (unsigned)i), 4096, v) != 0;
		if (unmapped == 4)
			return a + 4096;
	}
	fail_msg("no unmapped low range found");
	return 0;
}

static struct sim sim;
static struct {
	uint64_t va, gpa;
} pages[4096];
static size_t npages;
static const char *fixdir;
static char guest_key_path[512], stranger_key_path[512], hv_pem[AHV_SPKI_MAX_PEM + 1];

/* ---- the engine transport ------------------------------------------------ */
static void mirror_page(uint64_t va)
{
	uint8_t buf[4096];
	struct iovec l = {buf, sizeof buf}, r = {(void *)(uintptr_t)va, sizeof buf};
	if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)sizeof buf)
		return; /* not readable here: leave it unmapped in the guest */
	size_t i;
	for (i = 0; i < npages && pages[i].va != va; i++)
		;
	if (i == npages) {
		assert_true(npages < sizeof pages / sizeof pages[0]);
		uint64_t gpa = sim_alloc_gpa(&sim, SIM_4K, SIM_4K);
		assert_int_equal(sim_map(&sim, &sim.gpt, va, gpa, SIM_4K, SIM_4K, SIM_URW), 0);
		pages[npages].va = va;
		pages[npages].gpa = gpa;
		npages++;
	}
	assert_true(sim_write(&sim, AHV_SPACE_GPA, pages[i].gpa, buf, sizeof buf));
}

static void mirror(uint64_t va, uint64_t len)
{
	if (!len || len > (64u << 20))
		return;
	for (uint64_t p = va & ~(SIM_4K - 1); p < va + len; p += SIM_4K)
		mirror_page(p);
}

static void eng_cpuid(void *u, uint32_t leaf, uint32_t out[4])
{
	(void)u;
	memset(out, 0, 16);
	if (leaf == 1)
		out[2] = 1u << 31;
	else
		ahv_core_cpuid(&sim.core, leaf, out);
}

static void eng_hypercall(void *u, uint32_t backend, struct ahvl_regs *r)
{
	(void)u;
	assert_int_equal(backend, sim.plat.backend);
	if (r->rax == AHV_HC_ATTEST_GUEST_MEMORY) {
		mirror(r->rbx, r->rcx);
		mirror(r->rdx, r->rsi);
		const uint8_t *q = (const uint8_t *)(uintptr_t)r->rbx;
		uint32_t n = ahv_le16_get(q + offsetof(struct ahv_request_hdr, region_count));
		for (uint32_t i = 0; i < n && i < AHV_MAX_REGIONS; i++) {
			const uint8_t *g = q + AHV_REQUEST_REGION_OFFSET(i);
			if (ahv_le32_get(g + 16) == AHV_SPACE_GVA)
				mirror(ahv_le64_get(g), ahv_le64_get(g + 8));
		}
	} else if (r->rax == AHV_HC_GET_INFO) {
		mirror(r->rbx, r->rcx);
	}
	uint64_t out = r->rax == AHV_HC_GET_INFO ? r->rbx : r->rdx;
	struct ahv_hc_regs o = sim_call(&sim, r->rax, r->rbx, r->rcx, r->rdx, r->rsi);
	if (o.rax == AHV_OK)
		assert_true(sim_read(&sim, AHV_SPACE_GVA, out, (void *)(uintptr_t)out, o.rbx));
	r->rax = o.rax;
	r->rbx = o.rbx;
	r->rcx = o.rcx;
	r->rdx = o.rdx;
}

static ahvl_ctx *eng_ctx(void)
{
	struct ahvl_transport t = {.cpuid = eng_cpuid, .hypercall = eng_hypercall};
	ahvl_ctx *c;
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	return c;
}

/* The simulated guest key as a PEM file the library can load. */
static void write_key(const ahv_ec_key *k, const char *path)
{
	size_t cs = ahv_curve_size((ahv_curve)k->pub.curve);
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *d = BN_bin2bn(k->d, (int)cs, NULL);
	assert_true(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
						    cs == 32 ? "prime256v1" : "secp384r1", 0));
	assert_true(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d));
	assert_true(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, k->pub.point, k->pub.point_len));
	OSSL_PARAM *ps = OSSL_PARAM_BLD_to_param(b);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(pc), 1);
	assert_int_equal(EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_KEYPAIR, ps), 1);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(ps);
	OSSL_PARAM_BLD_free(b);
	BN_free(d);
}

static void write_file(const char *name, const void *b, size_t n)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", fixdir, name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static int setup(void **st)
{
	(void)st;
	if (sim_init(&sim, NULL))
		return -1;
	mkdir(fixdir, 0755);
	snprintf(guest_key_path, sizeof guest_key_path, "%s/guest.key.pem", fixdir);
	snprintf(stranger_key_path, sizeof stranger_key_path, "%s/stranger.key.pem", fixdir);
	unlink(guest_key_path);
	unlink(stranger_key_path);
	write_key(&sim.guest_key[0], guest_key_path);
	write_key(&sim.stranger_key, stranger_key_path);
	size_t l;
	if (ahv_spki_write_pem(&sim.hv_key.pub, hv_pem, sizeof hv_pem - 1, &l))
		return -1;
	hv_pem[l] = 0;
	write_file("hv.pem", hv_pem, l);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	sim_free(&sim);
	return 0;
}

/* The digest refvals gives for `name` of /proc/self/exe. */
static void refval(unsigned what, const char *name, char out[65])
{
	const char *only[] = {name, NULL};
	char *j;
	int rc = ahvl_elf_refvals("/proc/self/exe", what, only, NULL, NULL, &j);
	if (rc)
		fail_msg("refvals: %s", ahvl_error_detail());
	json_error_t je;
	json_t *o = json_loads(j, 0, &je);
	const char *d = json_string_value(json_array_get(
		json_object_get(json_array_get(json_object_get(o, "regions"), 0), "digests"), 0));
	assert_non_null(d);
	assert_int_equal(strncmp(d, "sha256:", 7), 0);
	snprintf(out, 65, "%s", d + 7);
	json_decref(o);
	free(j);
}

static void hexof(const uint8_t *b, char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* Index (from 0) of the executable PT_LOAD of the main program. */
static int rx_cb(struct dl_phdr_info *i, size_t sz, void *arg)
{
	(void)sz;
	int li = 0;
	for (unsigned k = 0; k < i->dlpi_phnum; k++) {
		if (i->dlpi_phdr[k].p_type != PT_LOAD)
			continue;
		if (i->dlpi_phdr[k].p_flags & PF_X) {
			*(int *)arg = li;
			return 1;
		}
		li++;
	}
	return 1;
}

static const char heap_text[] = "attest-hv guest library round trip";

static void t_roundtrip(void **st)
{
	(void)st;
	ahvl_ctx *c = eng_ctx();
	ahvl_signer *s;
	ahvl_request *r;
	struct ahvl_evidence ev;
	struct ahvl_hv_identity id;
	assert_int_equal(ahvl_detect(c, &id), AHVL_OK);
	assert_int_equal(id.backend, AHV_BACKEND_VMX);
	assert_int_equal(ahvl_signer_from_file(&s, guest_key_path, NULL), AHVL_OK);
	int rx = -1;
	dl_iterate_phdr(rx_cb, &rx);
	assert_true(rx >= 0);
	/* a heap buffer spanning a page boundary, with a claimed digest */
	char *h = aligned_alloc(4096, 8192);
	memset(h, 0x5a, 8192);
	memcpy(h + 4090, heap_text, sizeof heap_text);
	uint8_t claim[32];
	unsigned int cl;
	EVP_Digest(h + 4000, 200, claim, &cl, EVP_sha256(), NULL);
	const uint8_t nonce[16] = "0123456789abcdef";
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_set_nonce(r, nonce, sizeof nonce), AHVL_OK);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".text", NULL), 0);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".rodata", NULL), 1);
	assert_int_equal(ahvl_request_add_segment(r, NULL, (unsigned)rx, NULL), 2);
	assert_int_equal(ahvl_request_add_range(r, (uintptr_t)h + 4000, 200, AHV_SPACE_GVA, claim, "heap"), 3);
	int rc = ahvl_attest(c, r, s, 0, &ev);
	if (rc)
		fail_msg("attest: %s", ahvl_error_detail());
	assert_int_equal(ev.report_len, AHV_REPORT_SIZE(4));
	/* offline verification with the hypervisor key */
	struct ahvl_report_expect ex = {.nonce = nonce, .nonce_len = sizeof nonce,
					.request = ev.request, .request_len = ev.request_len};
	rc = ahvl_report_verify(ev.report, ev.report_len, (const uint8_t *)hv_pem, strlen(hv_pem), &ex);
	if (rc)
		fail_msg("verify: %s", ahvl_error_detail());
	/* the live digests equal the reference values computed from the file */
	char live[65], ref[65];
	hexof(ev.report + AHV_REPORT_RESULT_OFFSET(0) + 24, live);
	refval(AHVL_REFVALS_SECTIONS, ".text", ref);
	assert_string_equal(live, ref);
	hexof(ev.report + AHV_REPORT_RESULT_OFFSET(1) + 24, live);
	refval(AHVL_REFVALS_SECTIONS, ".rodata", ref);
	assert_string_equal(live, ref);
	char seg[16];
	snprintf(seg, sizeof seg, "LOAD%d", rx);
	hexof(ev.report + AHV_REPORT_RESULT_OFFSET(2) + 24, live);
	refval(AHVL_REFVALS_SEGMENTS, seg, ref);
	assert_string_equal(live, ref);
	/* the claim matched */
	assert_int_equal(ahv_le32_get(ev.report + AHV_REPORT_RESULT_OFFSET(3) + 20),
			 AHV_RESULT_F_CLAIMED | AHV_RESULT_F_MATCH);
	assert_memory_equal(ev.report + AHV_REPORT_RESULT_OFFSET(3) + 24, claim, 32);
	/* fixtures for the CLI test */
	write_file("request.bin", ev.request, ev.request_len);
	write_file("report.bin", ev.report, ev.report_len);
	write_file("nonce.hex", "30313233343536373839616263646566", 32);
	char *gpem;
	assert_int_equal(ahvl_signer_public_pem(s, &gpem), AHVL_OK);
	write_file("guest.pem", gpem, strlen(gpem));
	free(gpem);
	/* tampering: any flipped byte fails */
	for (size_t off = 0; off < ev.report_len; off += 97) {
		ev.report[off] ^= 0x40;
		assert_int_not_equal(ahvl_report_verify(ev.report, ev.report_len, (const uint8_t *)hv_pem,
							strlen(hv_pem), &ex), AHVL_OK);
		ev.report[off] ^= 0x40;
	}
	/* wrong nonce, wrong request, wrong key */
	const uint8_t other[16] = "fedcba9876543210";
	ex.nonce = other;
	assert_int_equal(ahvl_report_verify(ev.report, ev.report_len, (const uint8_t *)hv_pem, strlen(hv_pem), &ex),
			 AHVL_E_MISMATCH);
	ex.nonce = NULL;
	ev.request[AHV_REQUEST_SIG_OFFSET(4)] ^= 1; /* another request (its digest differs) */
	assert_int_equal(ahvl_report_verify(ev.report, ev.report_len, (const uint8_t *)hv_pem, strlen(hv_pem), &ex),
			 AHVL_E_MISMATCH);
	ev.request[AHV_REQUEST_SIG_OFFSET(4)] ^= 1;
	char *other_pem;
	ahvl_signer *st2;
	assert_int_equal(ahvl_signer_from_file(&st2, stranger_key_path, NULL), AHVL_OK);
	assert_int_equal(ahvl_signer_public_pem(st2, &other_pem), AHVL_OK);
	write_file("wrong-hv.pem", other_pem, strlen(other_pem));
	assert_int_equal(ahvl_report_verify(ev.report, ev.report_len, (uint8_t *)other_pem, strlen(other_pem), &ex),
			 AHVL_E_MISMATCH);
	free(other_pem);
	ahvl_signer_free(st2);
	ahvl_evidence_clear(&ev);
	free(h);
	ahvl_request_free(r);
	ahvl_signer_free(s);
	ahvl_ctx_free(c);
}

static void t_engine_errors(void **st)
{
	(void)st;
	ahvl_ctx *c = eng_ctx();
	ahvl_signer *s;
	ahvl_request *r;
	struct ahvl_evidence ev;
	uint32_t status;
	uint64_t rcx, rdx;
	/* a key the hypervisor never enrolled */
	assert_int_equal(ahvl_signer_from_file(&s, stranger_key_path, NULL), AHVL_OK);
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_random_nonce(r, 32), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, (uintptr_t)heap_text, sizeof heap_text, AHV_SPACE_GVA, NULL, NULL), 0);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_E_HYPERCALL);
	ahvl_ctx_last_call(c, &status, NULL, &rcx, &rdx);
	assert_int_equal(status, AHV_E_UNKNOWN_KEY);
	assert_int_equal(rdx, AHV_OBJ_REQUEST_FIELD);
	ahvl_signer_free(s);
	/* a page this process does not have: NOT_PRESENT, after one retry */
	assert_int_equal(ahvl_signer_from_file(&s, guest_key_path, NULL), AHVL_OK);
	uintptr_t hole = hole_addr();
	assert_int_equal(ahvl_request_add_range(r, hole, 100, AHV_SPACE_GVA, NULL, "hole"), 1);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_E_HYPERCALL);
	assert_int_equal(ahvl_ctx_last_call(c, &status, NULL, &rcx, &rdx), 2);
	assert_int_equal(status, AHV_E_NOT_PRESENT);
	assert_int_equal(rcx, hole);
	assert_int_equal(rdx, 1);
	ahvl_request_free(r);
	ahvl_signer_free(s);
	/* GET_INFO through the engine */
	struct ahv_hv_info info;
	assert_int_equal(ahvl_get_info(c, &info), AHVL_OK);
	assert_int_equal(info.backend, AHV_BACKEND_VMX);
	write_file("info.bin", &info, sizeof info);
	ahvl_ctx_free(c);
}

/* Read a whole small text file (test helper). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return strdup(buf);
}

/* The JWKS the script fetched out of band (AHVL_VERIFIER_JWKS). */
static void pin_test_jwks(ahvl_verifier *v)
{
	const char *p = getenv("AHVL_VERIFIER_JWKS");
	if (!p)
		fail_msg("AHVL_VERIFIER_JWKS not set");
	char *j = slurp(p);
	assert_int_equal(ahvl_verifier_pin_jwks(v, j), AHVL_OK);
	free(j);
}

/* AHVL_FORGED_TOKENS: lines "NAME NONCE_HEX TOKEN", each signed with the
 * verifier's real token key by PyJWT (verifier_client_test.sh). "control"
 * must pass; every other one (wrong verdict, no verdict, wrong iss,
 * non-canonical or padded base64url) must be refused. */
static void check_forged_tokens(ahvl_verifier *v)
{
	const char *p = getenv("AHVL_FORGED_TOKENS");
	if (!p)
		fail_msg("AHVL_FORGED_TOKENS not set");
	char *text = slurp(p), *save = NULL;
	unsigned n = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], nh[129], tok[4096];
		uint8_t nonce[64];
		size_t nl = 0;
		if (sscanf(line, "%63s %128s %4095s", name, nh, tok) != 3)
			fail_msg("bad forged-token line: %s", line);
		for (; nh[2 * nl]; nl++) {
			unsigned b;
			sscanf(nh + 2 * nl, "%2x", &b);
			nonce[nl] = (uint8_t)b;
		}
		int want = strcmp(name, "control") ? AHVL_E_TOKEN : AHVL_OK;
		int rc = ahvl_token_verify(v, tok, NULL, nonce, nl, NULL);
		if (rc != want)
			fail_msg("forged token %s: got %d (%s), wanted %d", name, rc, ahvl_error_detail(), want);
		n++;
	}
	free(text);
	assert_true(n >= 6);
}

/* With AHVL_VERIFIER_URL set (verifier_client_test.sh starts a real
 * attest-verifierd that enrolled hv.pem and guest.pem): the whole flow
 * through the library's verifier client. */
static void t_verifier(void **st)
{
	(void)st;
	const char *url = getenv("AHVL_VERIFIER_URL");
	if (!url)
		skip();
	ahvl_ctx *c = eng_ctx();
	ahvl_signer *s;
	ahvl_request *r;
	ahvl_verifier *v;
	struct ahvl_evidence ev;
	uint8_t nonce[64];
	size_t nl;
	char *token, *claims;
	/* https is required; http:// only through the explicit opt-out */
	assert_int_equal(ahvl_verifier_new(&v, url), AHVL_E_INVALID);
	assert_int_equal(ahvl_verifier_new(&v, "https://127.0.0.1:1"), AHVL_OK);
	assert_int_equal(ahvl_verifier_set_jwks_url(v, "http://127.0.0.1:1/v1/jwks"), AHVL_E_INVALID);
	ahvl_verifier_free(v);
	assert_int_equal(ahvl_verifier_new_insecure_http(&v, url), AHVL_OK);
	int rc = ahvl_verifier_challenge(v, nonce, sizeof nonce, &nl);
	if (rc)
		fail_msg("challenge: %s", ahvl_error_detail());
	assert_int_equal(nl, 32);
	assert_int_equal(ahvl_signer_from_file(&s, guest_key_path, NULL), AHVL_OK);
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_set_nonce(r, nonce, nl), AHVL_OK);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".text", "guestlib-text"), 0);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_OK);
	rc = ahvl_verifier_submit(v, &ev, r, &token);
	if (rc)
		fail_msg("submit: %s (%s)", ahvl_error_detail(), ahvl_verifier_error_code(v));
	/* no issuer, then no trusted JWKS: refused before any check */
	assert_int_equal(ahvl_token_verify(v, token, NULL, nonce, nl, NULL), AHVL_E_INVALID);
	assert_int_equal(ahvl_verifier_set_issuer(v, "guestlib-test"), AHVL_OK);
	assert_int_equal(ahvl_token_verify(v, token, NULL, nonce, nl, NULL), AHVL_E_INVALID);
	pin_test_jwks(v);
	/* the nonce is not optional */
	assert_int_equal(ahvl_token_verify(v, token, NULL, NULL, 0, NULL), AHVL_E_INVALID);
	rc = ahvl_token_verify(v, token, NULL, nonce, nl, &claims);
	if (rc)
		fail_msg("token: %s", ahvl_error_detail());
	check_forged_tokens(v);
	assert_non_null(strstr(claims, "\"eat_nonce\""));
	assert_non_null(strstr(claims, "guestlib-text"));
	/* the same token for another nonce, or tampered, is refused */
	uint8_t other[32] = {0};
	assert_int_equal(ahvl_token_verify(v, token, NULL, other, sizeof other, NULL), AHVL_E_TOKEN);
	size_t tl = strlen(token);
	token[tl - 5] = token[tl - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(ahvl_token_verify(v, token, NULL, nonce, nl, NULL), AHVL_E_TOKEN);
	free(token);
	free(claims);
	/* a replay of the same evidence: the verifier says nonce_replayed */
	assert_int_equal(ahvl_verifier_submit(v, &ev, r, &token), AHVL_E_VERIFIER);
	assert_string_equal(ahvl_verifier_error_code(v), "nonce_replayed");
	/* a made-up nonce */
	memset(nonce, 0x11, 32);
	assert_int_equal(ahvl_request_set_nonce(r, nonce, 32), AHVL_OK);
	ahvl_evidence_clear(&ev);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_OK);
	assert_int_equal(ahvl_verifier_submit(v, &ev, r, &token), AHVL_E_VERIFIER);
	assert_string_equal(ahvl_verifier_error_code(v), "nonce_unknown");
	ahvl_evidence_clear(&ev);
	ahvl_verifier_free(v);
	/* nobody listening */
	assert_int_equal(ahvl_verifier_new_insecure_http(&v, "http://127.0.0.1:1"), AHVL_OK);
	assert_int_equal(ahvl_verifier_challenge(v, nonce, sizeof nonce, &nl), AHVL_E_NETWORK);
	ahvl_verifier_free(v);
	ahvl_request_free(r);
	ahvl_signer_free(s);
	ahvl_ctx_free(c);
}

/* A watch through the library (docs/watch.md): START, a clean CHECK that
 * ahvl_report_verify accepts, a simulated vCPU write recorded, END, then
 * the id is unknown. */
static void t_watch(void **st)
{
	(void)st;
	ahvl_ctx *c = eng_ctx();
	ahvl_signer *s;
	ahvl_request *r;
	struct ahvl_evidence ev;
	struct ahv_report_hdr h;
	struct ahv_region_result rr;
	struct ahv_watch_record w;
	uint32_t status;
	assert_int_equal(ahvl_signer_from_file(&s, guest_key_path, NULL), AHVL_OK);
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_random_nonce(r, 32), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, (uintptr_t)heap_text, sizeof heap_text, AHV_SPACE_GVA, NULL, NULL), 0);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_START, 60), AHVL_OK);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_OK);
	memcpy(&h, ev.report, sizeof h);
	assert_int_equal(h.watch_state, AHV_WATCH_ACTIVE);
	assert_int_equal(h.watch_since_counter, h.counter);
	uint32_t id = h.watch_id;
	ahvl_evidence_clear(&ev);
	/* clean */
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_CHECK, id), AHVL_OK);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_OK);
	struct ahvl_report_expect ex = {.request = ev.request, .request_len = ev.request_len,
					.allow_flags = AHV_REPORT_F_DEV_KEY};
	assert_int_equal(ahvl_report_verify(ev.report, ev.report_len, (const uint8_t *)hv_pem, strlen(hv_pem), &ex),
			 AHVL_OK);
	memcpy(&rr, ev.report + AHV_REPORT_RESULT_OFFSET(0), sizeof rr);
	assert_int_equal(rr.flags, AHV_RESULT_F_WATCHED);
	ahvl_evidence_clear(&ev);
	/* a vCPU writes the watched page */
	uint8_t x = 'A';
	assert_int_equal(sim_vcpu_write(&sim, AHV_SPACE_GVA, (uintptr_t)heap_text + 5, &x, 1, 0x1234, 2), 1);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END, id), AHVL_OK);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_OK);
	memcpy(&h, ev.report, sizeof h);
	memcpy(&rr, ev.report + AHV_REPORT_RESULT_OFFSET(0), sizeof rr);
	memcpy(&w, rr.digest + AHV_WATCH_RECORD_OFFSET, sizeof w);
	assert_int_equal(h.watch_state, AHV_WATCH_ENDED);
	assert_int_equal(rr.flags, AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED);
	assert_int_equal(w.rip, 0x1234);
	assert_int_equal(w.apic_id, 2);
	ahvl_evidence_clear(&ev);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_CHECK, id), AHVL_OK);
	assert_int_equal(ahvl_attest(c, r, s, AHVL_ATTEST_NO_RETRY, &ev), AHVL_E_HYPERCALL);
	ahvl_ctx_last_call(c, &status, NULL, NULL, NULL);
	assert_int_equal(status, AHV_E_WATCH_UNKNOWN);
	ahvl_request_free(r);
	ahvl_signer_free(s);
	ahvl_ctx_free(c);
}

int main(int argc, char **argv)
{
	fixdir = argc > 1 ? argv[1] : "guestlib-fixtures";
	const struct CMUnitTest tests[] = {cmocka_unit_test(t_roundtrip), cmocka_unit_test(t_engine_errors),
					   cmocka_unit_test(t_verifier), cmocka_unit_test(t_watch)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
