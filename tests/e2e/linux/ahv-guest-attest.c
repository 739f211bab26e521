/*
 * ahv-guest-attest.c - minimal Linux guest client of the e2e-svm tests (until
 * libattest-hv is in the initramfs): a user process (CPL3) that attests its
 * own text and a data buffer through VMMCALL, prints the report in hex for
 * the host checker, and tries what a CPL3 caller must not do.
 * Built statically against OpenSSL's libcrypto by scripts/linux-guest.sh.
 *
 *   ahv-guest-attest GUEST_KEY.pem [--nonce HEX] [--json FILE]
 *     --nonce HEX  use this nonce (a verifier's challenge), else random
 *     --json FILE  write {"request": b64, "report": b64} for POST /v1/attest
 * Markers (console): AHV-LINUX: case <name> ok|FAIL, AHV-LINUX-REPORT <hex>,
 * AHV-LINUX-NONCE <hex>, AHV-LINUX-DIGEST0 <hex>, AHV-LINUX: PASS|FAIL.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include "attest/wire.h"

extern const char __executable_start[], etext[];
static uint8_t data_buf[3 * 4096 + 123];
static uint8_t req[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE];
static uint8_t good_req[AHV_REQUEST_MAX_SIZE], good_rep[AHV_REPORT_MAX_SIZE];
static size_t good_req_len, good_rep_len;

static int write_json(const char *path)
{
	static unsigned char b1[AHV_REQUEST_MAX_SIZE * 2], b2[AHV_REPORT_MAX_SIZE * 2];
	EVP_EncodeBlock(b1, good_req, (int)good_req_len);
	EVP_EncodeBlock(b2, good_rep, (int)good_rep_len);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "{\"request\": \"%s\", \"report\": \"%s\", \"region_names\": [null, null]}\n", b1, b2);
	return fclose(f);
}
static int checks, fails;

struct hc { uint64_t rax, rbx, rcx, rdx, rsi; };
static void vmmcall(struct hc *h)
{
	__asm__ volatile("vmmcall" : "+a"(h->rax), "+b"(h->rbx), "+c"(h->rcx), "+d"(h->rdx), "+S"(h->rsi) : : "memory");
}

static void hexline(const char *tag, const uint8_t *b, size_t n)
{
	for (size_t off = 0; off < n; off += 64) {
		printf("%s ", tag);
		for (size_t i = off; i < n && i < off + 64; i++)
			printf("%02x", b[i]);
		printf("\n");
	}
}

static void check(int ok, const char *name, uint64_t got, uint64_t want)
{
	checks++;
	fails += !ok;
	printf("AHV-LINUX: case %s %s status=0x%llx want=0x%llx\n", name, ok ? "ok" : "FAIL",
	       (unsigned long long)got, (unsigned long long)want);
}

static EVP_PKEY *key;
static uint8_t key_id[32];

static struct ahv_region *region(unsigned i) { return (struct ahv_region *)(req + AHV_REQUEST_REGION_OFFSET(i)); }

static size_t init_req(unsigned n, const uint8_t *nonce, size_t nonce_len)
{
	size_t len = AHV_REQUEST_SIZE(n);
	memset(req, 0, len);
	struct ahv_request_hdr *h = (void *)req;
	h->magic = AHV_REQUEST_MAGIC;
	h->version_major = AHV_WIRE_VERSION_MAJOR;
	h->version_minor = AHV_WIRE_VERSION_MINOR;
	h->total_size = (uint32_t)len;
	h->hash_alg = AHV_WIRE_HASH_SHA256;
	h->sig_alg = AHV_SIG_ECDSA_P256_SHA256;
	h->region_count = (uint16_t)n;
	h->nonce_len = (uint16_t)nonce_len;
	memcpy(h->nonce, nonce, nonce_len);
	for (unsigned i = 0; i < n; i++)
		region(i)->space = AHV_SPACE_GVA;
	memcpy(req + AHV_REQUEST_TAIL_OFFSET(n), key_id, 32);
	return len;
}

/* ECDSA P-256 over SHA-256 of the signed span, raw r||s (protocol.md §8.1). */
static int sign_req(unsigned n)
{
	uint8_t der[128];
	size_t dl = sizeof(der);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		 EVP_DigestSign(ctx, der, &dl, req, AHV_REQUEST_SIGNED_SIZE(n)) == 1;
	EVP_MD_CTX_free(ctx);
	const uint8_t *q = der;
	ECDSA_SIG *sig = ok ? d2i_ECDSA_SIG(NULL, &q, (long)dl) : NULL;
	if (!sig)
		return -1;
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(sig, &r, &s);
	uint8_t *out = req + AHV_REQUEST_SIG_OFFSET(n);
	memset(out, 0, AHV_SIG_FIELD_SIZE);
	BN_bn2binpad(r, out, 32);
	BN_bn2binpad(s, out + 32, 32);
	ECDSA_SIG_free(sig);
	return 0;
}

