/*
 * engine_bench.c - the attestation engine on the simulated machine against
 * plain OpenSSL over the same bytes, in one run (docs/testing.md).
 *
 *   engine_256mib_vs_sha256  one ATTEST request measuring one 256 MiB GVA
 *                            region (SHA-256), vs. OpenSSL SHA-256 of the
 *                            same 256 MiB; rounds alternate, medians
 *                            compared (OpenSSL time / engine time).
 *                            Guest pages 4 KiB (the worst case: one guest
 *                            walk per page), nested pages 2 MiB.
 *   engine_256mib_2m_vs_sha256  the same over 2 MiB guest pages.
 *   engine_4kib_us           median latency of a whole 4 KiB one-region
 *                            request: copy-in, parse, guest signature
 *                            check, walk, hash, report, hypervisor signature,
 *                            write-out (P-256 keys).
 * Prints BENCH lines; asserts nothing.
 *
 *   engine_bench [--rounds N] [--calls N]
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define BIG (256ull << 20)

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

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

/* A machine with `size` bytes of user memory at `gva`, mapped with `page`
 * guest pages over physically contiguous frames; request and report
 * buffers; a request naming [gva, gva + size) signed once. */
struct setup {
	struct sim *s;
	uint64_t gva, hpa, rq, rp;
	uint8_t req[AHV_REQUEST_MAX_SIZE];
	size_t len;
};

static void build(struct setup *u, uint64_t size, uint64_t page)
{
	static const uint8_t nonce[16] = "bench-nonce-0001";
	struct sim_cfg cfg = { .guest_ram = ((size + SIM_2M - 1) & ~(SIM_2M - 1)) + (64ull << 20) };
	uint64_t gpa;

	u->s = calloc(1, sizeof(*u->s));
	if (!u->s || sim_init(u->s, &cfg))
		abort();
	gpa = sim_alloc_gpa(u->s, size, SIM_2M);
	u->gva = 0x7f0000000000ull;
	if (sim_map(u->s, &u->s->gpt, u->gva, gpa, size, page, SIM_URW))
		abort();
	/* touch every byte: a pattern, not zero pages */
	u->hpa = SIM_GUEST_HPA + gpa; /* the sim's default nested map */
	uint8_t *p = sim_hpa_ptr(u->s, u->hpa);
	for (uint64_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 131 + (i >> 12));
	struct sim_region r = { u->gva, size, AHV_SPACE_GVA, 0, NULL };
	u->len = sim_request(u->req, AHV_WIRE_HASH_SHA256, nonce, 16, &r, 1,
			     &u->s->guest_key[0], &u->s->drbg);
	u->rq = sim_alloc_gva(u->s, u->len, 0, SIM_URW);
	u->rp = sim_alloc_gva(u->s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
	sim_write(u->s, AHV_SPACE_GVA, u->rq, u->req, u->len);
}

static double one_request(struct setup *u)
{
	double t0 = now();
	struct ahv_hc_regs o = sim_call(u->s, AHV_HC_ATTEST_GUEST_MEMORY, u->rq,
					u->len, u->rp, AHV_REPORT_MAX_SIZE);

	if (o.rax != AHV_OK) {
		fprintf(stderr, "engine_bench: status 0x%llx\n", (unsigned long long)o.rax);
		exit(1);
	}
	return now() - t0;
}

static double one_openssl(const uint8_t *p, uint64_t size)
{
	uint8_t out[32];
	unsigned len;
	double t0 = now();

	if (!EVP_Digest(p, size, out, &len, EVP_sha256(), NULL))
		abort();
	return now() - t0;
}

static void big(const char *metric, uint64_t page, int rounds)
{
	struct setup u;
	double e[101], o[101];

	build(&u, BIG, page);
	const uint8_t *bytes = sim_hpa_ptr(u.s, u.hpa);
	for (int r = 0; r < rounds; r++) {
		e[r] = one_request(&u);
		o[r] = one_openssl(bytes, BIG);
	}
	double me = median(e, rounds), mo = median(o, rounds);
	printf("# %s: engine %.1f ms (%.0f MB/s), OpenSSL %.1f ms (%.0f MB/s)\n", metric,
	       me * 1e3, BIG / me / 1e6, mo * 1e3, BIG / mo / 1e6);
	printf("BENCH %s %.3f x\n", metric, mo / me);
	fflush(stdout);
	sim_free(u.s);
	free(u.s);
}

int main(int argc, char **argv)
{
	int rounds = 7, calls = 301;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--calls") && i + 1 < argc) {
			calls = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--rounds N] [--calls N]\n", argv[0]);
			return !!strcmp(argv[i], "--help") * 2;
		}
	}
	if (rounds < 1 || rounds > 101 || calls < 1 || calls > 100001)
		return 2;
	printf("# engine bench: simulated machine, sha256 path %s, %d rounds, %d calls\n",
	       ahv_sha256_impl(), rounds, calls);

	big("engine_256mib_vs_sha256", SIM_4K, rounds);
	big("engine_256mib_2m_vs_sha256", SIM_2M, rounds);

	struct setup u;
	double *t = malloc(sizeof(double) * (size_t)calls);
	build(&u, 4096, SIM_4K);
	one_request(&u); /* warm */
	for (int i = 0; i < calls; i++)
		t[i] = one_request(&u);
	printf("BENCH engine_4kib_us %.1f us\n", median(t, calls) * 1e6);
	free(t);
	sim_free(u.s);
	free(u.s);
	return 0;
}
