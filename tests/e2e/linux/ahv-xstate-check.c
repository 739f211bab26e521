/* ahv-xstate-check.c - e2e case xstate-switches (docs/bochs.md "Bochs 2.7's
 * compacted XSAVE"): a task's vector registers survive the context switches
 * the guest kernel makes. Two processes on one CPU load their own random
 * values into every vector register the kernel enabled (by XCR0: zmm0-31
 * and k1-7 with AVX-512, ymm0-15 with AVX, else xmm0-15), hand the CPU to
 * each other through two pipes (each blocks in read() until the other
 * writes: every hand-over is a context switch, where sched_yield() may not
 * switch at all under CFS), the kernel saving one task's registers and
 * restoring the other's (the XSAVE family, or FXSAVE/FXRSTOR), and compare
 * the registers with what they loaded. Under Bochs 2.7 with XSAVES offered
 * consistently they came back zeroed: glibc's memcpy keeps the head of a
 * large copy in ymm16+, and attest-hv read its own binary as "not an ELF
 * file". Prints "AHV-LINUX: case xstate-switches ok ..." or
 * "AHV-LINUX: FAIL case xstate-switches ..."; exit status 0 or 1. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 20
#define YIELDS 8     /* hand-overs per round: each one a switch to the other process */
#define SPIN 20000   /* loop iterations between two hand-overs */
#define NR_READ 0    /* x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) */
#define NR_WRITE 1

/* XCR0 state components (SDM Vol. 1 §13.1 Table 13-1). */
#define XCR0_SSE_AVX 0x6ull    /* bits 1, 2 */
#define XCR0_AVX512 0xe0ull    /* opmask, ZMM_Hi256, Hi16_ZMM: bits 5-7 */

enum regset { XMM, YMM, ZMM };
static const char *const set_name[] = {"xmm0-15", "ymm0-15", "zmm0-31 k1-7"};

static uint8_t in[32][64] __attribute__((aligned(64))), out[32][64] __attribute__((aligned(64)));
static uint64_t kin[8], kout[8];

static enum regset usable(void)
{
	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 27))) /* CPUID.1:ECX.OSXSAVE (SDM Vol. 2A Table 3-10) */
		return XMM;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	uint64_t xcr0 = (uint64_t)hi << 32 | lo;
	if ((xcr0 & XCR0_SSE_AVX) != XCR0_SSE_AVX)
		return XMM;
	__cpuid_count(7, 0, a, b, c, d);
	/* CPUID.(7,0):EBX AVX512F bit 16, AVX512BW bit 30 (kmovq) */
	if ((xcr0 & XCR0_AVX512) == XCR0_AVX512 && (b & (1u << 16)) && (b & (1u << 30)))
		return ZMM;
	return YMM;
}

/* One process's side of the ping-pong: first[0] then second[0] are
 * syscall numbers (read or write of one byte), first[1] and second[1] their
 * descriptors. The first process writes then reads, the second reads then
 * writes, so each blocks in read() until the other has run: YIELDS switches
 * each way a round. Registers stay live across it: a syscall clobbers only
 * RAX, RCX and R11 and the arguments set here (the syscall ABI). */
static long first[2], second[2];
static char token;

#define YIELD_LOOP                                                             \
	"mov %[yields], %%r8d\n"                                                   \
	"1: mov %[f0], %%rax\n mov %[f1], %%rdi\n lea %[tok], %%rsi\n mov $1, %%edx\n syscall\n" \
	"mov %[s0], %%rax\n mov %[s1], %%rdi\n lea %[tok], %%rsi\n mov $1, %%edx\n syscall\n"    \
	"mov %[spin], %%edx\n"                                                     \
	"2: dec %%edx\n jnz 2b\n dec %%r8d\n jnz 1b\n"
#define CLOB "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r11", "memory"
#define PING [f0] "m"(first[0]), [f1] "m"(first[1]), [s0] "m"(second[0]), [s1] "m"(second[1]), [tok] "m"(token)

#define L16(op, w) \
	op(w, 0) op(w, 1) op(w, 2) op(w, 3) op(w, 4) op(w, 5) op(w, 6) op(w, 7) \
	op(w, 8) op(w, 9) op(w, 10) op(w, 11) op(w, 12) op(w, 13) op(w, 14) op(w, 15)
#define L32(op, w) L16(op, w) \
	op(w, 16) op(w, 17) op(w, 18) op(w, 19) op(w, 20) op(w, 21) op(w, 22) op(w, 23) \
	op(w, 24) op(w, 25) op(w, 26) op(w, 27) op(w, 28) op(w, 29) op(w, 30) op(w, 31)
#define LDX(w, n) "movdqu " #n "*64(%[i]), %%xmm" #n "\n"
#define STX(w, n) "movdqu %%xmm" #n ", " #n "*64(%[o])\n"
#define LDY(w, n) "vmovdqu " #n "*64(%[i]), %%ymm" #n "\n"
#define STY(w, n) "vmovdqu %%ymm" #n ", " #n "*64(%[o])\n"
#define LDZ(w, n) "vmovdqu64 " #n "*64(%[i]), %%zmm" #n "\n"
#define STZ(w, n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[o])\n"
#define KMASK(op) op(1) op(2) op(3) op(4) op(5) op(6) op(7)
#define LDK(n) "kmovq " #n "*8(%[ki]), %%k" #n "\n"
#define STK(n) "kmovq %%k" #n ", " #n "*8(%[ko])\n"

