/* lib_test.c - libattest-hv against the scripted fake transport: discovery,
 * request building, signing, residency, every error path and the retries.
 * Label unit; runs under ASan/UBSan. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <attest-hv/attest.h>

#include "fake.h"


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

static char tmpdir[256];
static char key256[300], key384[300];

static char *tpath(const char *name)
{
	static char p[8][400];
	static int i;
	char *o = p[i++ % 8];
	snprintf(o, 400, "%s/%s", tmpdir, name);
	return o;
}

static int setup_all(void **st)
{
	(void)st;
	snprintf(tmpdir, sizeof tmpdir, "%s/ahvl-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(key256, sizeof key256, "%s/k256.pem", tmpdir);
	snprintf(key384, sizeof key384, "%s/k384.pem", tmpdir);
	if (ahvl_keygen_file(key256, AHV_SIG_ECDSA_P256_SHA256) ||
	    ahvl_keygen_file(key384, AHV_SIG_ECDSA_P384_SHA384))
		return -1;
	return 0;
}

static int teardown_all(void **st)
{
	(void)st;
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static ahvl_signer *signer256(void)
{
	ahvl_signer *s = NULL;
	assert_int_equal(ahvl_signer_from_file(&s, key256, NULL), AHVL_OK);
	return s;
}

/* A read-only, page-spanning blob to measure. */
static const char blob[3 * 4096] = "measure me";

static ahvl_request *simple_req(void)
{
	ahvl_request *r = NULL;
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_random_nonce(r, 32), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, (uintptr_t)blob, sizeof blob, AHV_SPACE_GVA, NULL, "blob"), 0);
	return r;
}

/* ---- errors -------------------------------------------------------------- */
static void t_strerror(void **st)
{
	(void)st;
	for (int e = 0; e >= AHVL_E_INTERNAL; e--)
		assert_string_not_equal(ahvl_strerror(e), "unknown error");
	assert_string_equal(ahvl_strerror(-1000), "unknown error");
	assert_string_equal(ahvl_status_name(AHV_E_NOT_PRESENT), "AHV_E_NOT_PRESENT");
	assert_null(ahvl_status_name(0x99));
	assert_string_equal(ahvl_status_message(0x99), "unknown status");
	assert_string_equal(ahvl_version(), "1.0.0");
}

/* ---- discovery --------------------------------------------------------------- */
static int detect_with(struct fake *f, struct ahvl_hv_identity *id)
{
	struct ahvl_transport t = fake_transport(f);
	ahvl_ctx *c;
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	int rc = ahvl_detect(c, id);
	ahvl_ctx_free(c);
	return rc;
}

static void t_detect(void **st)
{
	(void)st;
	struct fake f;
	struct ahvl_hv_identity id;
	fake_init(&f);
	assert_int_equal(detect_with(&f, &id), AHVL_OK);
	assert_int_equal(id.backend, AHV_BACKEND_SVM);
	assert_int_equal(id.wire_major, 1);
	assert_int_equal(id.hv_version, AHV_HV_VERSION(0, 1, 0));
	fake_init(&f);
	f.leaf1_ecx = 0;
	assert_int_equal(detect_with(&f, &id), AHVL_E_NO_HYPERVISOR);
	fake_init(&f);
	memcpy(&f.sig[1], "KVMKVMKVM\0\0\0", 12);
	assert_int_equal(detect_with(&f, &id), AHVL_E_NO_HYPERVISOR);
	assert_non_null(strstr(ahvl_error_detail(), "KVMKVMKVM"));
	fake_init(&f);
	f.sig[0] = AHV_CPUID_LEAF_SIGNATURE;
	assert_int_equal(detect_with(&f, &id), AHVL_E_NO_HYPERVISOR);
	fake_init(&f);
	f.feat[0] = 2u << 16;
	assert_int_equal(detect_with(&f, &id), AHVL_E_UNSUPPORTED);
	fake_init(&f);
	f.feat[3] = 3;
	assert_int_equal(detect_with(&f, &id), AHVL_E_UNSUPPORTED);
	fake_init(&f);
	f.feat[3] = AHV_BACKEND_VMX;
	assert_int_equal(detect_with(&f, NULL), AHVL_OK);
	/* an incomplete transport */
	ahvl_ctx *c;
	struct ahvl_transport t = {0};
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_E_INVALID);
	assert_int_equal(ahvl_ctx_new(NULL, NULL), AHVL_E_INVALID);
}

