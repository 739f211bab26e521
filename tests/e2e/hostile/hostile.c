/*
 * hostile.c - the hostile-kernel payload (docs/hostile.md, issue 14): a UEFI
 * app that runs at CPL0 as attest-hv's guest and does what a compromised
 * guest kernel would: MSR probes and hostile MSR writes (time, APIC routing,
 * tracing), illegal XSETBV, CR0/CR4 and EFER values, loads, stores and jumps
 * into every page of the hypervisor's memory, NMI and INIT storms from the
 * other CPU during attestations, and bogus hypercalls. Each case asserts the
 * architectural outcome and that the hypervisor still answers (GET_INFO);
 * every class ends with a full attestation, and the run with a good one
 * whose report the host checks (signature, timestamp against its clock).
 *
 * Serial markers (COM1):
 *   AHV-HOSTILE: case <name> ok|FAIL|skipped|n/a <detail>
 *   AHV-HOSTILE-REPORT <hex>, AHV-HOSTILE-NONCE <hex>, AHV-HOSTILE-DIGEST0
 *   <hex> (the final report, 64 bytes a line)
 *   AHV-HOSTILE: DONE <n> cases, <f> failed, <s> skipped
 * The test script (hostile-test.sh) judges the lines against known-open.txt.
 *
 * Load options: "skip=<case>,<case>,..." (a known hypervisor crash or an
 * emulator that cannot survive the case) and "quirk-msr0" (the emulator
 * reads MSRs it lacks as 0 and drops writes: QEMU TCG, Bochs with
 * ignore_bad_msrs; then "ok 0" is that CPU's answer for an absent MSR);
 * "ranges=memmap" finds the hypervisor's ranges in the memory map even
 * while the loader's table exists (the way without it, tested).
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "ahv/x86/cpu.h"
#include "attest/wire.h"
#include "guest_call.h"
#include "guest_req.h"
#include "mp_services.h"
#include "trap.h"
#include "hostile.h"

static uint8_t crypto_pool[192 * 1024] __attribute__((aligned(16)));
ahv_drbg rng;
ahv_ec_key gkey;
uint8_t gkey_id[32];
ahv_ec_pub hv_pub;
uint8_t data_buf[4096] __attribute__((aligned(4096)));
static uint8_t req_buf[AHV_REQUEST_SIZE(1) + 64] __attribute__((aligned(64)));
static uint8_t rep_buf[AHV_REPORT_SIZE(1) + 64] __attribute__((aligned(64)));
static uint8_t info_buf[4096] __attribute__((aligned(4096)));
const uint8_t nonce[32] = "AHV-HOSTILE-KERNEL-NONCE-0123456";

void ahv_crypto_fatal(int status)
{
	Print(L"AHV-HOSTILE: FAIL crypto heap corruption (%d)\r\n", status);
	RT->ResetSystem(EfiResetShutdown, EFI_ABORTED, 0, NULL);
	for (;;)
		__asm__ volatile("hlt");
}

/* ---- options, verdicts --------------------------------------------------------- */
static CHAR16 *opts; /* the load options, or NULL */
int intel;
static int quirk_msr0;
static unsigned n_cases, n_failed, n_skipped;
CHAR16 det[200];

/* Is name in the load options' "skip=a,b,..." list? */
static int skipped(const char *name)
{
	for (const CHAR16 *s = opts; s && *s; s++) {
		if (StrnCmp(s, L"skip=", 5))
			continue;
		s += 5;
		while (*s && *s != L' ') {
			const CHAR16 *t = s;
			while (*t && *t != L',' && *t != L' ')
				t++;
			UINTN n = 0;
			while (name[n] && (CHAR16)name[n] == s[n])
				n++;
			if (!name[n] && s + n == t)
				return 1;
			s = *t == L',' ? t + 1 : t;
		}
		return 0;
	}
	return 0;
}

static int alive(void);

/* A case's line; a passing case also needs the hypervisor to answer. */
void verdict(const char *name, int ok)
{
	int up = alive();
	n_cases++;
	if (!ok || !up)
		n_failed++;
	Print(L"AHV-HOSTILE: case %a %a %s%a\r\n", name, ok && up ? "ok" : "FAIL", det,
	      up ? "" : " (hypervisor not answering GET_INFO)");
	det[0] = 0;
}

/* -1 (and a "skipped" line) when the case is in the skip list. */
int start(const char *name)
{
	if (!skipped(name))
		return 0;
	n_skipped++;
	Print(L"AHV-HOSTILE: case %a skipped\r\n", name);
	return -1;
}

void not_applicable(const char *name, const char *why)
{
	Print(L"AHV-HOSTILE: case %a n/a %a\r\n", name, why);
}

/* ---- hypercalls -------------------------------------------------------------------- */
void hypercall(struct hc *h) { guest_hypercall(h, intel); }

static int alive(void)
{
	struct hc h = {AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, sizeof(info_buf), 0, 0};
	hypercall(&h);
	return h.rax == AHV_OK;
}

/* One signed request for data_buf (GVA = GPA under UEFI); the report in
 * rep_buf, its signature checked here. AHV_OK, or the status (~0: bad
 * signature or contents). */