static void one_round(enum regset s)
{
	if (s == XMM)
		__asm__ volatile(L16(LDX, ) YIELD_LOOP L16(STX, )
				 :: [i] "r"(in), [o] "r"(out), [yields] "i"(YIELDS), [spin] "i"(SPIN), PING : CLOB);
	else if (s == YMM)
		__asm__ volatile(L16(LDY, ) YIELD_LOOP L16(STY, ) "vzeroupper\n"
				 :: [i] "r"(in), [o] "r"(out), [yields] "i"(YIELDS), [spin] "i"(SPIN), PING : CLOB);
	else
		__asm__ volatile(L32(LDZ, ) KMASK(LDK) YIELD_LOOP L32(STZ, ) KMASK(STK) "vzeroupper\n"
				 :: [i] "r"(in), [o] "r"(out), [ki] "r"(kin), [ko] "r"(kout),
				    [yields] "i"(YIELDS), [spin] "i"(SPIN), PING : CLOB);
}

/* One process's rounds; the number of rounds whose registers differed.
 * The first bad round is described on stdout. */
static int rounds(enum regset s, unsigned seed)
{
	unsigned nreg = s == ZMM ? 32 : 16, width = s == XMM ? 16 : s == YMM ? 32 : 64;
	int bad = 0;
	for (int r = 0; r < ROUNDS; r++) {
		uint32_t x = seed * 2654435761u + (uint32_t)r * 40503u + 1;
		for (unsigned i = 0; i < 32; i++)
			for (unsigned j = 0; j < 64; j++) {
				x = x * 1103515245u + 12345u;
				in[i][j] = (uint8_t)(x >> 16);
			}
		for (unsigned i = 1; i < 8; i++) {
			x = x * 1103515245u + 12345u;
			kin[i] = (uint64_t)x << 32 | (x ^ 0x5a5a5a5au);
		}
		memset(out, 0, sizeof out);
		memset(kout, 0, sizeof kout);
		one_round(s);
		uint64_t lost = 0, zero = 0;
		static const uint8_t z[64];
		for (unsigned i = 0; i < nreg; i++)
			if (memcmp(in[i], out[i], width)) {
				lost |= 1ull << i;
				zero |= (uint64_t)!memcmp(out[i], z, width) << i;
			}
		for (unsigned i = 1; s == ZMM && i < 8; i++)
			if (kin[i] != kout[i]) {
				lost |= 1ull << (32 + i);
				zero |= (uint64_t)!kout[i] << (32 + i);
			}
		if (lost && !bad++)
			printf("AHV-LINUX-XSTATE process %u round %d: registers changed %016llx (bit n: register n, "
			       "33-39: k1-7), of them now zero %016llx\n",
			       seed, r, (unsigned long long)lost, (unsigned long long)zero);
	}
	return bad;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	enum regset s = usable();
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	/* Both on CPU 0, so that every hand-over is a switch between them. */
	if (sched_setaffinity(0, sizeof one, &one)) {
		printf("AHV-LINUX: FAIL case xstate-switches: sched_setaffinity failed\n");
		return 1;
	}
	int ab[2], ba[2];
	if (pipe(ab) || pipe(ba)) {
		printf("AHV-LINUX: FAIL case xstate-switches: pipe failed\n");
		return 1;
	}
	pid_t kid[2];
	for (unsigned p = 0; p < 2; p++) {
		kid[p] = fork();
		if (kid[p] == 0) {
			/* 0 writes ab then reads ba; 1 reads ab then writes ba. */
			first[0] = p ? NR_READ : NR_WRITE;
			first[1] = p ? ab[0] : ab[1];
			second[0] = p ? NR_WRITE : NR_READ;
			second[1] = p ? ba[1] : ba[0];
			_exit(rounds(s, p + 1) ? 1 : 0);
		}
		if (kid[p] < 0) {
			printf("AHV-LINUX: FAIL case xstate-switches: fork failed\n");
			return 1;
		}
	}
	close(ab[0]), close(ab[1]), close(ba[0]), close(ba[1]);
	int failed = 0;
	for (unsigned p = 0; p < 2; p++) {
		int st;
		if (waitpid(kid[p], &st, 0) != kid[p] || !WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	long sw = ru.ru_nvcsw + ru.ru_nivcsw;
	if (failed)
		printf("AHV-LINUX: FAIL case xstate-switches: %s of %d process(es) changed across %ld context switches\n",
		       set_name[s], failed, sw);
	/* At least one switch per hand-over of either process: on one CPU a
	 * read() can find its byte only if the writer ran in between. */
	else if (sw < ROUNDS * YIELDS)
		printf("AHV-LINUX: FAIL case xstate-switches: only %ld context switches, the check proves nothing\n", sw);
	else
		printf("AHV-LINUX: case xstate-switches ok: %s of 2 processes x %d rounds kept across %ld context switches\n",
		       set_name[s], ROUNDS, sw);
	return failed || sw < ROUNDS * YIELDS;
}