static void t_get_info(void **st)
{
	(void)st;
	struct fake f;
	struct ahv_hv_info info;
	ahvl_ctx *c;
	fake_init(&f);
	struct ahvl_transport t = fake_transport(&f);
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	assert_int_equal(ahvl_get_info(c, &info), AHVL_OK);
	assert_int_equal(info.magic, AHV_INFO_MAGIC);
	assert_int_equal(f.last_rax, AHV_HC_GET_INFO);
	assert_int_equal(f.last_rcx, AHV_HV_INFO_SIZE);
	assert_int_equal(f.last_backend, AHV_BACKEND_SVM);
	/* BUSY twice, then OK */
	f.calls = 0;
	f.script[0] = (struct fake_answer){.status = AHV_E_BUSY};
	f.script[1] = (struct fake_answer){.status = AHV_E_BUSY};
	f.script[2] = (struct fake_answer){.status = AHV_OK, .rbx = -1};
	f.nscript = 3;
	assert_int_equal(ahvl_get_info(c, &info), AHVL_OK);
	assert_int_equal(ahvl_ctx_last_call(c, NULL, NULL, NULL, NULL), 3);
	/* a failure status */
	f.calls = 0;
	f.script[0] = (struct fake_answer){.status = AHV_E_NOT_WRITABLE, .rcx = 0x1000, .rdx = AHV_OBJ_OUTPUT_BUFFER};
	f.nscript = 1;
	assert_int_equal(ahvl_get_info(c, &info), AHVL_E_HYPERCALL);
	assert_non_null(strstr(ahvl_error_detail(), "AHV_E_NOT_WRITABLE"));
	assert_non_null(strstr(ahvl_error_detail(), "output buffer"));
	/* inconsistent answers */
	f.calls = 0;
	f.script[0] = (struct fake_answer){.status = AHV_OK, .rbx = 100};
	assert_int_equal(ahvl_get_info(c, &info), AHVL_E_BAD_RESPONSE);
	f.calls = 0;
	f.script[0] = (struct fake_answer){.status = AHV_OK, .rbx = -1, .corrupt_magic = true};
	assert_int_equal(ahvl_get_info(c, &info), AHVL_E_BAD_RESPONSE);
	ahvl_ctx_free(c);
	/* feature clear */
	fake_init(&f);
	f.feat[1] &= ~AHV_FEAT_GET_INFO;
	t = fake_transport(&f);
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	assert_int_equal(ahvl_get_info(c, &info), AHVL_E_UNSUPPORTED);
	assert_int_equal(f.calls, 0);
	ahvl_ctx_free(c);
}

/* ---- requests ------------------------------------------------------------------ */
static void t_request_limits(void **st)
{
	(void)st;
	ahvl_request *r;
	uint8_t n[65] = {1};
	assert_int_equal(ahvl_request_new(&r, 0), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_new(&r, 7), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA3_512), AHVL_OK);
	assert_int_equal(ahvl_request_set_nonce(r, n, 7), AHVL_E_LIMIT);
	assert_int_equal(ahvl_request_set_nonce(r, n, 65), AHVL_E_LIMIT);
	assert_int_equal(ahvl_request_set_nonce(r, n, 8), AHVL_OK);
	assert_int_equal(ahvl_request_set_nonce(r, n, 64), AHVL_OK);
	assert_int_equal(ahvl_request_random_nonce(r, 4), AHVL_E_LIMIT);
	uint8_t *enc;
	size_t len;
	assert_int_equal(ahvl_request_encode(r, NULL, &enc, &len), AHVL_E_LIMIT); /* no region */
	assert_int_equal(ahvl_request_add_range(r, 0x1000, 1, 0, NULL, NULL), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_add_range(r, 0x1000, 1, 3, NULL, NULL), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_add_range(r, UINT64_MAX, 2, AHV_SPACE_GVA, NULL, NULL), AHVL_E_LIMIT);
	assert_int_equal(ahvl_request_add_range(r, UINT64_MAX, 1, AHV_SPACE_GVA, NULL, NULL), 0); /* last byte: ok */
	assert_int_equal(ahvl_request_add_range(r, 0, (UINT64_C(1) << 30) + 1, AHV_SPACE_GVA, NULL, NULL), AHVL_E_LIMIT);
	char longname[80];
	memset(longname, 'x', sizeof longname - 1);
	longname[79] = 0;
	assert_int_equal(ahvl_request_add_range(r, 0, 1, AHV_SPACE_GVA, NULL, longname), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_add_range(r, 0, UINT64_C(1) << 30, AHV_SPACE_GVA, NULL, NULL), AHVL_E_LIMIT); /* total */
	for (int i = 1; i < 64; i++)
		assert_int_equal(ahvl_request_add_range(r, 0x1000u * (unsigned)i, 16, AHV_SPACE_GPA, NULL, NULL), i);
	assert_int_equal(ahvl_request_add_range(r, 0, 16, AHV_SPACE_GVA, NULL, NULL), AHVL_E_LIMIT);
	assert_int_equal(ahvl_request_region_count(r), 64);
	assert_int_equal(ahvl_request_encode(r, NULL, &enc, &len), AHVL_OK);
	assert_int_equal(len, AHV_REQUEST_MAX_SIZE);
	assert_int_equal(ahvl_request_verify(enc, len, NULL, 0), AHVL_OK);
	free(enc);
	ahvl_request_free(r);
	/* no nonce */
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, 0, 1, AHV_SPACE_GVA, NULL, NULL), 0);
	assert_int_equal(ahvl_request_encode(r, NULL, &enc, &len), AHVL_E_INVALID);
	ahvl_request_free(r);
}