static uint64_t attest(uint64_t *ts)
{
	size_t len = guest_req_init(req_buf, 1, nonce, gkey_id);
	guest_req_region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf;
	guest_req_region(req_buf, 0)->size = sizeof(data_buf);
	guest_req_sign(req_buf, 1, &gkey, &rng);
	struct hc h = {AHV_HC_ATTEST_GUEST_MEMORY, (uint64_t)(uintptr_t)req_buf, len, (uint64_t)(uintptr_t)rep_buf,
		       sizeof(rep_buf)};
	hypercall(&h);
	if (h.rax != AHV_OK)
		return h.rax;
	const struct ahv_report_hdr *r = (const void *)rep_buf;
	uint8_t dg[32];
	ahv_hash(AHV_HASH_SHA256, rep_buf, AHV_REPORT_SIGNED_SIZE(1), dg);
	if (h.rbx != AHV_REPORT_SIZE(1) || r->magic != AHV_REPORT_MAGIC ||
	    ahv_ecdsa_verify_raw(&hv_pub, dg, 32, rep_buf + AHV_REPORT_SIG_OFFSET(1), 64))
		return ~0ull;
	*ts = r->timestamp_ns;
	return AHV_OK;
}

/* A class ends with a full attestation. */
static void attest_case(const char *name)
{
	uint64_t ts = 0, st = attest(&ts);
	DET(L"status 0x%lx timestamp %lu", st, ts);
	verdict(name, st == AHV_OK);
}

/* ---- probes (trap.h) ------------------------------------------------------------- */
struct probe {
	uint64_t a, b, out;
};
static void p_rdmsr(void *x)
{
	struct probe *p = x;
	p->out = ahv_rdmsr((uint32_t)p->a);
}
static void p_wrmsr(void *x)
{
	struct probe *p = x;
	ahv_wrmsr((uint32_t)p->a, p->b);
}
static void p_xsetbv(void *x)
{
	struct probe *p = x;
	__asm__ volatile("xsetbv" ::"a"((uint32_t)p->b), "d"((uint32_t)(p->b >> 32)), "c"((uint32_t)p->a) : "memory");
}
static void p_wcr0(void *x)
{
	struct probe *p = x;
	__asm__ volatile("mov %0, %%cr0" ::"r"(p->b) : "memory");
}
static void p_wcr4(void *x)
{
	struct probe *p = x;
	__asm__ volatile("mov %0, %%cr4" ::"r"(p->b) : "memory");
}
/* A load into RAX (preset to a sentinel), a locked read-modify-write that
 * changes nothing, and a call: accesses to the page at p->a. */
#define SENTINEL 0x5e5e5e5e5e5e5e5eull
static void p_load(void *x)
{
	struct probe *p = x;
	uint64_t v = SENTINEL;
	__asm__ volatile("mov (%1), %0" : "+a"(v) : "r"(p->a) : "memory");
	p->out = v;
}
static void p_store(void *x)
{
	struct probe *p = x;
	__asm__ volatile("lock orb $0, (%0)" ::"r"(p->a) : "memory", "cc");
}
static void p_exec(void *x)
{
	struct probe *p = x;
	((void (*)(void))(uintptr_t)p->a)();
}

/* Outcome: 0 completed, else the vector (#GP = 13) with *err. */
static uint64_t run_probe(trap_fn fn, struct probe *p, uint64_t *err)
{
	uint64_t vec, e;
	int f = trap_call(fn, p, &vec, &e);
	if (err)
		*err = e;
	return f ? vec : 0;
}
#define V_OK 0
#define V_UD 6
#define V_GP 13
#define V_PF 14

static uint64_t rdmsr_try(uint32_t msr, uint64_t *val)
{
	struct probe p = {msr, 0, 0};
	uint64_t v = run_probe(p_rdmsr, &p, NULL);
	*val = p.out;
	return v;
}