static struct hc attest(size_t len, void *report, uint64_t cap)
{
	struct hc h = {AHV_HC_ATTEST_GUEST_MEMORY, (uint64_t)(uintptr_t)req, len, (uint64_t)(uintptr_t)report, cap};
	vmmcall(&h);
	return h;
}

int main(int argc, char **argv)
{
	unsigned a, b, c, d;
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *nonce_hex = NULL, *json = NULL;
	if (argc < 2) {
		fprintf(stderr, "usage: %s GUEST_KEY.pem [--nonce HEX] [--json FILE]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--nonce"))
			nonce_hex = argv[i + 1];
		else if (!strcmp(argv[i], "--json"))
			json = argv[i + 1];
	}
	/* Discovery (protocol.md §2): hypervisor bit, then the full signature. */
	__cpuid(1, a, b, c, d);
	int present = (c >> 31) & 1;
	__cpuid(AHV_CPUID_LEAF_SIGNATURE, a, b, c, d);
	if (!present || a < AHV_CPUID_MAX_LEAF || b != AHV_CPUID_SIG_EBX || c != AHV_CPUID_SIG_ECX || d != AHV_CPUID_SIG_EDX) {
		printf("AHV-LINUX: FAIL attest-hv not found (hypervisor bit %d)\n", present);
		return 1;
	}
	__cpuid(AHV_CPUID_LEAF_FEATURES, a, b, c, d);
	printf("AHV-LINUX: discovery ok: AttestHVisor wire %x features %x backend %u\n", a, b, d);
	if (d != AHV_BACKEND_SVM) {
		printf("AHV-LINUX: FAIL backend %u is not SVM (VMMCALL)\n", d);
		return 1;
	}
	FILE *f = fopen(argv[1], "r");
	key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!key) {
		printf("AHV-LINUX: FAIL cannot read the guest key %s\n", argv[1]);
		return 1;
	}
	uint8_t spki[200], *p = spki;
	int sl = i2d_PUBKEY(key, &p);
	SHA256(spki, (size_t)sl, key_id);

	/* Every page we name must be present: lock them all in. */
	for (size_t i = 0; i < sizeof(data_buf); i++)
		data_buf[i] = (uint8_t)(i ^ 0x5c);
	memset(rep, 0, sizeof(rep));
	if (mlockall(MCL_CURRENT))
		perror("mlockall");

	/* GET_INFO from CPL3 */
	static uint8_t info[AHV_HV_INFO_SIZE];
	struct hc h = {AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info, sizeof(info), 0, 0};
	vmmcall(&h);
	check(h.rax == AHV_OK && h.rbx == AHV_HV_INFO_SIZE, "get-info-cpl3", h.rax, AHV_OK);

	/* The good attestation: own text + data buffer. */
	uint8_t nonce[32];
	RAND_bytes(nonce, sizeof(nonce));
	if (nonce_hex) {
		for (size_t i = 0; i < sizeof(nonce); i++) {
			unsigned v;
			if (sscanf(nonce_hex + 2 * i, "%2x", &v) != 1) {
				printf("AHV-LINUX: FAIL bad --nonce\n");
				return 1;
			}
			nonce[i] = (uint8_t)v;
		}
	}
	size_t len = init_req(2, nonce, sizeof(nonce));
	region(0)->address = (uint64_t)(uintptr_t)__executable_start;
	region(0)->size = (uint64_t)(etext - __executable_start);
	region(1)->address = (uint64_t)(uintptr_t)data_buf;
	region(1)->size = sizeof(data_buf);
	sign_req(2);
	h = attest(len, rep, sizeof(rep));
	uint8_t d0[32], d1[32];
	SHA256((const uint8_t *)__executable_start, (size_t)(etext - __executable_start), d0);
	SHA256(data_buf, sizeof(data_buf), d1);
	const struct ahv_region_result *rr = (const void *)(rep + AHV_REPORT_RESULT_OFFSET(0));
	int ok = h.rax == AHV_OK && h.rbx == AHV_REPORT_SIZE(2) && !memcmp(rr[0].digest, d0, 32) &&
		 !memcmp(rr[1].digest, d1, 32) && ((struct ahv_report_hdr *)rep)->caller_cpl == 3;
	printf("AHV-LINUX: attested text %p+%zu and data %p+%zu: status 0x%llx\n", (void *)__executable_start,
	       (size_t)(etext - __executable_start), (void *)data_buf, sizeof(data_buf), (unsigned long long)h.rax);
	check(ok, "attest-own-text-and-data", h.rax, AHV_OK);
	if (h.rax == AHV_OK) {
		memcpy(good_req, req, len);
		good_req_len = len;
		memcpy(good_rep, rep, AHV_REPORT_SIZE(2));
		good_rep_len = AHV_REPORT_SIZE(2);
		hexline("AHV-LINUX-REPORT", rep, AHV_REPORT_SIZE(2));
		hexline("AHV-LINUX-NONCE", nonce, sizeof(nonce));
		hexline("AHV-LINUX-DIGEST0", d0, 32);
	}

	/* What a CPL3 caller must not do (protocol.md §4). */
	static const struct { const char *name; uint64_t addr, size; uint32_t space; uint64_t want; } bad[] = {
		/* The IDT page of the cpu_entry_area: at a fixed address, kernel
		 * only, mapped in every address space (with or without PTI). */
		{"cpl3-kernel-page", 0xfffffe0000000000ull, 64, AHV_SPACE_GVA, AHV_E_NOT_USER},
		{"cpl3-gpa-region", 0x100000, 64, AHV_SPACE_GPA, AHV_E_PRIVILEGE},
		{"cpl3-unmapped-user-page", 0x10000, 64, AHV_SPACE_GVA, AHV_E_NOT_PRESENT},
		{"cpl3-noncanonical", 0x0000800000000000ull, 64, AHV_SPACE_GVA, AHV_E_NONCANONICAL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = init_req(1, nonce, sizeof(nonce));
		region(0)->address = bad[i].addr;
		region(0)->size = bad[i].size;
		region(0)->space = bad[i].space;
		sign_req(1);
		h = attest(len, rep, sizeof(rep));
		check(h.rax == bad[i].want && h.rdx == 0, bad[i].name, h.rax, bad[i].want);
	}
	/* A read-only report buffer. */
	uint8_t *ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	memset(ro, 0, 8192);
	mprotect(ro, 8192, PROT_READ);
	len = init_req(1, nonce, sizeof(nonce));
	region(0)->address = (uint64_t)(uintptr_t)data_buf;
	region(0)->size = 16;
	sign_req(1);
	h = attest(len, ro, 8192);
	check(h.rax == AHV_E_NOT_WRITABLE && h.rdx == AHV_OBJ_OUTPUT_BUFFER, "cpl3-readonly-report", h.rax, AHV_E_NOT_WRITABLE);

	if (json && good_rep_len && write_json(json))
		printf("AHV-LINUX: cannot write %s\n", json);
	if (fails)
		printf("AHV-LINUX: FAIL %d of %d checks\n", fails, checks);
	else
		printf("AHV-LINUX: PASS %d checks\n", checks);
	return fails != 0;
}