/* Watch flags and argument (protocol.md §6.4): encoded at offsets 12 and
 * 24 with minor 1; a plain request stays minor 0; bad combinations refused. */
static void t_request_watch(void **st)
{
	(void)st;
	const uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	ahvl_request *r;
	uint8_t *enc;
	size_t len;
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_set_nonce(r, nonce, 8), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, 0x7f0000001000, 3, AHV_SPACE_GVA, NULL, NULL), 0);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_START | AHV_REQ_F_WATCH_CHECK, 1), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_END, 1), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_set_watch(r, 0, 1), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_set_watch(r, 1u << 5, 0), AHVL_E_INVALID);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_START, AHV_WATCH_MAX_LIFETIME_S + 1ull),
			 AHVL_E_LIMIT);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END, 0x1234), AHVL_OK);
	assert_int_equal(ahvl_request_encode(r, NULL, &enc, &len), AHVL_OK);
	assert_int_equal(ahv_le16_get(enc + 6), 1);
	assert_int_equal(ahv_le32_get(enc + 12), AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END);
	assert_int_equal(ahv_le64_get(enc + 24), 0x1234);
	free(enc);
	assert_int_equal(ahvl_request_set_watch(r, 0, 0), AHVL_OK);
	assert_int_equal(ahvl_request_encode(r, NULL, &enc, &len), AHVL_OK);
	assert_int_equal(ahv_le16_get(enc + 6), 0);
	assert_int_equal(ahv_le32_get(enc + 12), 0);
	free(enc);
	ahvl_request_free(r);
	/* a 48-byte hash has no room for the records */
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA384), AHVL_OK);
	assert_int_equal(ahvl_request_set_watch(r, AHV_REQ_F_WATCH_START, 0), AHVL_E_INVALID);
	ahvl_request_free(r);
}