static uint64_t wrmsr_try(uint32_t msr, uint64_t val)
{
	struct probe p = {msr, val, 0};
	return run_probe(p_wrmsr, &p, NULL);
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

static void irq_on(void) { __asm__ volatile("sti" ::: "memory"); }

/* ---- CPUID features ------------------------------------------------------------- */
static uint32_t c1_ecx, c1_edx, c7_ebx, c81_ecx, c81_edx, c88_ebx, phys_bits, max_leaf;
static void cpuid_features(void)
{
	uint32_t r[4];
	ahv_cpuid(0, 0, r);
	max_leaf = r[0];
	intel = r[1] == 0x756e6547 && r[3] == 0x49656e69 && r[2] == 0x6c65746e; /* "GenuineIntel" */
	ahv_cpuid(1, 0, r);
	c1_ecx = r[2], c1_edx = r[3];
	ahv_cpuid(7, 0, r);
	c7_ebx = max_leaf >= 7 ? r[1] : 0;
	ahv_cpuid(0x80000001u, 0, r);
	c81_ecx = r[2], c81_edx = r[3];
	ahv_cpuid(0x80000008u, 0, r);
	phys_bits = r[0] & 0xff;
	c88_ebx = r[1];
}

/* Feature bits (SDM Vol. 2A CPUID Tables 3-10, 3-11, 3-8; APM Vol. 3 E.4). */
enum feat { F_ALWAYS, F_NEVER, F_TSC_ADJUST, F_PT, F_DS, F_PEBS, F_INTEL, F_X2APIC_MODE };
static int visible(enum feat f)
{
	switch (f) {
	case F_ALWAYS: return 1;
	case F_TSC_ADJUST: return (c7_ebx >> 1) & 1;  /* CPUID.(7,0):EBX[1] */
	case F_PT: return (c7_ebx >> 25) & 1;         /* CPUID.(7,0):EBX[25] */
	case F_DS: return (c1_edx >> 21) & 1;         /* CPUID.1:EDX[21] DS */
	case F_PEBS: return intel && ((c1_edx >> 21) & 1) && ((c1_ecx >> 15) & 1); /* DS and PDCM */
	case F_INTEL: return intel;
	case F_X2APIC_MODE: return (ahv_rdmsr(0x1B) >> 10) & 1; /* IA32_APIC_BASE.EXTD */
	default: return 0;
	}
}

/* ---- MSR probes ------------------------------------------------------------------ */
/* MSR numbers: SDM Vol. 4 Table 2-2 and APM Vol. 2 Appendix A. A present
 * MSR reads; one the CPU (as the guest sees it in CPUID) lacks #GPs (SDM
 * Vol. 2B "RDMSR"), or, on an emulator with quirk-msr0, reads 0. A value
 * read is written back unchanged: accepted, except where `ro` says the MSR
 * refuses writes (#GP). */
struct msr_case {
	const char *name;
	uint32_t msr;
	enum feat feat;
	uint8_t ro;
};
static const struct msr_case msr_list[] = {
	{"msr.tsc", 0x10, F_ALWAYS, 0},
	{"msr.tsc_adjust", 0x3B, F_TSC_ADJUST, 0},
	{"msr.apic_base", 0x1B, F_ALWAYS, 0},
	{"msr.efer", 0xC0000080u, F_ALWAYS, 0},
	{"msr.debugctl", 0x1D9, F_ALWAYS, 0},
	{"msr.rtit_ctl", 0x570, F_PT, 0},
	{"msr.rtit_status", 0x571, F_PT, 0},
	{"msr.rtit_output_base", 0x560, F_PT, 0},
	{"msr.rtit_output_mask_ptrs", 0x561, F_PT, 0},
	{"msr.ds_area", 0x600, F_DS, 0},
	{"msr.pebs_enable", 0x3F1, F_PEBS, 0},
	{"msr.vm_cr", 0xC0010114u, F_NEVER, 0},      /* SVM hidden, absent on Intel */
	{"msr.vm_hsave_pa", 0xC0010117u, F_NEVER, 0},
	{"msr.x2apic_icr", 0x830, F_X2APIC_MODE, 0}, /* xAPIC mode: #GP (Vol. 3A §12.12.1.2) */
	{"msr.x2apic_id", 0x802, F_X2APIC_MODE, 1},
};

static int absent_ok(uint64_t vec, uint64_t val) { return vec == V_GP || (quirk_msr0 && vec == V_OK && val == 0); }

static void msr_probe(const struct msr_case *c)
{
	if (start(c->name))
		return;
	uint64_t v, rv = rdmsr_try(c->msr, &v), wv = ~0ull;
	int vis = visible(c->feat), ok = vis ? rv == V_OK : absent_ok(rv, v);
	if (rv == V_OK && c->msr != 0x10) { /* the TSC has cases of its own */
		wv = wrmsr_try(c->msr, v);
		ok = ok && (!vis ? absent_ok(wv, 0) : c->ro ? wv == V_GP : wv == V_OK);
	}
	DET(L"rdmsr %x: vector %lu value %lx; write-same vector %ld", c->msr, rv, rv ? 0 : v, (int64_t)wv);
	verdict(c->name, ok);
}

/* IA32_FEATURE_CONTROL (0x3A; Intel only, SDM Vol. 3C §24.7): VT-x hidden,
 * so locked with VMX off, writes #GP. The VMX capability MSRs 0x480-0x493
 * (Vol. 3D Appendix A): #GP on a CPU without VT-x. */
static void msr_vmx(void)
{
	if (!start("msr.feature_control")) {
		uint64_t v, rv = rdmsr_try(0x3A, &v);
		uint64_t wv = rv == V_OK ? wrmsr_try(0x3A, v) : V_GP;
		int ok = intel ? rv == V_OK && (v & 5) == 1 && wv == V_GP : rv == V_OK ? !(v & 6) : absent_ok(rv, v);
		DET(L"vector %lu value %lx; write-same vector %lu", rv, rv ? 0 : v, wv);
		verdict("msr.feature_control", ok);
	}
	if (!start("msr.vmx_caps")) {
		unsigned bad = 0;
		for (uint32_t m = 0x480; m <= 0x493; m++) {
			uint64_t v, rv = rdmsr_try(m, &v);
			if (!absent_ok(rv, v)) {
				bad++;
				DET(L"0x%x: vector %lu value %lx", m, rv, v);
			}
		}
		verdict("msr.vmx_caps", !bad);
	}
}

/* ---- hostile MSR writes ----------------------------------------------------------- */
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode (SDM Vol. 3A §12.12.1) */
#define APIC_BASE_EN (1ull << 11)
static uint64_t hv_pool_base; /* a hypervisor address, when one is known */

static void msr_hostile(void)
{
	uint64_t apic = ahv_rdmsr(0x1B), v;
	/* Relocate the xAPIC (Vol. 3A §12.4.5): the hypervisor refuses (#GP)
	 * or emulates it (the base reads back); put back at once. */
	if (!start("apic_base.relocate")) {
		uint64_t moved = (apic & 0xfff) | ((apic & ~0xfffull) - 0x100000);
		uint64_t wv = wrmsr_try(0x1B, moved), rv = rdmsr_try(0x1B, &v);
		int ok = wv == V_GP || (wv == V_OK && rv == V_OK && v == moved);
		if (wv == V_OK)
			wrmsr_try(0x1B, apic);
		DET(L"wrmsr %lx: vector %lu, reads %lx", moved, wv, v);
		verdict("apic_base.relocate", ok);
	}
	/* x2APIC on a CPU whose CPUID hides it: #GP (Vol. 3A §12.12.1). */
	if (!start("apic_base.x2apic-enable")) {
		if ((c1_ecx >> 21) & 1) {
			not_applicable("apic_base.x2apic-enable", "x2APIC visible in CPUID.1:ECX[21]");
		} else {
			uint64_t wv = wrmsr_try(0x1B, apic | APIC_BASE_EXTD);
			if (wv == V_OK) { /* x2APIC -> disabled -> xAPIC (Vol. 3A Figure 12-27) */
				wrmsr_try(0x1B, apic & ~(APIC_BASE_EN | APIC_BASE_EXTD));
				wrmsr_try(0x1B, apic);
			}
			DET(L"vector %lu", wv);
			verdict("apic_base.x2apic-enable", wv == V_GP);
		}
	}
	/* An INIT through the x2APIC ICR in xAPIC mode: #GP, nothing sent
	 * (ICR: Vol. 3A §12.12.9; delivery mode 101b INIT, level assert). */
	if (!start("x2apic_icr.write-init")) {
		uint64_t wv = wrmsr_try(0x830, 0xEEull << 32 | 5u << 8 | 1u << 14);
		DET(L"vector %lu", wv);
		verdict("x2apic_icr.write-init", absent_ok(wv, 0));
	}
	/* Trace output at a hypervisor address (Intel PT, Vol. 3C §33.2.7;
	 * BTS/PEBS DS area, §20.6.3.4): refused where the feature is hidden;
	 * where it is visible the write is the CPU's (the hypervisor must
	 * then keep the output out of its memory). */
	if (!start("rtit_output_base.hv-address")) {
		uint64_t wv = wrmsr_try(0x560, hv_pool_base), rv = rdmsr_try(0x560, &v);
		if (wv == V_OK && rv == V_OK && v == hv_pool_base && hv_pool_base)
			wrmsr_try(0x560, 0);
		DET(L"wrmsr %lx: vector %lu, reads vector %lu value %lx", hv_pool_base, wv, rv, v);
		verdict("rtit_output_base.hv-address", visible(F_PT) ? wv == V_OK || wv == V_GP : absent_ok(wv, 0));
	}
	if (!start("ds_area.hv-address")) {
		uint64_t old = 0;
		uint64_t r0 = rdmsr_try(0x600, &old), wv = wrmsr_try(0x600, hv_pool_base);
		if (wv == V_OK && r0 == V_OK)
			wrmsr_try(0x600, old);
		DET(L"wrmsr %lx: vector %lu", hv_pool_base, wv);
		verdict("ds_area.hv-address", visible(F_DS) ? wv == V_OK || wv == V_GP : absent_ok(wv, 0));
	}
	/* DEBUGCTL bits 63:16 reserved (Vol. 3B §18.4.1): #GP. */
	if (!start("debugctl.reserved")) {
		uint64_t dc = 0;
		rdmsr_try(0x1D9, &dc);
		uint64_t wv = wrmsr_try(0x1D9, dc | 1ull << 63);
		if (wv == V_OK)
			wrmsr_try(0x1D9, dc);
		DET(L"vector %lu", wv);
		verdict("debugctl.reserved", wv == V_GP);
	}
}

/* ---- time: a guest TSC write must not move the signed timestamp (protocol
 * §9.1) ------------------------------------------------------------------------- */
static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

#define TS_STEP_MAX (120ull * 1000000000ull) /* two attestations 120 s apart at most */

/* Attest, write `msr` (IA32_TSC or IA32_TSC_ADJUST) to `val`, attest: the
 * second timestamp is not before the first and not far after it. The TSC
 * (and TSC_ADJUST, which a TSC write moves, Vol. 3B §18.17.3) back after. */
static void tsc_case(const char *name, uint32_t msr, uint64_t val)
{
	if (start(name))
		return;
	uint64_t adj = 0, t0 = 0, t1 = 0;
	int has_adj = rdmsr_try(0x3B, &adj) == V_OK;
	uint64_t s0 = attest(&t0);
	uint64_t tsc = rdtsc(), wv = wrmsr_try(msr, val);
	uint64_t s1 = attest(&t1);
	uint64_t used = rdtsc() - val;
	if (msr == 0x10)
		wrmsr_try(0x10, tsc + (val < tsc ? used : 0) + 1000000);
	if (has_adj)
		wrmsr_try(0x3B, adj);
	int ok = s0 == AHV_OK && s1 == AHV_OK && wv == V_OK && t1 >= t0 && t1 - t0 < TS_STEP_MAX;
	DET(L"wrmsr %x=%lx vector %lu; timestamps %lu -> %lu (status %lx, %lx)", msr, val, wv, t0, t1, s0, s1);
	verdict(name, ok);
}

static void cases_time(void)
{
	tsc_case("tsc.write-far-forward", 0x10, rdtsc() + (1ull << 52));
	tsc_case("tsc.write-far-back", 0x10, 1000);
	if (visible(F_TSC_ADJUST))
		tsc_case("tsc_adjust.write-forward", 0x3B, 1ull << 52);
	else
		not_applicable("tsc_adjust.write-forward", "no IA32_TSC_ADJUST in CPUID.(7,0):EBX[1]");
}

/* ---- EFER (SDM Vol. 3A §2.2.1, APM Vol. 2 §3.1.7) --------------------------------- */
/* A bit the CPU lacks #GPs (hardware) or is dropped (QEMU TCG); a bit it
 * has is accepted and reads back. */
static void efer_case(const char *name, unsigned bit, int has)
{
	if (start(name))
		return;
	uint64_t e = ahv_rdmsr(0xC0000080u), v = 0;
	uint64_t wv = wrmsr_try(0xC0000080u, e | 1ull << bit);
	rdmsr_try(0xC0000080u, &v);
	if (wv == V_OK)
		wrmsr_try(0xC0000080u, e);
	int ok = has ? wv == V_OK && (v >> bit & 1) : wv == V_GP || (quirk_msr0 && wv == V_OK && !(v >> bit & 1));
	DET(L"EFER %lx | bit %u: vector %lu, reads %lx", e, bit, wv, v);
	verdict(name, ok);
}

static void cases_efer(void)
{
	/* LMSLE: AMD only, gone where CPUID 8000_0008:EBX[20] says so (APM
	 * Vol. 3 E.4.7); FFXSR: 8000_0001:EDX[25]; TCE: 8000_0001:ECX[17]. On
	 * Intel bits 13-15 are reserved. QEMU TCG implements none of the three. */
	efer_case("efer.lmsle", 13, 0);
	efer_case("efer.ffxsr", 14, !intel && ((c81_edx >> 25) & 1) && !quirk_msr0);
	efer_case("efer.tce", 15, !intel && ((c81_ecx >> 17) & 1) && !quirk_msr0);
	efer_case("efer.reserved16", 16, 0);
	efer_case("efer.reserved63", 63, 0);
}

/* ---- XSETBV (SDM Vol. 1 §13.3, Vol. 2C "XSETBV") ------------------------------- */
#define CR4_OSXSAVE (1ull << 18)
static void xsetbv_case(const char *name, uint32_t ecx, uint64_t val, int legal)
{
	if (start(name))
		return;
	uint64_t x0 = xgetbv0();
	struct probe p = {ecx, val, 0};
	uint64_t err, v = run_probe(p_xsetbv, &p, &err);
	if (v == V_OK) {
		struct probe back = {0, x0, 0};
		run_probe(p_xsetbv, &back, NULL);
	}
	DET(L"XCR%u <- %lx: vector %lu err %lx", ecx, val, v, err);
	verdict(name, legal ? v == V_OK : v == V_GP && err == 0);
}

static void cases_xsetbv(void)
{
	if (!((c1_ecx >> 26) & 1)) { /* CPUID.1:ECX.XSAVE */
		not_applicable("xsetbv.*", "no XSAVE");
		return;
	}
	uint64_t cr4 = ahv_read_cr4();
	if (!(cr4 & CR4_OSXSAVE))
		write_cr4(cr4 | CR4_OSXSAVE);
	uint64_t x0 = xgetbv0();
	xsetbv_case("xsetbv.same", 0, x0, 1);
	xsetbv_case("xsetbv.x87-clear", 0, 0x2, 0);             /* bit 0 must be 1 */
	xsetbv_case("xsetbv.avx-without-sse", 0, 0x5, 0);       /* AVX needs SSE */
	xsetbv_case("xsetbv.opmask-alone", 0, 0x27, 0);         /* bits 7:5 all or none */
	xsetbv_case("xsetbv.bndregs-without-bndcsr", 0, 0xb, 0); /* bits 4:3 both or none */
	xsetbv_case("xsetbv.tilecfg-without-tiledata", 0, 0x20003, 0); /* bits 18:17 */
	xsetbv_case("xsetbv.bit63", 0, 0x8000000000000003ull, 0); /* not in CPUID.(0DH,0) */
	xsetbv_case("xsetbv.ecx1", 1, x0, 0);                    /* only XCR0 is writable */
	if (!(cr4 & CR4_OSXSAVE))
		write_cr4(cr4);
}

/* ---- CR0/CR4 (SDM Vol. 2B "MOV to CR0/CR4", Vol. 3A §2.5) ---------------------- */
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_VMXE (1ull << 13)
static void cr_case(const char *name, int cr4, uint64_t val)
{
	if (start(name))
		return;
	uint64_t old = cr4 ? ahv_read_cr4() : ahv_read_cr0();
	struct probe p = {0, val, 0};
	uint64_t err, v = run_probe(cr4 ? p_wcr4 : p_wcr0, &p, &err);
	if (v == V_OK) {
		struct probe back = {0, old, 0};
		run_probe(cr4 ? p_wcr4 : p_wcr0, &back, NULL);
	}
	DET(L"CR%u <- %lx: vector %lu err %lx", cr4 ? 4 : 0, val, v, err);
	verdict(name, v == V_GP && err == 0);
}

static void cases_cr(void)
{
	uint64_t c0 = ahv_read_cr0(), c4 = ahv_read_cr4();
	cr_case("cr0.nw-without-cd", 0, (c0 & ~CR0_CD) | CR0_NW);
	cr_case("cr0.pg-without-pe", 0, c0 & ~CR0_PE);
	cr_case("cr0.reserved32", 0, c0 | 1ull << 32);
	cr_case("cr0.reserved63", 0, c0 | 1ull << 63);
	cr_case("cr4.reserved63", 1, c4 | 1ull << 63);
	cr_case("cr4.vmxe-hidden", 1, c4 | CR4_VMXE); /* VMX hidden: reserved */
	cr_case("cr4.pae-clear-64bit", 1, c4 & ~CR4_PAE);
}

/* ---- hypervisor memory ------------------------------------------------------------ */
/* The ranges: the loader's UEFI configuration table while it publishes one
 * (issue 14 wants it gone), else the memory map's runtime-services
 * regions (the loader allocates the pool and the image as those types,
 * boot/loader.c), whose firmware pages answer and whose hypervisor pages
 * fault. Every page goes through page tables of our own (PML4 slot 200,
 * 2 MiB pages over the first 64 GiB, present and writable), so a fault is
 * the hypervisor's nested one (#GP), not the guest's (#PF). */
#define HOSTILE_VA 0x0000640000000000ull
#define MAP_GIB 64
static uint64_t *my_pml4, fw_cr3;
uint64_t hv_page_known;
struct range {
	uint64_t base, size;
};
static struct range ranges[64];
static unsigned n_ranges, from_table, memmap_only, table_seen;

uint64_t *zpage(void)
{
	EFI_PHYSICAL_ADDRESS a = 0;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 1, &a)))
		return NULL;
	memset((void *)(uintptr_t)a, 0, 4096);
	return (uint64_t *)(uintptr_t)a;
}

