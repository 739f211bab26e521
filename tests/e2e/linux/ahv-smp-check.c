/*
 * ahv-smp-check.c - the Linux guest side of e2e-smp (docs/smp.md):
 *   1. every online CPU, pinned in turn, reports the hypervisor's CPUID
 *      signature (AttestHVisor) - no CPU runs outside the hypervisor - and
 *      GET_INFO's vcpu_count equals the number of CPUs;
 *   2. attestations from all CPUs at once (one thread pinned per CPU), each
 *      region digest equal to SHA-256 of what the thread attested;
 *   3. with --race: a thread on one CPU rewrites a region between two
 *      known contents A and B while another CPU attests it. Every rewrite is
 *      one store instruction of the whole region (see "3." below), so the
 *      region is only ever whole A or whole B, and every digest must be
 *      SHA-256(A) or SHA-256(B); anything else is torn and fails the test.
 *      A failed attestation is no digest: counted, printed, allowed. The
 *      test also requires digests of both contents and many rewrites
 *      meanwhile, so it cannot pass vacuously.
 *   4. the last CPU is taken offline and online again (INIT-SIPI-SIPI from
 *      Linux) and must come back under the hypervisor and attest.
 * Markers: AHV-SMP: ... ; AHV-SMP: FAIL ... on any failure.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/sha.h>
#include <attest-hv/attest.h>

static ahvl_signer *key;
static int fails;

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Attest [buf, buf+len) once; 0 and the region digest, or -1. */
static int attest(ahvl_ctx *ctx, const void *buf, size_t len, uint8_t digest[32])
{
	ahvl_request *req = NULL;
	struct ahvl_evidence ev = {0};
	uint8_t nonce[32] = {1, 2, 3};
	int rc = -1;
	for (int tries = 0; tries < 500; tries++) {
		rc = ahvl_request_new(&req, AHV_WIRE_HASH_SHA256);
		if (!rc)
			rc = ahvl_request_set_nonce(req, nonce, sizeof nonce);
		if (!rc && ahvl_request_add_range(req, (uintptr_t)buf, len, AHV_SPACE_GVA, NULL, NULL) != 0)
			rc = -1;
		if (!rc)
			rc = ahvl_attest(ctx, req, key, 0, &ev);
		uint32_t st = 0;
		ahvl_ctx_last_call(ctx, &st, NULL, NULL, NULL);
		ahvl_request_free(req);
		req = NULL;
		if (rc == AHVL_E_HYPERCALL && st == AHV_E_BUSY) {
			usleep(1000);
			continue;
		}
		break;
	}
	if (rc == AHVL_OK && ev.report_len == AHV_REPORT_SIZE(1)) {
		const struct ahv_region_result *r = (const void *)(ev.report + AHV_REPORT_RESULT_OFFSET(0));
		memcpy(digest, r->digest, 32);
	} else {
		printf("AHV-SMP: attest failed: %s\n", ahvl_error_detail());
		rc = -1;
	}
	ahvl_evidence_clear(&ev);
	return rc ? -1 : 0;
}

#define BUF_SIZE (256 * 1024)
struct worker {
	pthread_t t;
	int cpu, ok, bad;
};

static void *concurrent(void *arg)
{
	struct worker *w = arg;
	ahvl_ctx *ctx;
	if (pin(w->cpu) || ahvl_ctx_new(&ctx, NULL)) {
		w->bad++;
		return NULL;
	}
	uint8_t *buf = aligned_alloc(4096, BUF_SIZE), want[32], got[32];
	for (int i = 0; i < 4; i++) {
		memset(buf, 0x10 * w->cpu + i, BUF_SIZE);
		SHA256(buf, BUF_SIZE, want);
		if (attest(ctx, buf, BUF_SIZE, got) == 0 && !memcmp(got, want, 32))
			w->ok++;
		else
			w->bad++;
	}
	free(buf);
	ahvl_ctx_free(ctx);
	return NULL;
}

/* ---- 4. CPU offline and online again ---------------------------------------- */
/* Linux parks an offline CPU in play_dead and brings it back with INIT,
 * SIPI, SIPI: the hypervisor must take it through both (docs/smp.md) and
 * the CPU must come back under it, able to attest. */
static int write_sysfs(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = fputs(val, f) < 0;
	return (fclose(f) || rc) ? -1 : 0;
}

static void cpu_down_up(int cpu)
{
	char path[80];
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	pin(0);
	if (write_sysfs(path, "0") || write_sysfs(path, "1")) {
		printf("AHV-SMP: FAIL cpu %d offline/online: %s\n", cpu, strerror(errno));
		fails++;
		return;
	}
	unsigned a, b, c, d;
	uint8_t buf[64] = {7}, want[32], got[32];
	ahvl_ctx *ctx = NULL;
	int ok = pin(cpu) == 0 && sched_getcpu() == cpu;
	__cpuid(0x40000000, a, b, c, d);
	ok = ok && b == 0x65747441u && !ahvl_ctx_new(&ctx, NULL) && !attest(ctx, buf, sizeof(buf), got);
	SHA256(buf, sizeof(buf), want);
	ok = ok && !memcmp(got, want, 32);
	if (ctx)
		ahvl_ctx_free(ctx);
	pin(0);
	printf("AHV-SMP: %scpu %d offline and online again: %s\n", ok ? "" : "FAIL ", cpu,
	       ok ? "back under the hypervisor, attestation ok" : "not back under the hypervisor");
	fails += !ok;
}