/* The protocol.md §12.1 worked example, byte for byte. */
static void t_request_bytes(void **st)
{
	(void)st;
	static const uint8_t want[0x80] = {
		0x41, 0x48, 0x56, 0x51, 0x01, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0, 0, 0, 0,
		0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, [0x60] = 0x00, 0x10, 0x00, 0x00,
		0x00, 0x7f, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01};
	const uint8_t nonce[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	ahvl_request *r;
	ahvl_signer *s = signer256();
	uint8_t *enc, id[32];
	size_t len;
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_set_nonce(r, nonce, 8), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, 0x7f0000001000, 3, AHV_SPACE_GVA, NULL, NULL), 0);
	assert_int_equal(ahvl_request_encode(r, s, &enc, &len), AHVL_OK);
	assert_int_equal(len, 320);
	assert_memory_equal(enc, want, sizeof want);
	assert_int_equal(ahvl_signer_key_id(s, id), AHVL_OK);
	assert_memory_equal(enc + 192, id, 32);
	uint8_t zero[32] = {0};
	assert_memory_equal(enc + 288, zero, 32); /* P-256 signature padding */
	/* the signature verifies with the public key; a flipped byte does not */
	char *pem;
	assert_int_equal(ahvl_signer_public_pem(s, &pem), AHVL_OK);
	assert_int_equal(ahvl_request_verify(enc, len, (uint8_t *)pem, strlen(pem)), AHVL_OK);
	enc[0x60] ^= 1;
	assert_int_equal(ahvl_request_verify(enc, len, (uint8_t *)pem, strlen(pem)), AHVL_E_BAD_SIGNATURE);
	enc[0x60] ^= 1;
	enc[300] = 1; /* signature padding */
	assert_int_equal(ahvl_request_verify(enc, len, NULL, 0), AHVL_E_FORMAT);
	free(pem);
	free(enc);
	/* a claimed digest */
	uint8_t claim[32];
	memset(claim, 0xab, sizeof claim);
	assert_int_equal(ahvl_request_add_range(r, 0x1000, 4, AHV_SPACE_GVA, claim, "c"), 1);
	assert_int_equal(ahvl_request_encode(r, s, &enc, &len), AHVL_OK);
	assert_int_equal(enc[AHV_REQUEST_REGION_OFFSET(1) + 20], AHV_REGION_F_CLAIMED);
	assert_memory_equal(enc + AHV_REQUEST_REGION_OFFSET(1) + 24, claim, 32);
	assert_int_equal(ahvl_request_verify(enc, len, NULL, 0), AHVL_OK);
	assert_string_equal(ahvl_request_region_name(r, 1), "c");
	assert_string_equal(ahvl_request_region_name(r, 9), "");
	free(enc);
	ahvl_signer_free(s);
	ahvl_request_free(r);
}

extern char __executable_start;
static void t_request_elf(void **st)
{
	(void)st;
	ahvl_request *r;
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA256), AHVL_OK);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".text", NULL), 0);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".rodata", "ro"), 1);
	assert_int_equal(ahvl_request_add_segment(r, NULL, 0, NULL), 2);
	assert_string_equal(ahvl_request_region_name(r, 0), ".text");
	assert_string_equal(ahvl_request_region_name(r, 1), "ro");
	assert_string_equal(ahvl_request_region_name(r, 2), "LOAD0");
	/* .text contains this very function */
	uint8_t *enc;
	size_t len;
	assert_int_equal(ahvl_request_random_nonce(r, 16), AHVL_OK);
	assert_int_equal(ahvl_request_encode(r, NULL, &enc, &len), AHVL_OK);
	uint64_t a = ahv_le64_get(enc + AHV_REQUEST_REGION_OFFSET(0));
	uint64_t n = ahv_le64_get(enc + AHV_REQUEST_REGION_OFFSET(0) + 8);
	uintptr_t me = (uintptr_t)&t_request_elf;
	assert_true(me >= a && me < a + n);
	/* LOAD0 starts at the ELF header */
	assert_int_equal(ahv_le64_get(enc + AHV_REQUEST_REGION_OFFSET(2)), (uintptr_t)&__executable_start);
	assert_memory_equal((const void *)(uintptr_t)ahv_le64_get(enc + AHV_REQUEST_REGION_OFFSET(2)), "\177ELF", 4);
	free(enc);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".no-such", NULL), AHVL_E_NOT_FOUND);
	assert_int_equal(ahvl_request_add_section(r, NULL, ".bss", NULL), AHVL_E_NOT_FOUND); /* NOBITS */
	assert_int_equal(ahvl_request_add_section(r, NULL, ".comment", NULL), AHVL_E_NOT_FOUND); /* not ALLOC */
	assert_int_equal(ahvl_request_add_segment(r, NULL, 99, NULL), AHVL_E_NOT_FOUND);
	assert_int_equal(ahvl_request_add_section(r, "libnothere.so", ".text", NULL), AHVL_E_NOT_FOUND);
	/* a shared object by base name */
	assert_int_equal(ahvl_request_add_section(r, "libc.so.6", ".text", "libc-text"), 3);
	ahvl_request_free(r);
}