static int build_map(void)
{
	fw_cr3 = ahv_read_cr3();
	uint64_t *pml4 = zpage(), *pdpt = zpage();
	if (!pml4 || !pdpt)
		return -1;
	memcpy(pml4, (void *)(uintptr_t)(fw_cr3 & 0x000ffffffffff000ull), 4096);
	pml4[200] = (uint64_t)(uintptr_t)pdpt | 3;
	for (unsigned g = 0; g < MAP_GIB; g++) {
		uint64_t *pd = zpage();
		if (!pd)
			return -1;
		for (unsigned i = 0; i < 512; i++) /* PS, R/W, P (Vol. 3A Table 5-18) */
			pd[i] = ((uint64_t)g << 30 | (uint64_t)i << 21) | 0x83;
		pdpt[g] = (uint64_t)(uintptr_t)pd | 3;
	}
	my_pml4 = pml4;
	return 0;
}

static void find_ranges(EFI_SYSTEM_TABLE *st)
{
	EFI_GUID g = {0x8f3c1e2a, 0x6b1d, 0x4f7e, {0x9a, 0x51, 0x2c, 0x7e, 0x44, 0x10, 0xd3, 0x5b}};
	for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
		const uint64_t *p = st->ConfigurationTable[i].VendorTable;
		if (!CompareGuid(&st->ConfigurationTable[i].VendorGuid, &g) && p[0] == 0x53474e5256484121ull) {
			table_seen = 1;
			if (memmap_only)
				break;
			ranges[0] = (struct range){p[1], p[2]};
			ranges[1] = (struct range){p[3], p[4]};
			n_ranges = 2, from_table = 1;
			hv_pool_base = p[1];
			return;
		}
	}
	UINTN n = 0, key, dsz;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &dsz, &dver);
	for (UINTN i = 0; map && i < n && n_ranges < 64; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((uint8_t *)map + i * dsz);
		if (d->Type == EfiRuntimeServicesCode || d->Type == EfiRuntimeServicesData)
			ranges[n_ranges++] = (struct range){d->PhysicalStart, d->NumberOfPages * 4096};
	}
}

