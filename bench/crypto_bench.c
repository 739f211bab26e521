/*
 * crypto_bench.c - our crypto API against OpenSSL's EVP on the same buffers,
 * in one run (docs/testing.md). Each round hashes a 1 MiB buffer
 * repeatedly for ~0.2 s per side, sides alternating; the median round of
 * each side gives MB/s. Prints BENCH lines; asserts nothing.
 *
 *   crypto_bench [--rounds N] [--portable]
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ahv/crypto.h"

#define BUF (1u << 20)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef void (*hash_fn)(const void *ctx, const uint8_t *buf, uint8_t *out);

static double mbps(hash_fn fn, const void *ctx, const uint8_t *buf)
{
	uint8_t out[64];
	double t0 = now(), t;
	unsigned n = 0;

	do {
		fn(ctx, buf, out);
		n++;
		t = now() - t0;
	} while (t < 0.2);
	return n * (double)BUF / t / 1e6;
}

static void ours(const void *ctx, const uint8_t *buf, uint8_t *out)
{
	if (ahv_hash(*(const ahv_hash_alg *)ctx, buf, BUF, out) != AHV_CRYPTO_OK)
		abort();
}

static void theirs(const void *ctx, const uint8_t *buf, uint8_t *out)
{
	unsigned len;
	if (!EVP_Digest(buf, BUF, out, &len, (const EVP_MD *)ctx, NULL))
		abort();
}

/* What the freestanding build pays to keep guest vector state: one
 * FXSAVE64/FXRSTOR64 pair per SHA-NI run (crypto/src/sha256.c), measured
 * here against SHA-256 of one 4 KiB page, the engine's smallest run. */
static void fxsave_overhead(const uint8_t *buf)
{
	static _Alignas(16) unsigned char fx[512];
	uint8_t out[32];
	const int n = 200000;
	double t0, pair_ns, page_ns;

	t0 = now();
	for (int i = 0; i < n; i++) {
		__asm__ volatile("fxsave64 %0" : "=m"(fx));
		__asm__ volatile("fxrstor64 %0" : : "m"(fx));
	}
	pair_ns = (now() - t0) / n * 1e9;
	{
		ahv_hash_ctx c;
		t0 = now();
		for (int i = 0; i < n / 4; i++) {
			ahv_hash_init(&c, AHV_HASH_SHA256);
			ahv_hash_update(&c, buf, 4096);
			ahv_hash_final(&c, out);
		}
		page_ns = (now() - t0) / (n / 4) * 1e9;
	}
	printf("BENCH fxsave_fxrstor_pair_ns %.1f ns\n", pair_ns);
	printf("BENCH sha256_4kib_ns %.0f ns\n", page_ns);
	printf("BENCH sha256_fxsave_overhead_4kib_pct %.2f %%\n", 100.0 * pair_ns / page_ns);
}

int main(int argc, char **argv)
{
	static const struct { ahv_hash_alg alg; const char *metric; const char *evp; } cases[] = {
		{ AHV_HASH_SHA256, "sha256", "SHA256" },
		{ AHV_HASH_SHA3_256, "sha3_256", "SHA3-256" },
		{ AHV_HASH_SHA512, "sha512", "SHA512" },
	};
	int rounds = 7;
	uint8_t *buf = malloc(BUF);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--portable")) {
			ahv_sha256_force_portable(1);
		} else {
			fprintf(stderr, "usage: %s [--rounds N] [--portable]\n", argv[0]);
			return !!strcmp(argv[i], "--help") * 2;
		}
	}
	if (!buf || rounds < 1 || rounds > 101)
		return 2;
	for (size_t i = 0; i < BUF; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	printf("# crypto bench: 1 MiB buffers, %d alternating rounds per side, sha256 path %s\n",
	       rounds, ahv_sha256_impl());
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const EVP_MD *md = EVP_get_digestbyname(cases[c].evp);
		double a[101], b[101];
		if (!md)
			return 1;
		for (int r = 0; r < rounds; r++) {
			a[r] = mbps(ours, &cases[c].alg, buf);
			b[r] = mbps(theirs, md, buf);
		}
		qsort(a, rounds, sizeof(double), cmp);
		qsort(b, rounds, sizeof(double), cmp);
		printf("BENCH %s_ahv_mbps %.0f MB/s\n", cases[c].metric, a[rounds / 2]);
		printf("BENCH %s_openssl_mbps %.0f MB/s\n", cases[c].metric, b[rounds / 2]);
		printf("BENCH %s_vs_openssl %.3f x\n", cases[c].metric, a[rounds / 2] / b[rounds / 2]);
		fflush(stdout);
	}
	if (!strcmp(ahv_sha256_impl(), "sha-ni"))
		fxsave_overhead(buf);
	free(buf);
	return 0;
}