/* ---- signers ------------------------------------------------------------------ */
static void write_pkey(const char *path, EVP_PKEY *k, int der, const char *pass)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (der)
		assert_int_equal(i2d_PKCS8PrivateKey_fp(f, k, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
							   (void *)pass), 1);
	fclose(f);
}

static void t_signers(void **st)
{
	(void)st;
	ahvl_signer *s;
	uint8_t id1[32], id2[32];
	assert_int_equal(ahvl_signer_from_file(&s, key384, NULL), AHVL_OK);
	assert_int_equal(ahvl_signer_sig_alg(s), AHV_SIG_ECDSA_P384_SHA384);
	ahvl_signer_free(s);
	/* PKCS#8 DER and encrypted PEM of the same key: same key id */
	EVP_PKEY *k = EVP_EC_gen("P-256");
	assert_non_null(k);
	write_pkey(tpath("k.der"), k, 1, NULL);
	write_pkey(tpath("k.enc.pem"), k, 0, "sesame");
	assert_int_equal(ahvl_signer_from_file(&s, tpath("k.der"), NULL), AHVL_OK);
	assert_int_equal(ahvl_signer_key_id(s, id1), AHVL_OK);
	ahvl_signer_free(s);
	assert_int_equal(ahvl_signer_from_file(&s, tpath("k.enc.pem"), "sesame"), AHVL_OK);
	assert_int_equal(ahvl_signer_key_id(s, id2), AHVL_OK);
	assert_memory_equal(id1, id2, 32);
	ahvl_signer_free(s);
	assert_int_equal(ahvl_signer_from_file(&s, tpath("k.enc.pem"), "wrong"), AHVL_E_KEY);
	assert_null(s);
	EVP_PKEY_free(k);
	/* wrong key types, garbage, missing file */
	k = EVP_EC_gen("P-521");
	write_pkey(tpath("k521.pem"), k, 0, NULL);
	EVP_PKEY_free(k);
	assert_int_equal(ahvl_signer_from_file(&s, tpath("k521.pem"), NULL), AHVL_E_KEY);
	k = EVP_RSA_gen(1024);
	write_pkey(tpath("rsa.pem"), k, 0, NULL);
	EVP_PKEY_free(k);
	assert_int_equal(ahvl_signer_from_file(&s, tpath("rsa.pem"), NULL), AHVL_E_KEY);
	FILE *f = fopen(tpath("junk"), "w");
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_equal(ahvl_signer_from_file(&s, tpath("junk"), NULL), AHVL_E_KEY);
	assert_int_equal(ahvl_signer_from_file(&s, tpath("missing"), NULL), AHVL_E_KEY);
	assert_int_equal(ahvl_signer_from_file(&s, NULL, NULL), AHVL_E_INVALID);
	/* keygen never overwrites; mode 0600 */
	assert_int_equal(ahvl_keygen_file(key256, AHV_SIG_ECDSA_P256_SHA256), AHVL_E_IO);
	assert_int_equal(ahvl_keygen_file(tpath("x.pem"), 9), AHVL_E_INVALID);
	assert_int_equal(access(tpath("x.pem"), F_OK), -1);
	/* TPM signer without a reachable TPM: a clean error */
	assert_int_equal(ahvl_signer_from_tpm(&s, key256, "swtpm:host=127.0.0.1,port=1"), AHVL_E_TPM);
}

/* ---- attest ----------------------------------------------------------------- */
struct logbuf {
	int lines;
	char last[512];
};
static void logfn(void *u, const char *line)
{
	struct logbuf *l = u;
	l->lines++;
	snprintf(l->last, sizeof l->last, "%s", line);
}

static int attest_with(struct fake *f, ahvl_request *r, unsigned flags, struct ahvl_evidence *ev,
		       int *calls)
{
	struct ahvl_transport t = fake_transport(f);
	ahvl_ctx *c;
	ahvl_signer *s = signer256();
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	int rc = ahvl_attest(c, r, s, flags, ev);
	if (calls)
		*calls = ahvl_ctx_last_call(c, NULL, NULL, NULL, NULL);
	ahvl_ctx_free(c);
	ahvl_signer_free(s);
	return rc;
}