/* Every page of every range: a load, a locked RMW and (first page of each
 * range) a call. Counts pages that faulted with #GP, and any access that
 * completed or faulted otherwise. */
struct sweep {
	unsigned pages, faulted, completed, other;
	uint64_t first_bad, first_vec, leaked;
};

static void sweep(trap_fn fn, struct sweep *s, int first_only)
{
	memset(s, 0, sizeof(*s));
	__asm__ volatile("cli");
	ahv_write_cr3((uint64_t)(uintptr_t)my_pml4 | (fw_cr3 & 0xfff));
	for (unsigned r = 0; r < n_ranges; r++)
		for (uint64_t a = ranges[r].base; a < ranges[r].base + ranges[r].size; a += 4096) {
			if (a >= (uint64_t)MAP_GIB << 30)
				break;
			struct probe p = {HOSTILE_VA + a, 0, SENTINEL};
			uint64_t v = run_probe(fn, &p, NULL);
			s->pages++;
			if (v == V_GP) {
				s->faulted++;
				if (!hv_page_known && !first_only)
					hv_page_known = a;
			} else {
				if (!s->first_bad)
					s->first_bad = a, s->first_vec = v, s->leaked = p.out;
				if (v == V_OK)
					s->completed++;
				else
					s->other++;
			}
			if (first_only)
				break;
		}
	ahv_write_cr3(fw_cr3);
	irq_on();
}

