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
 *   watch_report_speedup     the engine's step 11 for one 16 MiB GVA region
 *                            (4 KiB guest pages): hashing it again
 *                            (ahv_measure_region) vs. its re-report while
 *                            watched and unmodified (ahv_watch_result: the
 *                            START digest, the region's 4096 pages re-walked
 *                            through the guest tables, not hashed); rounds
 *                            alternate, medians compared (hash / re-report).
 *   watch_request_speedup    the same as whole requests (plain vs. CHECK),
 *                            both with the guest signature check and the
 *                            report signature, which bound this ratio.
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

#include "engine.h"
#include "sim.h"
#include "watch.h"

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

/* The request at u->rq rewritten with watch flags and argument, re-signed. */
static void set_watch(struct setup *u, uint32_t flags, uint64_t arg)
{
	struct ahv_request_hdr h;

	memcpy(&h, u->req, sizeof(h));
	h.flags = flags;
	h.watch_arg = arg;
	memcpy(u->req, &h, sizeof(h));
	if (sim_resign(u->req, &u->s->guest_key[0], &u->s->drbg))
		abort();
	sim_write(u->s, AHV_SPACE_GVA, u->rq, u->req, u->len);
}

/* Step 11 alone for region 0 of the request at u->req (a CHECK of a watch
 * when `check`): the time of measuring it, or of its watch result. */
static double one_region(struct setup *u, bool check)
{
	struct sim *s = u->s;
	struct ahv_vcpu_exit x = {
		.cr0 = s->cr0, .cr3 = s->gpt.root, .cr4 = s->cr4, .efer = s->efer,
		.cs_l = s->cs_l, .cpl = s->cpl, .apic_id = 7,
	};
	struct ahv_region_result res;
	struct ahv_call c;
	struct ahv_fail f;
	bool measure = true;

	memset(&res, 0, sizeof(res));
	ahv_call_setup(&c, &s->core, &x);
	if (check && ahv_watch_prepare(&c, u->req, &f) != AHV_OK)
		abort();
	double t0 = now();
	if (check) {
		ahv_watch_tables(&c, true);
		ahv_watch_result(&c, 0, &res, &measure);
		ahv_watch_tables(&c, false);
	}
	if (measure && ahv_measure_region(&c, AHV_WIRE_HASH_SHA256, 0, AHV_SPACE_GVA, u->gva,
					  16ull << 20, res.digest, &f) != AHV_OK)
		abort();
	double t = now() - t0;
	if (check && (measure || !(res.flags & AHV_RESULT_F_WATCHED)))
		abort(); /* the region must be watched and unmodified */
	return t;
}

static void watch_speedup(int rounds)
{
	struct setup u;
	struct ahv_report_hdr h;
	double e[101], w[101];

	build(&u, 16ull << 20, SIM_4K);
	set_watch(&u, AHV_REQ_F_WATCH_START, 0);
	one_request(&u);
	sim_read(u.s, AHV_SPACE_GVA, u.rp, &h, sizeof(h));
	if (h.watch_state != AHV_WATCH_ACTIVE)
		abort();
	for (int r = 0; r < rounds; r++) {
		set_watch(&u, 0, 0);
		e[r] = one_region(&u, false);
		set_watch(&u, AHV_REQ_F_WATCH_CHECK, h.watch_id);
		w[r] = one_region(&u, true);
	}
	double me = median(e, rounds), mw = median(w, rounds);
	printf("# watch_report_speedup: 16 MiB region hashed again %.3f ms, re-reported watched and "
	       "unmodified %.3f ms\n", me * 1e3, mw * 1e3);
	printf("BENCH watch_report_speedup %.1f x\n", me / mw);
	for (int r = 0; r < rounds; r++) {
		set_watch(&u, 0, 0);
		e[r] = one_request(&u);
		set_watch(&u, AHV_REQ_F_WATCH_CHECK, h.watch_id);
		w[r] = one_request(&u);
	}
	me = median(e, rounds), mw = median(w, rounds);
	printf("# watch_request_speedup: whole request %.3f ms, CHECK request %.3f ms\n", me * 1e3,
	       mw * 1e3);
	printf("BENCH watch_request_speedup %.1f x\n", me / mw);
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
	watch_speedup(rounds);

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