static void t_attest_ok(void **st)
{
	(void)st;
	struct fake f;
	struct ahvl_evidence ev;
	ahvl_request *r = simple_req();
	fake_init(&f);
	int calls;
	struct ahvl_transport t = fake_transport(&f);
	ahvl_ctx *c;
	struct logbuf lb = {0};
	ahvl_signer *s = signer256();
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	ahvl_ctx_set_log(c, logfn, &lb);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_OK);
	calls = ahvl_ctx_last_call(c, NULL, NULL, NULL, NULL);
	assert_int_equal(calls, 1);
	/* registers per protocol.md §3.2 */
	assert_int_equal(f.last_rax, AHV_HC_ATTEST_GUEST_MEMORY);
	assert_int_equal(f.last_rcx, AHV_REQUEST_SIZE(1));
	assert_int_equal(f.last_rsi, AHV_REPORT_SIZE(1));
	assert_int_equal(f.last_backend, AHV_BACKEND_SVM);
	/* report buffer written and every named page resident at the call */
	assert_true(f.out_resident);
	assert_true(f.regions_resident);
	assert_int_equal(ev.request_len, AHV_REQUEST_SIZE(1));
	assert_int_equal(ev.report_len, AHV_REPORT_SIZE(1));
	char *pem;
	assert_int_equal(ahvl_signer_public_pem(s, &pem), AHVL_OK);
	assert_int_equal(ahvl_request_verify(ev.request, ev.request_len, (uint8_t *)pem, strlen(pem)), AHVL_OK);
	free(pem);
	ahvl_evidence_clear(&ev);
	assert_null(ev.report);
	/* the buffers are gone after the call: no leak of locked pages */
	ahvl_ctx_free(c);
	ahvl_signer_free(s);
	/* VMX back end: the library says VMCALL */
	fake_init(&f);
	f.feat[3] = AHV_BACKEND_VMX;
	assert_int_equal(attest_with(&f, r, AHVL_ATTEST_REQUIRE_LOCK, &ev, &calls), AHVL_OK);
	assert_int_equal(f.last_backend, AHV_BACKEND_VMX);
	ahvl_evidence_clear(&ev);
	ahvl_request_free(r);
}

static void t_attest_retry(void **st)
{
	(void)st;
	struct fake f;
	struct ahvl_evidence ev;
	ahvl_request *r = simple_req();
	int calls;
	/* NOT_PRESENT once, then OK: two calls */
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_E_NOT_PRESENT, .rcx = (uintptr_t)blob + 4096, .rdx = 0};
	f.script[1] = (struct fake_answer){.status = AHV_OK, .rbx = -1};
	f.nscript = 2;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_OK);
	assert_int_equal(calls, 2);
	ahvl_evidence_clear(&ev);
	/* ... in the output buffer, too */
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_E_NOT_PRESENT, .rcx = 0, .rdx = AHV_OBJ_OUTPUT_BUFFER};
	f.script[1] = (struct fake_answer){.status = AHV_OK, .rbx = -1};
	f.nscript = 2;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_OK);
	assert_int_equal(calls, 2);
	ahvl_evidence_clear(&ev);
	/* NOT_PRESENT twice: only one retry */
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_E_NOT_PRESENT, .rcx = (uintptr_t)blob, .rdx = 0};
	f.nscript = 1;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_HYPERCALL);
	assert_int_equal(calls, 2);
	assert_non_null(strstr(ahvl_error_detail(), "AHV_E_NOT_PRESENT"));
	assert_non_null(strstr(ahvl_error_detail(), "region 0 (blob)"));
	assert_null(ev.report);
	/* NO_RETRY */
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_E_NOT_PRESENT, .rcx = (uintptr_t)blob, .rdx = 0};
	assert_int_equal(attest_with(&f, r, AHVL_ATTEST_NO_RETRY, &ev, &calls), AHVL_E_HYPERCALL);
	assert_int_equal(calls, 1);
	/* BUSY: up to three retries */
	fake_init(&f);
	for (int i = 0; i < 3; i++)
		f.script[i] = (struct fake_answer){.status = AHV_E_BUSY};
	f.script[3] = (struct fake_answer){.status = AHV_OK, .rbx = -1};
	f.nscript = 4;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_OK);
	assert_int_equal(calls, 4);
	ahvl_evidence_clear(&ev);
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_E_BUSY};
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_HYPERCALL);
	assert_int_equal(calls, 4);
	ahvl_request_free(r);
}