static void hv_case(const char *name, trap_fn fn, int first_only)
{
	if (start(name))
		return;
	struct sweep s;
	sweep(fn, &s, first_only);
	/* From the table, every page must fault; from the memory map, the
	 * firmware's runtime pages answer, and at least the hypervisor's pool
	 * (8 MiB by default, boot/config.c) must fault. */
	int ok = from_table ? s.pages && s.faulted == s.pages : s.faulted >= (first_only ? 1u : 2048u);
	DET(L"%u pages in %u ranges (%a): %u #GP, %u completed, %u other; first non-#GP %lx vector %lu value %lx",
	    s.pages, n_ranges, from_table ? "loader table" : "memory map", s.faulted, s.completed, s.other,
	    s.first_bad, s.first_vec, s.leaked);
	verdict(name, ok);
}

static void cases_hvmem(void)
{
	if (start("hvmem.ranges-unpublished") == 0) {
		DET(L"loader's configuration table %a", table_seen ? "present" : "absent");
		verdict("hvmem.ranges-unpublished", !table_seen);
	}
	if (!n_ranges || build_map()) {
		not_applicable("hvmem.*", "no ranges found or no memory for page tables");
		return;
	}
	hv_case("hvmem.load-every-page", p_load, 0);
	hv_case("hvmem.store-every-page", p_store, 0);
	if (from_table)
		hv_case("hvmem.exec-first-page", p_exec, 1);
	else
		not_applicable("hvmem.exec-first-page", "without the table a firmware runtime page would run");
}