/* ---- 3. the rewrite race ------------------------------------------------- */
/*
 * The writer must never leave the region in a state that is neither A nor B,
 * or a consistent snapshot could legitimately catch it in between. It
 * rewrites the whole region with ONE instruction: a 32-byte AVX store
 * (VMOVDQA ymm; 16-byte SSE2 MOVDQA where the CPU or the kernel offers no
 * AVX), A, B, A, B, ... in an unrolled loop. The hypervisor stops the
 * writer's CPU with an NMI, and an NMI is taken only between instructions
 * (SDM Vol. 3A §6.6, APM Vol. 2 §8.1); the #VMEXIT drains the writer's
 * stores. So the region a stopped world shows is exactly A or exactly B,
 * and so is every digest of it: SHA-256(A) or SHA-256(B), nothing else.
 * (Under QEMU TCG an interrupt is taken only between translation blocks,
 * which hold whole instructions; the JMPs end a block after each store, so
 * the stop can land after an A store and after a B store alike - without
 * them the whole unrolled loop is one block and every snapshot shows A.)
 * Without the stop, the hash reads the region as several loads
 * (crypto/freestanding/src/libc_shims.c: 8 bytes at a time) while the
 * writer keeps storing, and it can read part of A and part of B: torn.
 * (A concurrent reader may see a 16/32-byte store half done - such stores
 * are not single-copy atomic - but a stopped CPU has none half done.)
 *
 * Why not a bigger region swapped atomically through the page tables (fill
 * a spare mapping, then mremap(MREMAP_FIXED) it over the attested one)?
 * Tried: every instantaneous state is whole too, but it cannot show a
 * missing stop. mremap must unmap the old pages and flush the TLB of every
 * CPU running the process - the attesting CPU included, which acknowledges
 * the flush IPI only after its hypercall - so the kernel itself holds the
 * swap until the attestation is over; without the stop the hash then finds
 * pages zapped (AHV_E_NOT_PRESENT), never a torn digest.
 */
static volatile int race_stop;
static unsigned long race_swaps; /* stores of a whole content, by the writer */
static uint8_t race_buf[4096] __attribute__((aligned(4096)));
static uint8_t race_src[2][32] __attribute__((aligned(32)));
static size_t race_len; /* 32 (AVX) or 16 (SSE2) */

/* The rewrite loop for one vector width: MOV is the aligned move, R0 and R1
 * the registers that hold A and B. 16 rewrites per round; the counter and
 * the stop flag once a round. */
#define REWRITE_LOOP(MOV, R0, R1, TAIL)                                                        \
	__asm__ volatile(MOV " (%[a]), %%" R0 "\n\t" MOV " (%[b]), %%" R1 "\n"                   \
			 "1:\n\t"                                                             \
			 ".rept 8\n\t" MOV " %%" R1 ", (%[t])\n\t"                            \
			 "jmp 2f\n"                                                            \
			 "2:\n\t" MOV " %%" R0 ", (%[t])\n\t"                                  \
			 "jmp 3f\n"                                                            \
			 "3:\n\t"                                                             \
			 ".endr\n\t"                                                          \
			 "addq $16, %[n]\n\t"                                                 \
			 "cmpl $0, %[stop]\n\t"                                               \
			 "je 1b" TAIL                                                         \
			 : [n] "+m"(race_swaps)                                               \
			 : [a] "r"(race_src[0]), [b] "r"(race_src[1]), [t] "r"(race_buf),     \
			   [stop] "m"(race_stop)                                              \
			 : "xmm0", "xmm1", "memory", "cc")

__attribute__((target("avx"))) static void rewrite_avx(void)
{
	REWRITE_LOOP("vmovdqa", "ymm0", "ymm1", "\n\tvzeroupper");
}

static void rewrite_sse2(void)
{
	REWRITE_LOOP("movdqa", "xmm0", "xmm1", "");
}

static void *rewriter(void *arg)
{
	pin(*(int *)arg);
	if (race_len == 32)
		rewrite_avx();
	else
		rewrite_sse2();
	return NULL;
}