static void t_attest_statuses(void **st)
{
	(void)st;
	static const uint32_t all[] = {
		AHV_E_BAD_FUNCTION, AHV_E_BAD_MODE, AHV_E_NO_KEY, AHV_E_INTERNAL, AHV_E_REQUEST_SIZE,
		AHV_E_BUFFER_TOO_SMALL, AHV_E_BAD_MAGIC, AHV_E_BAD_VERSION, AHV_E_RESERVED,
		AHV_E_BAD_HASH_ALG, AHV_E_BAD_SIG_ALG, AHV_E_BAD_NONCE_LEN, AHV_E_BAD_REGION_COUNT,
		AHV_E_BAD_SPACE, AHV_E_RANGE_WRAP, AHV_E_NONCANONICAL, AHV_E_TOO_MANY_BYTES,
		AHV_E_UNKNOWN_KEY, AHV_E_KEY_MISMATCH, AHV_E_BAD_SIGNATURE, AHV_E_PRIVILEGE,
		AHV_E_NOT_USER, AHV_E_NOT_WRITABLE, AHV_E_GUEST_RSVD, AHV_E_NESTED_FAULT,
		AHV_E_NOT_RAM, AHV_E_HV_MEMORY, AHV_E_TIME_LIMIT, 0x77 /* unknown */};
	struct fake f;
	struct ahvl_evidence ev;
	ahvl_request *r = simple_req();
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		int calls;
		fake_init(&f);
		f.script[0] = (struct fake_answer){.status = all[i], .rcx = 24, .rdx = AHV_OBJ_REQUEST_FIELD};
		assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_HYPERCALL);
		assert_int_equal(calls, 1);
		const char *nm = ahvl_status_name(all[i]);
		if (nm)
			assert_non_null(strstr(ahvl_error_detail(), nm));
		assert_non_null(strstr(ahvl_error_detail(), "offset 24"));
		assert_null(ev.report);
	}
	/* inconsistent successes */
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_OK, .rbx = 10};
	assert_int_equal(attest_with(&f, r, 0, &ev, NULL), AHVL_E_BAD_RESPONSE);
	f.calls = 0;
	f.script[0] = (struct fake_answer){.status = AHV_OK, .rbx = -1, .corrupt_magic = true};
	assert_int_equal(attest_with(&f, r, 0, &ev, NULL), AHVL_E_BAD_RESPONSE);
	f.calls = 0;
	f.script[0] = (struct fake_answer){.status = AHV_OK, .rbx = -1, .corrupt_nonce = true};
	assert_int_equal(attest_with(&f, r, 0, &ev, NULL), AHVL_E_BAD_RESPONSE);
	ahvl_request_free(r);
}

static void t_attest_refused_early(void **st)
{
	(void)st;
	struct fake f;
	struct ahvl_evidence ev;
	ahvl_request *r = simple_req();
	int calls;
	/* not attest-hv */
	fake_init(&f);
	f.leaf1_ecx = 0;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_NO_HYPERVISOR);
	assert_int_equal(f.calls, 0);
	/* no key */
	fake_init(&f);
	f.feat[1] &= ~AHV_FEAT_ATTEST;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_UNSUPPORTED);
	assert_int_equal(f.calls, 0);
	/* guest-physical from CPL3 */
	assert_int_equal(ahvl_request_add_range(r, 0x100000, 4096, AHV_SPACE_GPA, NULL, NULL), 1);
	fake_init(&f);
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_PRIVILEGE);
	assert_int_equal(f.calls, 0);
	/* ... from CPL0 without the feature, and with it */
	fake_init(&f);
	f.cpl = 0;
	f.feat[1] &= ~AHV_FEAT_GPA_REGIONS;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_UNSUPPORTED);
	fake_init(&f);
	f.cpl = 0;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_OK);
	ahvl_evidence_clear(&ev);
	ahvl_request_free(r);
	/* SHA-3 without AHV_FEAT_SHA3 */
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA3_256), AHVL_OK);
	assert_int_equal(ahvl_request_random_nonce(r, 8), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, (uintptr_t)blob, 8, AHV_SPACE_GVA, NULL, NULL), 0);
	fake_init(&f);
	f.feat[1] &= ~AHV_FEAT_SHA3;
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_E_UNSUPPORTED);
	fake_init(&f);
	assert_int_equal(attest_with(&f, r, 0, &ev, &calls), AHVL_OK);
	ahvl_evidence_clear(&ev);
	ahvl_request_free(r);
	/* NULLs */
	assert_int_equal(ahvl_attest(NULL, NULL, NULL, 0, &ev), AHVL_E_INVALID);
}