/* ---- hypercalls ------------------------------------------------------------------- */
/* A kernel looping on a bogus function number: each call answers
 * AHV_E_BAD_FUNCTION at once (no stop of the other CPUs first, issue 14
 * item 6). */
#define BOGUS_CALLS 2000
static unsigned bogus_loop(void)
{
	unsigned bad = 0;
	for (unsigned i = 0; i < BOGUS_CALLS; i++) {
		struct hc h = {0x41480000u + 0x77, 0, 0, 0, 0};
		hypercall(&h);
		bad += h.rax != AHV_E_BAD_FUNCTION;
	}
	return bad;
}

/* ---- the other CPU: storms (xAPIC ICR, SDM Vol. 3A §12.6.1) -------------------- */
#define XAPIC_ICR_LO 0xFEE00300u
#define XAPIC_ICR_HI 0xFEE00310u
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_ASSERT (1u << 14)
#define ICR_PENDING (1u << 12)
enum storm { S_NMI, S_INIT, S_SPIN };
static volatile uint32_t storm_kind, storm_run, storm_dest, storm_done;
static volatile uint64_t storm_sent, ap_spins;

static void icr_send(uint32_t dest, uint32_t lo)
{
	volatile uint32_t *hi = (volatile uint32_t *)(uintptr_t)XAPIC_ICR_HI;
	volatile uint32_t *l = (volatile uint32_t *)(uintptr_t)XAPIC_ICR_LO;
	for (unsigned i = 0; i < 100000 && (*l & ICR_PENDING); i++)
		__asm__ volatile("pause");
	*hi = dest << 24;
	*l = lo;
}

static void __attribute__((ms_abi)) storm_ap(void *arg)
{
	(void)arg;
	ap_spins++;
	while (!storm_run) /* until the boot CPU takes NMIs itself */
		__asm__ volatile("pause");
	while (storm_run) {
		if (storm_kind == S_NMI)
			icr_send(storm_dest, ICR_NMI | ICR_ASSERT);
		else if (storm_kind == S_INIT) /* to an APIC id no CPU has */
			icr_send(0xEE, ICR_INIT | ICR_ASSERT);
		storm_sent++;
		ap_spins++;
		for (volatile unsigned i = 0; i < 2000; i++)
			;
	}
	storm_done = 1;
}

ahv_mp_services *mp;
UINTN n_cpus;

/* Run the storm on the APs while this CPU attests `rounds` times (or runs
 * the bogus loop); NMIs are counted by the private IDT meanwhile. */
EFI_EVENT ap_start(ahv_ap_procedure fn, void *arg)
{
	EFI_EVENT ev;
	if (!mp || n_cpus < 2 || EFI_ERROR(uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &ev)))
		return NULL;
	if (EFI_ERROR(uefi_call_wrapper(mp->StartupAllAPs, 7, mp, fn, FALSE, ev, (UINTN)0, arg, NULL))) {
		uefi_call_wrapper(BS->CloseEvent, 1, ev);
		return NULL;
	}
	return ev;
}

void ap_end(EFI_EVENT ev)
{
	for (unsigned i = 0; i < 200 && uefi_call_wrapper(BS->CheckEvent, 1, ev) == EFI_NOT_READY; i++)
		uefi_call_wrapper(BS->Stall, 1, 10000);
	uefi_call_wrapper(BS->CloseEvent, 1, ev);
}

static void storm_case(const char *name, enum storm kind, unsigned rounds)
{
	if (start(name))
		return;
	if (!mp || n_cpus < 2) {
		not_applicable(name, "one CPU (smp needs --smp 2)");
		return;
	}
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	storm_dest = r[1] >> 24, storm_kind = kind, storm_run = 0, storm_done = 0, storm_sent = 0, ap_spins = 0;
	EFI_EVENT ev = ap_start(storm_ap, NULL);
	if (!ev) {
		DET(L"MP services did not start the AP");
		verdict(name, 0);
		return;
	}
	unsigned good = 0, busy = 0, other = 0, bad = 0;
	uint64_t last = 0, t0 = rdtsc(), spins0;
	for (unsigned i = 0; i < 100000000 && !ap_spins; i++) /* the AP has started */
		__asm__ volatile("pause");
	struct ahv_dtr fw;
	trap_nmis = 0;
	trap_idt_gate(2, trap_nmi_count);
	trap_idt_enter(&fw);
	storm_run = 1;
	for (unsigned i = 0; i < 100000000 && ap_spins < 2; i++) /* the storm is on */
		__asm__ volatile("pause");
	spins0 = ap_spins;
	if (kind == S_SPIN) {
		bad = bogus_loop();
	} else {
		for (unsigned i = 0; i < rounds; i++) {
			uint64_t ts, s = attest(&ts);
			good += s == AHV_OK, busy += s == AHV_E_BUSY, other += s != AHV_OK && s != AHV_E_BUSY;
			if (s == AHV_OK && ts < last)
				other++;
			if (s == AHV_OK)
				last = ts;
		}
	}
	uint64_t spins1 = ap_spins, cycles = rdtsc() - t0;
	storm_run = 0;
	for (unsigned i = 0; i < 50000000 && !storm_done; i++)
		__asm__ volatile("pause");
	for (volatile unsigned i = 0; i < 2000000; i++) /* NMIs still in flight */
		;
	trap_idt_leave(&fw);
	irq_on();
	trap_idt_init(); /* vector 2 back to the catcher */
	ap_end(ev);
	int ok;
	if (kind == S_SPIN) {
		DET(L"%u bogus calls, %u not BAD_FUNCTION; the other CPU ran %lu loops meanwhile (%lu cycles)",
		    BOGUS_CALLS, bad, spins1 - spins0, cycles);
		ok = !bad && spins1 > spins0 && storm_done;
	} else {
		DET(L"%u attestations: %u OK, %u BUSY, %u other; %lu IPIs sent, %lu NMIs taken, AP %a", rounds, good,
		    busy, other, storm_sent, trap_nmis, storm_done ? "done" : "STUCK");
		/* NMIs sent at different times, each taken once the last
		 * handler's IRET lifts the blocking (Vol. 3A §7.7.1): more than
		 * one arrives. */
		ok = good >= 1 && !other && storm_done && (kind != S_NMI || trap_nmis >= 2);
	}
	verdict(name, ok);
}