static void rewrite_race(void)
{
	uint8_t ha[32], hb[32], got[32];
	__builtin_cpu_init();
	race_len = __builtin_cpu_supports("avx") ? 32 : 16;
	for (int i = 0; i < 32; i++) {
		race_src[0][i] = (uint8_t)(0xA0 + i);
		race_src[1][i] = (uint8_t)(0x50 + i);
	}
	SHA256(race_src[0], race_len, ha);
	SHA256(race_src[1], race_len, hb);
	memcpy(race_buf, race_src[0], race_len);
	ahvl_ctx *ctx;
	ahvl_ctx_new(&ctx, NULL);
	int wcpu = 1;
	pthread_t t;
	pthread_create(&t, NULL, rewriter, &wcpu);
	while (!__atomic_load_n(&race_swaps, __ATOMIC_RELAXED))
		usleep(1000);
	unsigned long s0 = __atomic_load_n(&race_swaps, __ATOMIC_RELAXED);
	/* At least MIN_TRIES attestations, more (up to MAX_TRIES) until each
	 * content was seen WANT times. */
	enum { MIN_TRIES = 60, MAX_TRIES = 240, WANT = 8, SWAPS_PER_TRY = 1000 };
	int a = 0, b = 0, torn = 0, err = 0, n = 0;
	while (n < MAX_TRIES && (n < MIN_TRIES || a < WANT || b < WANT)) {
		n++;
		if (attest(ctx, race_buf, race_len, got))
			err++; /* no digest: allowed, counted */
		else if (!memcmp(got, ha, 32))
			a++;
		else if (!memcmp(got, hb, 32))
			b++;
		else
			torn++;
	}
	unsigned long swaps = __atomic_load_n(&race_swaps, __ATOMIC_RELAXED) - s0;
	race_stop = 1;
	pthread_join(t, NULL);
	ahvl_ctx_free(ctx);
	printf("AHV-SMP: rewrite race: %d attestations of %zu bytes rewritten by %s stores: %d digests of whole A, %d of whole B, %d torn, %d errors (no digest), %lu rewrites meanwhile\n",
	       n, race_len, race_len == 32 ? "AVX" : "SSE2", a, b, torn, err, swaps);
	if (torn || a < WANT || b < WANT || swaps < (unsigned long)n * SWAPS_PER_TRY) {
		printf("AHV-SMP: FAIL rewrite race (need 0 torn, >= %d digests of A and of B, >= %lu rewrites)\n",
		       WANT, (unsigned long)n * SWAPS_PER_TRY);
		fails++;
	} else {
		printf("AHV-SMP: rewrite race ok\n");
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s GUEST_KEY.pem [--race]\n", argv[0]);
		return 2;
	}
	int race = argc > 2 && !strcmp(argv[2], "--race");
	if (ahvl_signer_from_file(&key, argv[1], NULL)) {
		printf("AHV-SMP: FAIL cannot read the guest key: %s\n", ahvl_error_detail());
		return 1;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);
	printf("AHV-SMP: %ld CPUs online (%ld configured)\n", n, conf);
	/* 1. the signature on every CPU */
	int sig_ok = 0;
	for (int c = 0; c < n; c++) {
		unsigned a, b, cc, d;
		char sig[13] = {0};
		if (pin(c)) {
			printf("AHV-SMP: FAIL cannot run on cpu %d\n", c);
			fails++;
			continue;
		}
		__cpuid(0x40000000, a, b, cc, d);
		memcpy(sig, &b, 4);
		memcpy(sig + 4, &cc, 4);
		memcpy(sig + 8, &d, 4);
		printf("AHV-SMP: cpu %d (on cpu %d) CPUID 0x40000000 '%s'\n", c, sched_getcpu(), sig);
		if (!strcmp(sig, "AttestHVisor") && sched_getcpu() == c)
			sig_ok++;
		else
			fails++;
	}
	pin(0);
	/* ... and the hypervisor counts them all (GET_INFO vcpu_count) */
	ahvl_ctx *ictx;
	struct ahv_hv_info info;
	if (ahvl_ctx_new(&ictx, NULL) || ahvl_get_info(ictx, &info)) {
		printf("AHV-SMP: FAIL GET_INFO: %s\n", ahvl_error_detail());
		fails++;
	} else {
		printf("AHV-SMP: GET_INFO: %u CPUs under the hypervisor, %ld configured\n", info.vcpu_count, conf);
		if ((long)info.vcpu_count != conf)
			fails++;
		ahvl_ctx_free(ictx);
	}
	if (sig_ok == n)
		printf("AHV-SMP: all %d CPUs report AttestHVisor\n", sig_ok);
	else
		printf("AHV-SMP: FAIL only %d of %ld CPUs report AttestHVisor\n", sig_ok, n);
	/* 2. attestations from every CPU at once */
	struct worker *w = calloc((size_t)n, sizeof(*w));
	for (int c = 0; c < n; c++) {
		w[c].cpu = c;
		pthread_create(&w[c].t, NULL, concurrent, &w[c]);
	}
	int ok = 0, bad = 0;
	for (int c = 0; c < n; c++) {
		pthread_join(w[c].t, NULL);
		ok += w[c].ok;
		bad += w[c].bad;
	}
	if (!bad && ok == 4 * n)
		printf("AHV-SMP: concurrent attestations ok %d on %ld CPUs\n", ok, n);
	else {
		printf("AHV-SMP: FAIL concurrent attestations: %d ok, %d bad\n", ok, bad);
		fails++;
	}
	/* 3. the rewrite race */
	if (race && n >= 2)
		rewrite_race();
	/* 4. the OS takes a CPU down and brings it up again */
	if (n >= 2)
		cpu_down_up((int)n - 1);
	printf("AHV-SMP: %s\n", fails ? "FAIL" : "PASS");
	return fails != 0;
}