/* A region that is not mapped in this process: the library must not crash
 * while making it resident; it logs and lets the hypervisor answer. */
static void t_attest_unmapped(void **st)
{
	(void)st;
	struct fake f;
	struct ahvl_evidence ev;
	ahvl_request *r = simple_req();
	uintptr_t hole = hole_addr();
	char where[64];
	snprintf(where, sizeof where, "region 1 (hole) at 0x%lx", (unsigned long)hole);
	assert_int_equal(ahvl_request_add_range(r, hole, 8192, AHV_SPACE_GVA, NULL, "hole"), 1);
	fake_init(&f);
	f.script[0] = (struct fake_answer){.status = AHV_E_NOT_PRESENT, .rcx = hole, .rdx = 1};
	struct ahvl_transport t = fake_transport(&f);
	ahvl_ctx *c;
	struct logbuf lb = {0};
	ahvl_signer *s = signer256();
	assert_int_equal(ahvl_ctx_new(&c, &t), AHVL_OK);
	ahvl_ctx_set_log(c, logfn, &lb);
	assert_int_equal(ahvl_attest(c, r, s, 0, &ev), AHVL_E_HYPERCALL);
	assert_true(lb.lines >= 2); /* "not readable" and the retry */
	assert_non_null(strstr(ahvl_error_detail(), where));
	uint32_t stt;
	uint64_t rcx, rdx;
	assert_int_equal(ahvl_ctx_last_call(c, &stt, NULL, &rcx, &rdx), 2);
	assert_int_equal(stt, AHV_E_NOT_PRESENT);
	assert_int_equal(rcx, hole);
	assert_int_equal(rdx, 1);
	/* REQUIRE_LOCK: an unmapped range cannot be locked */
	/* (ASan replaces mlock with a no-op that succeeds: only checked when
	 * mlock is real, i.e. fails on the hole itself.) */
	if (mlock((void *)hole, 4096) != 0)
		assert_int_equal(ahvl_attest(c, r, s, AHVL_ATTEST_REQUIRE_LOCK, &ev), AHVL_E_RESIDENCY);
	ahvl_ctx_free(c);
	ahvl_signer_free(s);
	ahvl_request_free(r);
}

/* ---- offline decoding of what the fake produced ------------------------------ */
static void t_describe(void **st)
{
	(void)st;
	ahvl_request *r = simple_req();
	ahvl_signer *s = signer256();
	uint8_t *enc;
	size_t len;
	char *out;
	assert_int_equal(ahvl_request_encode(r, s, &enc, &len), AHVL_OK);
	assert_int_equal(ahvl_describe(enc, len, 1, &out), AHVL_OK);
	assert_non_null(strstr(out, "\"type\": \"request\""));
	assert_non_null(strstr(out, "\"structure\": \"ok\""));
	free(out);
	assert_int_equal(ahvl_describe(enc, len, 0, &out), AHVL_OK);
	assert_non_null(strstr(out, "hash_alg          sha256"));
	free(out);
	assert_int_equal(ahvl_describe(enc, 3, 0, &out), AHVL_E_FORMAT);
	assert_int_equal(ahvl_describe(enc, 100, 1, &out), AHVL_OK); /* truncated: decoded, flagged */
	assert_null(strstr(out, "\"structure\": \"ok\""));
	free(out);
	free(enc);
	ahvl_signer_free(s);
	ahvl_request_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_strerror),        cmocka_unit_test(t_detect),
		cmocka_unit_test(t_get_info),        cmocka_unit_test(t_request_limits),
		cmocka_unit_test(t_request_bytes),
		cmocka_unit_test(t_request_watch),   cmocka_unit_test(t_request_elf),
		cmocka_unit_test(t_signers),         cmocka_unit_test(t_attest_ok),
		cmocka_unit_test(t_attest_retry),    cmocka_unit_test(t_attest_statuses),
		cmocka_unit_test(t_attest_refused_early), cmocka_unit_test(t_attest_unmapped),
		cmocka_unit_test(t_describe),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