/* ---- main ------------------------------------------------------------------------- */
static void load_options(EFI_HANDLE image)
{
	EFI_LOADED_IMAGE *li;
	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)) ||
	    !li->LoadOptions || li->LoadOptionsSize < 2)
		return;
	opts = li->LoadOptions;
	for (const CHAR16 *s = opts; *s; s++)
		if (!StrnCmp(s, L"quirk-msr0", 10))
			quirk_msr0 = 1;
		else if (!StrnCmp(s, L"ranges=memmap", 13))
			memmap_only = 1;
	Print(L"AHV-HOSTILE: options %s\r\n", opts);
}

static int setup(EFI_HANDLE image)
{
	for (size_t i = 0; i < sizeof(data_buf); i++)
		data_buf[i] = (uint8_t)(i * 13 + 7);
	if (ahv_crypto_init(crypto_pool, sizeof(crypto_pool)) ||
	    (ahv_drbg_init(&rng, AHV_DRBG_HW, NULL, NULL, "hostile", 7) &&
	     ahv_drbg_init(&rng, 0, guest_tsc_entropy, NULL, "hostile", 7)))
		return -1;
	uint32_t r[4];
	ahv_cpuid(AHV_CPUID_LEAF_SIGNATURE, 0, r);
	if (r[1] != AHV_CPUID_SIG_EBX || r[2] != AHV_CPUID_SIG_ECX || r[3] != AHV_CPUID_SIG_EDX)
		return -2;
	struct hc h = {AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, sizeof(info_buf), 0, 0};
	hypercall(&h);
	const struct ahv_hv_info *info = (const void *)info_buf;
	if (h.rax != AHV_OK || ahv_spki_read_der(info->hv_spki, info->spki_len, &hv_pub))
		return -3;
	print_hex("AHV-HOSTILE-SPKI", info->hv_spki, info->spki_len);
	return guest_key_load(image, &rng, &gkey, gkey_id) ? -4 : 0;
}

/* The final good attestation: printed for the host (report_check and its
 * clock). */
static void final_case(void)
{
	uint64_t ts = 0, st = attest(&ts);
	if (st == AHV_OK) {
		uint8_t d0[32];
		ahv_hash(AHV_HASH_SHA256, data_buf, sizeof(data_buf), d0);
		print_hex("AHV-HOSTILE-REPORT", rep_buf, AHV_REPORT_SIZE(1));
		print_hex("AHV-HOSTILE-NONCE", nonce, sizeof(nonce));
		print_hex("AHV-HOSTILE-DIGEST0", d0, 32);
	}
	DET(L"status 0x%lx timestamp %lu", st, ts);
	verdict("final.good-attestation", st == AHV_OK);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	InitializeLib(image, st);
	Print(L"AHV-HOSTILE: start\r\n");
	load_options(image);
	cpuid_features();
	trap_idt_init();
	int e = setup(image);
	if (e) {
		Print(L"AHV-HOSTILE: FAIL setup (%d): no attest-hv, no key or no crypto\r\n", e);
		goto out;
	}
	mp = ahv_mp_locate(&n_cpus);
	find_ranges(st);
	Print(L"AHV-HOSTILE: %a, %lu CPUs, %u hypervisor ranges (%a)\r\n", intel ? "Intel" : "AMD", (uint64_t)n_cpus,
	      n_ranges, from_table ? "loader table" : "memory map");
	attest_case("alive.start");

	for (unsigned i = 0; i < sizeof(msr_list) / sizeof(msr_list[0]); i++)
		msr_probe(&msr_list[i]);
	msr_vmx();
	msr_hostile();
	attest_case("alive.after-msr");
	cases_time();
	cases_efer();
	cases_xsetbv();
	cases_cr();
	attest_case("alive.after-registers");
	cases_hvmem();
	attest_case("alive.after-hvmem");
	if (!start("hypercall.bogus-function-loop")) {
		unsigned bad = bogus_loop();
		DET(L"%u calls, %u not BAD_FUNCTION", BOGUS_CALLS, bad);
		verdict("hypercall.bogus-function-loop", !bad);
	}
	storm_case("smp.nmi-storm", S_NMI, 6);
	storm_case("smp.init-storm", S_INIT, 6);
	storm_case("smp.bogus-function-no-stall", S_SPIN, 0);
	cases_hypercalls();
	attest_case("alive.after-hypercalls");
	cases_init();
	attest_case("alive.after-init");
	final_case();
out:
	Print(L"AHV-HOSTILE: DONE %u cases, %u failed, %u skipped\r\n", n_cases, n_failed, n_skipped);
	uefi_call_wrapper(BS->Stall, 1, 200000);
	RT->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
