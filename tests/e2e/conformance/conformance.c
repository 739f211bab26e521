/*
 * conformance.c - the CPU conformance payload (docs/conformance.md): a UEFI
 * app that runs at CPL0, bare or as the hypervisor's guest, every
 * instruction and MSR access the hypervisor intercepts or changes, with
 * legal and illegal operands, and prints one line per case on the console:
 *
 *   AHV-CONF: <case> = ok [value ...]       the instruction completed
 *   AHV-CONF: <case> = #GP err <code>       it raised this exception
 *   AHV-CONF: <case> = skipped              named in the load options
 *
 * tests/e2e/conformance/conformance-test.sh boots it twice on the same
 * emulator and CPU model, bare (hypervisor = off) and under attest-hv, and
 * diffs the two transcripts against differences.txt.
 *
 * Exceptions are caught by the payload's own IDT (../trap), loaded with
 * interrupts off around each case only; the firmware's IDT is back before
 * anything is printed. State a case changes (XCR0, CR0, CR4, EFER, MSRs) is
 * restored before its line is printed; a restore that faults prints a line
 * of its own (<case>.restore). Values that change from run to run (TSC,
 * addresses) are printed as booleans or not at all.
 *
 * Load options: "skip=<case>,<prefix>*,..." skips cases (a known hypervisor
 * crash that would end the run; docs/conformance.md).
 */
#include <efi.h>
#include <efilib.h>
#include <stdint.h>
#include "ahv/x86/cpu.h"
#include "trap.h"

/* ---- catching exceptions (../trap: trap.h) ------------------------------------ */
struct probe {
	uint64_t in[4], out[4];
	uint64_t vec, err; /* the exception, when it faulted */
};
typedef void (*probe_fn)(struct probe *);

/* fn(p) with our IDT; 1 when it faulted (p->vec/err). Interrupts go off
 * here and stay off until the case's line is printed (irq_restore), after
 * its restore: no firmware interrupt handler runs with a case's CR0.EM,
 * XCR0 or EFER. */
static int irq_was_on;

static void irq_restore(void)
{
	if (irq_was_on)
		__asm__ volatile("sti" ::: "memory");
}

static int try_probe(probe_fn fn, struct probe *p)
{
	return trap_call((trap_fn)fn, p, &p->vec, &p->err);
}

/* ---- the transcript ------------------------------------------------------------ */
static CHAR16 *skip_list; /* the load options, or NULL */
static unsigned n_cases, n_skipped;
static CHAR16 nm[96];
#define NAME(...) UnicodeSPrint(nm, sizeof(nm), __VA_ARGS__)

/* Is name in the comma/space separated skip list ("x*" matches a prefix)? */
static int skipped(const CHAR16 *name)
{
	const CHAR16 *s = skip_list;
	if (!s)
		return 0;
	while (*s) {
		while (*s == L',' || *s == L' ')
			s++;
		const CHAR16 *t = s;
		while (*t && *t != L',' && *t != L' ')
			t++;
		UINTN n = (UINTN)(t - s);
		if (n && s[n - 1] == L'*') {
			if (!StrnCmp(name, s, n - 1))
				return 1;
		} else if (n && StrLen(name) == n && !StrnCmp(name, s, n)) {
			return 1;
		}
		s = t;
	}
	return 0;
}

/* Exceptions with an error code (SDM Vol. 3A §7.15, Table 7-1). */
static int has_error_code(uint64_t v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

static const char *const vec_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#9",  "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};

/* Run a case (not printed yet): -1 skipped, 0 completed, 1 faulted. */
static int exec(const CHAR16 *name, probe_fn fn, struct probe *p)
{
	if (skipped(name)) {
		n_skipped++;
		return -1;
	}
	n_cases++;
	return try_probe(fn, p);
}

static void print_fault(const struct probe *p)
{
	Print(L"%a", vec_names[p->vec & 31]);
	if (has_error_code(p->vec))
		Print(L" err %lx", p->err);
}

/* Print a case's line: "ok" and p->out[0..nout), or the exception. */
static void show(const CHAR16 *name, int r, const struct probe *p, unsigned nout)
{
	irq_restore();
	Print(L"AHV-CONF: %s = ", name);
	if (r < 0) {
		Print(L"skipped");
	} else if (r) {
		print_fault(p);
	} else {
		Print(L"ok");
		for (unsigned i = 0; i < nout; i++)
			Print(L" %lx", p->out[i]);
	}
	Print(L"\r\n");
}

static struct probe P, R; /* a case's probe, and its restore's */

static int run(const CHAR16 *name, probe_fn fn, unsigned nout)
{
	int r = exec(name, fn, &P);
	show(name, r, &P, nout);
	return r;
}

/* Restore after a case; only a failure is printed (<case>.restore). */
static void restore(const CHAR16 *name, probe_fn fn)
{
	if (try_probe(fn, &R)) {
		irq_restore();
		Print(L"AHV-CONF: %s.restore = ", name);
		print_fault(&R);
		Print(L"\r\n");
	}
}

/* ---- probes ------------------------------------------------------------------- */
static void p_cpuid(struct probe *p)
{
	uint32_t r[4];
	ahv_cpuid((uint32_t)p->in[0], (uint32_t)p->in[1], r);
	for (int i = 0; i < 4; i++)
		p->out[i] = r[i];
}

static uint64_t xgetbv(uint32_t ecx)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(ecx));
	return (uint64_t)hi << 32 | lo;
}

static void p_xgetbv(struct probe *p) { p->out[0] = xgetbv((uint32_t)p->in[0]); }

/* XSETBV ECX=in[0], EDX:EAX=in[1]; then XCR0 back. */
static void p_xsetbv(struct probe *p)
{
	__asm__ volatile("xsetbv" ::"a"((uint32_t)p->in[1]), "d"((uint32_t)(p->in[1] >> 32)), "c"((uint32_t)p->in[0])
			 : "memory");
	p->out[0] = xgetbv(0);
}

static void p_rdmsr(struct probe *p) { p->out[0] = ahv_rdmsr((uint32_t)p->in[0]); }

/* WRMSR in[0] <- in[1], then read it back. */
static void p_wrmsr(struct probe *p)
{
	ahv_wrmsr((uint32_t)p->in[0], p->in[1]);
	p->out[0] = ahv_rdmsr((uint32_t)p->in[0]);
}

static void p_wrmsr_only(struct probe *p) { ahv_wrmsr((uint32_t)p->in[0], p->in[1]); }

static void p_wcr0(struct probe *p)
{
	__asm__ volatile("mov %0, %%cr0" ::"r"(p->in[0]) : "memory");
	p->out[0] = ahv_read_cr0();
}

static void p_wcr4(struct probe *p)
{
	__asm__ volatile("mov %0, %%cr4" ::"r"(p->in[0]) : "memory");
	p->out[0] = ahv_read_cr4();
}

static void p_wcr3(struct probe *p) { ahv_write_cr3(p->in[0]); }

static void p_cr8(struct probe *p)
{
	uint64_t v;
	__asm__ volatile("mov %%cr8, %0" : "=r"(v));
	p->out[0] = v;
	__asm__ volatile("mov %0, %%cr8" ::"r"(v) : "memory");
}

/* CLTS after setting CR0.TS (Vol. 2A "CLTS"). */
static void p_clts(struct probe *p)
{
	__asm__ volatile("mov %0, %%cr0; clts" ::"r"(p->in[0] | CR0_TS) : "memory");
	p->out[0] = ahv_read_cr0();
}

/* LMSW loads CR0[3:0] but never clears PE (Vol. 2A "LMSW"). */
static void p_lmsw(struct probe *p)
{
	__asm__ volatile("lmsw %w0" ::"r"(p->in[0]) : "memory");
	p->out[0] = ahv_read_cr0();
}

/* Hypercall instructions with RAX = in[0]: RAX comes back in out[0]. */
static void p_vmcall(struct probe *p)
{
	uint64_t a = p->in[0], b = 0, c = 0, d = 0;
	__asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : "S"(0ull) : "memory");
	p->out[0] = a;
}

static void p_vmmcall(struct probe *p)
{
	uint64_t a = p->in[0], b = 0, c = 0, d = 0;
	__asm__ volatile("vmmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : "S"(0ull) : "memory");
	p->out[0] = a;
}

/* Instructions without results; in[0] is an operand (a physical address,
 * a VMCS field) where they take one. */
static uint8_t page[4096] __attribute__((aligned(4096)));
static struct {
	uint64_t a, b;
} desc128;
#define INSN(fn, ...)                                                                                          \
	static void fn(struct probe *p)                                                                        \
	{                                                                                                      \
		(void)p;                                                                                       \
		__asm__ volatile(__VA_ARGS__);                                                                 \
	}
INSN(p_wbinvd, "wbinvd" ::: "memory")
INSN(p_invd, "wbinvd; invd" ::: "memory") /* nothing dirty to lose (Vol. 2A "INVD") */
INSN(p_vmxon, "vmxon %0" ::"m"(p->in[0]) : "memory", "cc")
INSN(p_vmxoff, "vmxoff" ::: "memory", "cc")
INSN(p_vmclear, "vmclear %0" ::"m"(p->in[0]) : "memory", "cc")
INSN(p_vmptrld, "vmptrld %0" ::"m"(p->in[0]) : "memory", "cc")
INSN(p_vmptrst, "vmptrst %0" : "=m"(p->out[0])::"memory", "cc")
INSN(p_vmread, "vmread %1, %0" : "=r"(p->out[0]) : "r"(p->in[0]) : "cc")
INSN(p_vmwrite, "vmwrite %1, %0" ::"r"(p->in[0]), "r"(p->in[1]) : "cc")
INSN(p_vmlaunch, "vmlaunch" ::: "memory", "cc")
INSN(p_vmresume, "vmresume" ::: "memory", "cc")
INSN(p_invept, "invept %0, %1" ::"m"(desc128), "r"(p->in[0]) : "memory", "cc")
INSN(p_invvpid, "invvpid %0, %1" ::"m"(desc128), "r"(p->in[0]) : "memory", "cc")
INSN(p_vmfunc, ".byte 0x0f, 0x01, 0xd4" ::"a"(0), "c"(0) : "memory")  /* VMFUNC leaf 0 */
INSN(p_getsec, ".byte 0x0f, 0x37" ::"a"(0), "b"(0) : "memory", "rcx") /* GETSEC[CAPABILITIES] */
INSN(p_vmrun, "vmrun %%rax" ::"a"(p->in[0]) : "memory")
INSN(p_vmload, "vmload %%rax" ::"a"(p->in[0]) : "memory")
INSN(p_vmsave, "vmsave %%rax" ::"a"(p->in[0]) : "memory")
INSN(p_stgi, "stgi" ::: "memory")
INSN(p_clgi_stgi, "clgi; stgi" ::: "memory")
INSN(p_invlpga, "invlpga %%rax, %%ecx" ::"a"(p->in[0]), "c"(0) : "memory")

/* RDTSCP: TSC_AUX in ECX (Vol. 2B "RDTSCP"); the TSC itself varies. */
static void p_rdtscp(struct probe *p)
{
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	p->out[0] = aux;
}

/* INVPCID type in[0] with a zero descriptor (Vol. 2A "INVPCID"). */
static void p_invpcid(struct probe *p)
{
	desc128.a = desc128.b = 0;
	__asm__ volatile("invpcid %0, %1" ::"m"(desc128), "r"(p->in[0]) : "memory");
}

/* ---- CPUID ------------------------------------------------------------------------ */
#define CPUID_1_ECX_VMX (1u << 5)          /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_1_ECX_XSAVE (1u << 26)       /* Table 3-10 */
#define CPUID_1_ECX_OSXSAVE (1u << 27)     /* Table 3-10: reflects CR4.OSXSAVE */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)  /* APM Vol. 3 E.3.2: reserved for hypervisors */
#define CPUID_8000_0001_ECX_SVM (1u << 2)  /* APM Vol. 3 E.4.2 */
#define CPUID_7_EBX_INVPCID (1u << 10)     /* SDM Vol. 2A Table 3-8 */
#define CPUID_D_1_EAX_XGETBV1 (1u << 2)    /* SDM Vol. 1 §13.2: XGETBV with ECX = 1 */

static uint32_t cpuid_max, cpuid_ext_max, leaf7_ebx, xcr_ok_lo, xcr_ok_hi, leafd1_eax, leaf1_ecx;

static void cpuid_line(uint32_t leaf, uint32_t sub)
{
	NAME(L"cpuid.%x.%x", leaf, sub);
	P.in[0] = leaf, P.in[1] = sub;
	run(nm, p_cpuid, 4);
}

/* A leaf with bits the hypervisor changes: the line without them, and one
 * line per bit (those are the documented differences). */
struct cpuid_bit {
	const CHAR16 *name; /* "ecx.vmx" */
	unsigned reg;       /* 0 EAX .. 3 EDX */
	uint32_t bit;
};

static void cpuid_masked(uint32_t leaf, const struct cpuid_bit *bits, unsigned n)
{
	uint64_t v[4];
	NAME(L"cpuid.%x.0", leaf);
	P.in[0] = leaf, P.in[1] = 0;
	int r = exec(nm, p_cpuid, &P);
	for (unsigned i = 0; i < 4; i++)
		v[i] = P.out[i];
	for (unsigned i = 0; i < n; i++)
		P.out[bits[i].reg] &= ~(uint64_t)bits[i].bit;
	show(nm, r, &P, 4);
	for (unsigned i = 0; i < n; i++) {
		NAME(L"cpuid.%x.0.%s", leaf, bits[i].name);
		P.out[0] = (v[bits[i].reg] & bits[i].bit) != 0;
		show(nm, r, &P, 1);
	}
}

static void cases_cpuid(void)
{
	uint32_t r[4];
	ahv_cpuid(0, 0, r);
	cpuid_max = r[0];
	ahv_cpuid(0x80000000u, 0, r);
	cpuid_ext_max = r[0];
	ahv_cpuid(1, 0, r);
	leaf1_ecx = r[2];
	ahv_cpuid(7, 0, r);
	leaf7_ebx = cpuid_max >= 7 ? r[1] : 0;
	ahv_cpuid(0xD, 0, r);
	xcr_ok_lo = r[0], xcr_ok_hi = r[3];
	ahv_cpuid(0xD, 1, r);
	leafd1_eax = r[0];

	cpuid_line(0, 0);
	/* Leaf 1 (Table 3-10/3-11): the hypervisor bit, VMX, and the debug
	 * store (DTES64, DS-CPL, DS), which a hypervisor may hide too. */
	static const struct cpuid_bit b1[] = {
		{L"ecx.hypervisor", 2, CPUID_1_ECX_HYPERVISOR}, {L"ecx.vmx", 2, CPUID_1_ECX_VMX},
		{L"ecx.dtes64", 2, 1u << 2},                    {L"ecx.ds-cpl", 2, 1u << 4},
		{L"edx.ds", 3, 1u << 21},
	};
	cpuid_masked(1, b1, sizeof(b1) / sizeof(b1[0]));
	/* Leaf 7: sub-leaves 0..EAX of sub-leaf 0 (Vol. 2A Table 3-8). */
	ahv_cpuid(7, 0, r);
	/* Sub-leaf 0 with Intel PT (EBX[25], Table 3-8) on a line of its own. */
	static const struct cpuid_bit b7[] = {{L"ebx.pt", 1, 1u << 25}};
	cpuid_masked(7, b7, 1);
	for (uint32_t s = 1; s <= (cpuid_max >= 7 ? r[0] : 0) && s < 16; s++)
		cpuid_line(7, s);
	/* Leaf 0xD: every sub-leaf (Vol. 1 §13.2). */
	for (uint32_t s = 0; s < 64; s++)
		cpuid_line(0xD, s);
	/* Leaf 0x14 (Intel PT): sub-leaves 0..EAX of sub-leaf 0. */
	ahv_cpuid(0x14, 0, r);
	for (uint32_t s = 0; s <= (cpuid_max >= 0x14 ? r[0] : 0) && s < 16; s++)
		cpuid_line(0x14, s);
	cpuid_line(0x80000000u, 0);
	static const struct cpuid_bit b8[] = {{L"ecx.svm", 2, CPUID_8000_0001_ECX_SVM}};
	cpuid_masked(0x80000001u, b8, 1);
	cpuid_line(0x80000008u, 0);
	cpuid_line(0x8000000Au, 0); /* SVM features (APM Vol. 3 E.4.9) */
	/* Hypervisor leaves (0x40000000-0x400000FF, reserved for them). */
	cpuid_line(0x40000000u, 0);
	cpuid_line(0x40000001u, 0);
}

/* ---- XGETBV / XSETBV (SDM Vol. 1 §13.3, Vol. 2C "XSETBV") --------------------- */
#define CR4_OSXSAVE (1ull << 18) /* Vol. 3A §2.5 */
static uint64_t xcr0_orig;

static void p_xsetbv_orig(struct probe *p)
{
	(void)p;
	__asm__ volatile("xsetbv" ::"a"((uint32_t)xcr0_orig), "d"((uint32_t)(xcr0_orig >> 32)), "c"(0) : "memory");
}

static void xsetbv_case(const CHAR16 *name, uint32_t ecx, uint64_t val)
{
	P.in[0] = ecx, P.in[1] = val;
	int r = exec(name, p_xsetbv, &P);
	if (r == 0)
		restore(name, p_xsetbv_orig);
	show(name, r, &P, 1);
}

static void cases_xcr(void)
{
	/* XCR0 values the rules tell apart (Vol. 1 §13.3): bit 0 x87 must be
	 * 1; AVX (2) needs SSE (1); opmask/ZMM_Hi256/Hi16_ZMM (5-7) all or
	 * none, and then AVX; BNDREGS/BNDCSR (3-4) both or neither; AMX
	 * TILECFG/TILEDATA (17-18) both or neither; PKRU (9); supervisor
	 * components PT (8), PASID (10), CET (11-12) never in XCR0; bits the
	 * CPU does not report in CPUID.(0DH,0) EDX:EAX; bits 32 and 63. */
	static const uint64_t vals[] = {
		0x0,     0x1,     0x2,     0x3,     0x4,     0x5,     0x6,     0x7,     0x23,    0x43,    0x83,
		0xe3,    0x27,    0x47,    0x87,    0x67,    0xa7,    0xc7,    0xe7,    0xe5,    0xb,     0x13,
		0x1b,    0x1f,    0xff,    0x203,   0x207,   0x2e7,   0x103,   0x403,   0x803,   0x1003,  0x20003,
		0x40003, 0x60003, 0x60007, 0x600e7, 0x80003, 0x100000003ull, 0x8000000000000003ull};
	uint64_t cr4 = ahv_read_cr4();
	int set_osx = (leaf1_ecx & CPUID_1_ECX_XSAVE) && !(cr4 & CR4_OSXSAVE);
	if (set_osx) { /* XSETBV needs CR4.OSXSAVE (Vol. 2C "XSETBV" #UD) */
		P.in[0] = cr4 | CR4_OSXSAVE;
		run(L"cr4.osxsave-set", p_wcr4, 1);
	}
	P.in[0] = 0;
	int r = run(L"xgetbv.0", p_xgetbv, 1);
	xcr0_orig = r ? 1 : P.out[0];
	if (leafd1_eax & CPUID_D_1_EAX_XGETBV1) {
		P.in[0] = 1;
		run(L"xgetbv.1", p_xgetbv, 1);
	}
	P.in[0] = 2;
	run(L"xgetbv.2", p_xgetbv, 1);
	P.in[0] = 0, P.in[1] = 0;
	/* What the CPU supports, as a line of its own. */
	Print(L"AHV-CONF: xcr0.supported = ok %lx\r\n", (uint64_t)xcr_ok_hi << 32 | xcr_ok_lo);
	n_cases++;
	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		NAME(L"xsetbv.%lx", vals[i]);
		xsetbv_case(nm, 0, vals[i]);
	}
	/* Every component the CPU supports at once (legal by construction):
	 * CPUID.(0DH,0):EBX and (0DH,1):EBX then size the XSAVE area for
	 * this XCR0 (Vol. 1 §13.2), whoever executes the CPUID. */
	uint64_t all = (uint64_t)xcr_ok_hi << 32 | xcr_ok_lo;
	P.in[0] = 0, P.in[1] = all;
	r = exec(L"xsetbv.all-supported", p_xsetbv, &P);
	show(L"xsetbv.all-supported", r, &P, 1);
	if (r == 0) {
		for (uint32_t sub = 0; sub < 2; sub++) {
			NAME(L"cpuid.d.%x.all-supported", sub);
			P.in[0] = 0xD, P.in[1] = sub;
			run(nm, p_cpuid, 4);
		}
		restore(L"xsetbv.all-supported", p_xsetbv_orig);
	}
	xsetbv_case(L"xsetbv.same", 0, xcr0_orig);
	xsetbv_case(L"xsetbv.ecx1", 1, xcr0_orig);
	xsetbv_case(L"xsetbv.ecx80000000", 0x80000000u, xcr0_orig);
	/* With CR4.OSXSAVE clear: XSETBV and XGETBV #UD, CPUID.1:ECX.OSXSAVE
	 * reads 0 (Vol. 2A Table 3-10). */
	uint64_t cr4_now = ahv_read_cr4();
	P.in[0] = cr4_now & ~CR4_OSXSAVE;
	r = exec(L"cr4.osxsave-clear", p_wcr4, &P);
	show(L"cr4.osxsave-clear", r, &P, 1);
	if (r == 0) {
		xsetbv_case(L"xsetbv.osxsave-clear", 0, xcr0_orig);
		P.in[0] = 0;
		run(L"xgetbv.osxsave-clear", p_xgetbv, 1);
		P.in[0] = 1, P.in[1] = 0;
		r = exec(L"cpuid.1.osxsave-clear", p_cpuid, &P);
		P.out[0] = (P.out[2] & CPUID_1_ECX_OSXSAVE) != 0;
		show(L"cpuid.1.osxsave-clear", r, &P, 1);
		R.in[0] = cr4_now;
		restore(L"cr4.osxsave-clear", p_wcr4);
	}
	P.in[0] = 1, P.in[1] = 0;
	r = exec(L"cpuid.1.osxsave", p_cpuid, &P);
	P.out[0] = (P.out[2] & CPUID_1_ECX_OSXSAVE) != 0;
	show(L"cpuid.1.osxsave", r, &P, 1);
	if (set_osx) {
		R.in[0] = cr4;
		restore(L"cr4.osxsave-set", p_wcr4);
	}
}

/* ---- MSRs ------------------------------------------------------------------------ */
enum { SHOW_VALUE, SHOW_NONZERO };
struct msr_case {
	const CHAR16 *name;
	uint32_t msr;
	uint8_t show, wb;   /* how to print the value; write the same value back */
	uint64_t rsvd_or;   /* a reserved bit to set (#GP expected), or 0 */
	uint64_t rsvd_and;  /* ... or bits to clear/replace: val & ~and | or */
};

/* MSR numbers: SDM Vol. 4 Table 2-2 (architectural) and APM Vol. 2
 * Appendix A. Intercepted by a back end: EFER, VM_CR, VM_HSAVE_PA (SVM
 * msrpm, svm.c), IA32_FEATURE_CONTROL and 0x480..0x493 (VMX MSR bitmap,
 * vmx.c). The others are switched by the VMCS/VMCB or pass through. */
static const struct msr_case msrs[] = {
	{L"efer", 0xC0000080u, SHOW_VALUE, 1, 0, 0},
	{L"apic_base", 0x1B, SHOW_VALUE, 1, 1ull << 63, 0}, /* bits above MAXPHYADDR reserved (Vol. 3A §12.4.4) */
	{L"feature_control", 0x3A, SHOW_VALUE, 1, 0, 0},
	{L"vm_cr", 0xC0010114u, SHOW_VALUE, 1, 0, 0},
	{L"vm_hsave_pa", 0xC0010117u, SHOW_VALUE, 1, 0, 0},
	{L"tsc_adjust", 0x3B, SHOW_VALUE, 1, 0, 0},
	{L"x2apic_id", 0x802, SHOW_VALUE, 0, 0, 0},
	{L"x2apic_version", 0x803, SHOW_VALUE, 0, 0, 0},
	{L"x2apic_tpr", 0x808, SHOW_VALUE, 1, 0, 0},
	{L"x2apic_svr", 0x80F, SHOW_VALUE, 0, 0, 0},
	{L"pat", 0x277, SHOW_VALUE, 1, 2, 0xff}, /* PA0 = 2: reserved memory type (Vol. 3A §13.12.2) */
	{L"sysenter_cs", 0x174, SHOW_VALUE, 1, 0, 0},
	{L"sysenter_esp", 0x175, SHOW_NONZERO, 1, 0, 0},
	{L"sysenter_eip", 0x176, SHOW_NONZERO, 1, 0, 0},
	{L"debugctl", 0x1D9, SHOW_VALUE, 1, 1ull << 63, 0}, /* bits 63:16 reserved (Vol. 3B §18.4.1) */
	{L"misc_enable", 0x1A0, SHOW_VALUE, 1, 0, 0},
	{L"mtrrcap", 0xFE, SHOW_VALUE, 0, 0, 0},
	{L"mtrr_def_type", 0x2FF, SHOW_VALUE, 1, 0, 0},
	{L"xss", 0xDA0, SHOW_VALUE, 1, 1, 0}, /* bit 0 (x87) must be 0 (Vol. 1 §13.3) */
	{L"star", 0xC0000081u, SHOW_VALUE, 1, 0, 0},
	{L"lstar", 0xC0000082u, SHOW_NONZERO, 1, 0, 0},
	{L"cstar", 0xC0000083u, SHOW_NONZERO, 1, 0, 0},
	{L"sfmask", 0xC0000084u, SHOW_VALUE, 1, 0, 0},
	/* Non-canonical base: #GP (Vol. 3A §3.4.4.1, WRMSR). */
	{L"fs_base", 0xC0000100u, SHOW_NONZERO, 1, 0x8000000000000000ull, 0},
	{L"gs_base", 0xC0000101u, SHOW_NONZERO, 1, 0x8000000000000000ull, 0},
	{L"kernel_gs_base", 0xC0000102u, SHOW_NONZERO, 1, 0x8000000000000000ull, 0},
	{L"tsc_aux", 0xC0000103u, SHOW_VALUE, 1, 1ull << 32, 0}, /* bits 63:32 reserved (Vol. 2B "RDTSCP") */
	/* MSRs an OS kernel reads and writes back during its start-up, which
	 * the hypervisor's MSR policy names (msr_policy.c): microcode
	 * signature, machine check, MTRRs, TSC deadline, counters, speculation
	 * control, and AMD's SYSCFG and HWCR. */
	{L"bios_sign_id", 0x8B, SHOW_VALUE, 1, 0, 0},
	{L"spec_ctrl", 0x48, SHOW_VALUE, 1, 0, 0},
	{L"arch_capabilities", 0x10A, SHOW_VALUE, 0, 0, 0},
	{L"mcg_cap", 0x179, SHOW_VALUE, 0, 0, 0},
	{L"mcg_status", 0x17A, SHOW_VALUE, 1, 0, 0},
	{L"mc0_ctl", 0x400, SHOW_VALUE, 1, 0, 0},
	{L"mtrr_physbase0", 0x200, SHOW_VALUE, 1, 0, 0},
	{L"mtrr_fix64k", 0x250, SHOW_VALUE, 1, 0, 0},
	{L"tsc_deadline", 0x6E0, SHOW_NONZERO, 1, 0, 0},
	{L"perfevtsel0", 0x186, SHOW_VALUE, 1, 0, 0},
	{L"pmc0", 0xC1, SHOW_NONZERO, 1, 0, 0},
	{L"syscfg", 0xC0010010u, SHOW_VALUE, 1, 0, 0},
	{L"hwcr", 0xC0010015u, SHOW_VALUE, 1, 0, 0},
	{L"unimplemented_c001ffff", 0xC001FFFFu, SHOW_VALUE, 1, 0, 0},
	{L"unimplemented_40000000", 0x40000000u, SHOW_VALUE, 1, 0, 0},
};

/* What a case prints of an MSR value: itself, or whether it is nonzero. */
static void shown_value(uint64_t v, uint8_t how)
{
	P.out[0] = how == SHOW_VALUE ? v : v != 0;
}

static void msr_one(const CHAR16 *name, uint32_t msr, uint8_t how, int wb, uint64_t rsvd_or, uint64_t rsvd_and)
{
	NAME(L"msr.%s.read", name);
	P.in[0] = msr;
	int r = exec(nm, p_rdmsr, &P);
	uint64_t v = P.out[0];
	shown_value(v, how);
	show(nm, r, &P, 1);
	if (r) /* a value we could not read: write 0 back */
		v = 0;
	if (wb) {
		NAME(L"msr.%s.write-same", name);
		P.in[0] = msr, P.in[1] = v;
		int w = exec(nm, p_wrmsr, &P);
		/* Read-back: "1" when it is the value written. */
		P.out[0] = P.out[0] == v;
		show(nm, w, &P, 1);
	}
	if (!r && (rsvd_or || rsvd_and)) {
		NAME(L"msr.%s.write-reserved", name);
		P.in[0] = msr, P.in[1] = (v & ~rsvd_and) | rsvd_or;
		int w = exec(nm, p_wrmsr, &P);
		if (w == 0) {
			R.in[0] = msr, R.in[1] = v;
			restore(nm, p_wrmsr_only);
		}
		shown_value(P.out[0], how);
		show(nm, w, &P, 1);
	}
}

/* The VMX capability MSRs (SDM Vol. 3D Appendix A). */
static void cases_msr(void)
{
	for (unsigned i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++)
		msr_one(msrs[i].name, msrs[i].msr, msrs[i].show, msrs[i].wb, msrs[i].rsvd_or, msrs[i].rsvd_and);
	for (uint32_t m = 0x480; m <= 0x493; m++) {
		CHAR16 n[24];
		UnicodeSPrint(n, sizeof(n), L"vmx_%x", m);
		msr_one(n, m, SHOW_VALUE, 1, 0, 0);
	}
	/* TSC: read and write back; the values themselves vary (printed: ok).
	 * A TSC write moves TSC_ADJUST along (Vol. 3B §18.17.3): put it back. */
	P.in[0] = 0x3B;
	int ra = try_probe(p_rdmsr, &P);
	uint64_t adj = P.out[0];
	P.in[0] = 0x10;
	int r = exec(L"msr.tsc.read", p_rdmsr, &P);
	show(L"msr.tsc.read", r, &P, 0);
	if (!r) {
		P.in[0] = 0x10, P.in[1] = P.out[0];
		r = exec(L"msr.tsc.write-same", p_wrmsr_only, &P);
		show(L"msr.tsc.write-same", r, &P, 0);
		if (!ra) {
			R.in[0] = 0x3B, R.in[1] = adj;
			restore(L"msr.tsc.write-same", p_wrmsr_only);
		}
	}
}

/* EFER (SDM Vol. 3A §2.2.1, APM Vol. 2 §3.1.7): SCE 0, LME 8, LMA 10,
 * NXE 11, SVME 12, LMSLE 13, FFXSR 14, TCE 15; other bits reserved. */
static void efer_case(const CHAR16 *name, uint64_t orig, uint64_t val)
{
	P.in[0] = 0xC0000080u, P.in[1] = val;
	int r = exec(name, p_wrmsr, &P);
	if (r == 0) {
		R.in[0] = 0xC0000080u, R.in[1] = orig;
		restore(name, p_wrmsr_only);
	}
	show(name, r, &P, 1);
}

static void cases_efer(void)
{
	uint64_t e = ahv_rdmsr(0xC0000080u);
	efer_case(L"efer.sce-toggle", e, e ^ (1ull << 0));
	efer_case(L"efer.rsvd1", e, e | (1ull << 1));
	efer_case(L"efer.lme-clear-paging", e, e & ~(1ull << 8));
	efer_case(L"efer.svme", e, e | (1ull << 12));
	efer_case(L"efer.lmsle", e, e | (1ull << 13));
	efer_case(L"efer.ffxsr", e, e | (1ull << 14));
	efer_case(L"efer.tce", e, e | (1ull << 15));
	efer_case(L"efer.rsvd16", e, e | (1ull << 16));
	efer_case(L"efer.rsvd63", e, e | (1ull << 63));
}

/* ---- control registers (SDM Vol. 3A §2.5, Vol. 2B "MOV—Move to/from
 * Control Registers") ---------------------------------------------------------- */
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_TSD (1ull << 2)
#define CR4_DE (1ull << 3)
#define CR4_PGE (1ull << 7)
#define CR4_VMXE (1ull << 13)
#define CR4_SMXE (1ull << 14)

static void cr_case(const CHAR16 *name, probe_fn fn, uint64_t orig, uint64_t val)
{
	P.in[0] = val;
	int r = exec(name, fn, &P);
	if (r == 0) {
		R.in[0] = orig;
		restore(name, fn);
	}
	show(name, r, &P, 1);
}

static void cases_cr(void)
{
	uint64_t c0 = ahv_read_cr0(), c4 = ahv_read_cr4();
	Print(L"AHV-CONF: cr0.read = ok %lx\r\n", c0);
	Print(L"AHV-CONF: cr4.read = ok %lx\r\n", c4);
	n_cases += 2;
	cr_case(L"cr0.same", p_wcr0, c0, c0);
	cr_case(L"cr0.wp-clear", p_wcr0, c0, c0 & ~CR0_WP);
	cr_case(L"cr0.mp-toggle", p_wcr0, c0, c0 ^ CR0_MP);
	cr_case(L"cr0.em-set", p_wcr0, c0, c0 | CR0_EM);
	cr_case(L"cr0.ne-clear", p_wcr0, c0, c0 & ~CR0_NE);
	cr_case(L"cr0.cd-set", p_wcr0, c0, c0 | CR0_CD);
	cr_case(L"cr0.nw-without-cd", p_wcr0, c0, (c0 & ~CR0_CD) | CR0_NW);
	cr_case(L"cr0.pg-without-pe", p_wcr0, c0, c0 & ~CR0_PE);
	cr_case(L"cr0.pg-clear-64bit", p_wcr0, c0, c0 & ~CR0_PG);
	cr_case(L"cr0.rsvd32", p_wcr0, c0, c0 | (1ull << 32));
	cr_case(L"cr0.rsvd63", p_wcr0, c0, c0 | (1ull << 63));
	cr_case(L"cr0.clts", p_clts, c0, c0);
	cr_case(L"cr0.lmsw-mp", p_lmsw, c0, (c0 ^ CR0_MP) & 0xf);
	cr_case(L"cr0.lmsw-pe-clear", p_lmsw, c0, c0 & 0xe);
	cr_case(L"cr4.same", p_wcr4, c4, c4);
	cr_case(L"cr4.tsd-toggle", p_wcr4, c4, c4 ^ CR4_TSD);
	cr_case(L"cr4.de-toggle", p_wcr4, c4, c4 ^ CR4_DE);
	cr_case(L"cr4.pge-toggle", p_wcr4, c4, c4 ^ CR4_PGE);
	cr_case(L"cr4.osxsave-toggle", p_wcr4, c4, c4 ^ CR4_OSXSAVE);
	cr_case(L"cr4.vmxe-set", p_wcr4, c4, c4 | CR4_VMXE);
	cr_case(L"cr4.smxe-set", p_wcr4, c4, c4 | CR4_SMXE);
	cr_case(L"cr4.pae-clear-64bit", p_wcr4, c4, c4 & ~CR4_PAE);
	cr_case(L"cr4.la57-toggle-64bit", p_wcr4, c4, c4 ^ CR4_LA57);
	cr_case(L"cr4.rsvd15", p_wcr4, c4, c4 | (1ull << 15));
	cr_case(L"cr4.rsvd31", p_wcr4, c4, c4 | (1ull << 31));
	cr_case(L"cr4.rsvd63", p_wcr4, c4, c4 | (1ull << 63));
	P.in[0] = ahv_read_cr3();
	run(L"cr3.same", p_wcr3, 0);
	run(L"cr8.read-write", p_cr8, 1);
}

/* ---- debug and descriptor-table registers -------------------------------------- */
/* MOV to DR6/DR7 #GPs with bits 63:32 set (SDM Vol. 2B "MOV—Move to/from
 * Debug Registers"); a back end switches both through the VMCS/VMCB (and
 * VMRUN fails on a DR6/DR7 upper half that is not 0, APM Vol. 2 §15.5.1).
 * No breakpoint is enabled: DR7 keeps L0-L3/G0-G3 clear. */
#define DR_PROBE(n)                                                                                     \
	static void p_wdr##n(struct probe *p)                                                            \
	{                                                                                                \
		uint64_t v;                                                                              \
		__asm__ volatile("mov %0, %%dr" #n ::"r"(p->in[0]) : "memory");                        \
		__asm__ volatile("mov %%dr" #n ", %0" : "=r"(v));                                        \
		p->out[0] = v;                                                                           \
	}                                                                                                \
	static void p_rdr##n(struct probe *p) { __asm__ volatile("mov %%dr" #n ", %0" : "=r"(p->out[0])); }
DR_PROBE(0)
DR_PROBE(6)
DR_PROBE(7)

/* STR, SLDT and the GDT limit (the base is an address); the IDT limit is
 * read outside the probe, which runs on the payload's own IDT. */
static void p_desc(struct probe *p)
{
	struct ahv_dtr g;
	uint16_t tr, ldt;
	ahv_sgdt(&g);
	__asm__ volatile("str %0; sldt %1" : "=r"(tr), "=r"(ldt));
	p->out[0] = tr, p->out[1] = ldt, p->out[2] = g.limit;
}

static void cases_dr_desc(void)
{
	static const struct {
		const CHAR16 *name;
		probe_fn rd, wr;
		uint64_t rsvd; /* a value the write must #GP on, or 0 */
		uint64_t legal; /* a legal value to write and read back */
	} drs[] = {
		{L"dr.dr0", p_rdr0, p_wdr0, 0, 0x1000},
		{L"dr.dr6", p_rdr6, p_wdr6, 0xFFFF0FF0ull | 1ull << 32, 0},
		{L"dr.dr7", p_rdr7, p_wdr7, 0x400ull | 1ull << 32, 0x400 | 1u << 8}, /* LE: no breakpoint */
	};
	for (unsigned i = 0; i < sizeof(drs) / sizeof(drs[0]); i++) {
		NAME(L"%s.read", drs[i].name);
		int r = exec(nm, drs[i].rd, &P);
		uint64_t orig = P.out[0];
		show(nm, r, &P, 1);
		if (r)
			continue;
		if (drs[i].legal) {
			NAME(L"%s.write", drs[i].name);
			P.in[0] = drs[i].legal;
			r = exec(nm, drs[i].wr, &P);
			R.in[0] = orig;
			restore(nm, drs[i].wr);
			show(nm, r, &P, 1);
		}
		if (drs[i].rsvd) {
			NAME(L"%s.rsvd32", drs[i].name);
			P.in[0] = drs[i].rsvd;
			r = exec(nm, drs[i].wr, &P);
			if (r == 0) {
				R.in[0] = orig;
				restore(nm, drs[i].wr);
			}
			show(nm, r, &P, 1);
		}
	}
	struct ahv_dtr idtr;
	int r = exec(L"desc.str-sldt-gdt-idt-limits", p_desc, &P);
	ahv_sidt(&idtr);
	P.out[3] = idtr.limit;
	show(L"desc.str-sldt-gdt-idt-limits", r, &P, 4);
}

/* ---- cache and TLB instructions ------------------------------------------------ */
static void cases_cache(void)
{
	run(L"wbinvd", p_wbinvd, 0);
	run(L"invd", p_invd, 0);
	run(L"rdtscp.aux", p_rdtscp, 1);
	if (leaf7_ebx & CPUID_7_EBX_INVPCID) {
		/* Types 0-3 exist; 4 and up #GP (Vol. 2A "INVPCID"). */
		P.in[0] = 2;
		run(L"invpcid.all", p_invpcid, 0);
		P.in[0] = 4;
		run(L"invpcid.type4", p_invpcid, 0);
	}
}

/* ---- VT-x and SVM instructions ------------------------------------------------- */
/* One instruction per case: in[0] is its operand, IN_PAGE for the
 * physical address of a zeroed 4 KiB page. */
#define IN_PAGE (~0ull)
struct insn_case {
	const CHAR16 *name;
	probe_fn fn;
	uint64_t in0;
	unsigned nout;
};

static void run_insns(const struct insn_case *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		P.in[0] = c[i].in0 == IN_PAGE ? (uint64_t)(uintptr_t)page : c[i].in0; /* identity map: PA = VA */
		P.in[1] = 0;
		run(c[i].name, c[i].fn, c[i].nout);
	}
}

static void cases_virt(void)
{
	/* Outside VMX operation (CR4.VMXE = 0) every VMX instruction is #UD
	 * (their "Protected Mode Exceptions", SDM Vol. 2C / 3C §32); on AMD
	 * they are #UD anyway. VMREAD/VMWRITE name the guest RIP field 0x681E
	 * (Vol. 3D Appendix B); INVEPT/INVVPID type 2, all contexts.
	 * The hypercall instructions with functions attest-hv does not have
	 * (docs/protocol.md): bare, VMCALL #UDs outside VMX non-root (Vol. 2C
	 * "VMCALL") and VMMCALL without an intercept (APM Vol. 3 "VMMCALL");
	 * under the hypervisor the vendor's one is the hypercall.
	 * SVM with EFER.SVME = 0: #UD (APM Vol. 3, each instruction's
	 * exceptions). SKINIT is not run: it would reinitialise the CPU into
	 * the secure loader, ending the test. */
	static const struct insn_case insns[] = {
		{L"vmx.vmxon", p_vmxon, IN_PAGE, 0},
		{L"vmx.vmxoff", p_vmxoff, 0, 0},
		{L"vmx.vmclear", p_vmclear, IN_PAGE, 0},
		{L"vmx.vmptrld", p_vmptrld, IN_PAGE, 0},
		{L"vmx.vmptrst", p_vmptrst, 0, 0},
		{L"vmx.vmread", p_vmread, 0x681e, 0},
		{L"vmx.vmwrite", p_vmwrite, 0x681e, 0},
		{L"vmx.vmlaunch", p_vmlaunch, 0, 0},
		{L"vmx.vmresume", p_vmresume, 0, 0},
		{L"vmx.invept", p_invept, 2, 0},
		{L"vmx.invvpid", p_invvpid, 2, 0},
		{L"vmx.vmfunc", p_vmfunc, 0, 0},
		{L"vmx.getsec", p_getsec, 0, 0},
		{L"hypercall.vmcall.unknown", p_vmcall, 0x414800FFu, 1},
		{L"hypercall.vmmcall.unknown", p_vmmcall, 0x414800FFu, 1},
		{L"hypercall.vmcall.rax0", p_vmcall, 0, 1},
		{L"hypercall.vmmcall.rax0", p_vmmcall, 0, 1},
		{L"svm.vmrun", p_vmrun, IN_PAGE, 0},
		{L"svm.vmload", p_vmload, IN_PAGE, 0},
		{L"svm.vmsave", p_vmsave, IN_PAGE, 0},
		{L"svm.stgi", p_stgi, 0, 0},
		{L"svm.clgi-stgi", p_clgi_stgi, 0, 0},
		{L"svm.invlpga", p_invlpga, IN_PAGE, 0},
	};
	run_insns(insns, sizeof(insns) / sizeof(insns[0]));
	/* With EFER.SVME = 1 (accepted where SVM exists): VMSAVE then VMLOAD
	 * of the same area, CLGI/STGI, INVLPGA. VMRUN is not run: it would
	 * enter a guest. */
	static const struct insn_case svme[] = {
		{L"svm.svme.vmsave", p_vmsave, IN_PAGE, 0},
		{L"svm.svme.vmload", p_vmload, IN_PAGE, 0},
		{L"svm.svme.clgi-stgi", p_clgi_stgi, 0, 0},
		{L"svm.svme.invlpga", p_invlpga, IN_PAGE, 0},
	};
	uint64_t e = ahv_rdmsr(0xC0000080u);
	P.in[0] = 0xC0000080u, P.in[1] = e | (1ull << 12);
	int r = exec(L"svm.svme-on", p_wrmsr, &P);
	show(L"svm.svme-on", r, &P, 1);
	if (r == 0) {
		run_insns(svme, sizeof(svme) / sizeof(svme[0]));
		R.in[0] = 0xC0000080u, R.in[1] = e;
		restore(L"svm.svme-on", p_wrmsr_only);
	}
}

/* ---- task switches ------------------------------------------------------------------ */
/* A copy of the firmware's GDT with a 32-bit code segment, a 64-bit TSS,
 * a 32-bit data segment and two 32-bit TSSs. IA-32e mode has no task
 * switching: a far JMP to a TSS selector #GPs with the selector as error
 * code, in 64-bit mode and in compatibility mode (Vol. 2A "JMP", Vol. 3A
 * §9.7). In legacy protected mode it switches tasks (Vol. 3A §9.3). */

/* 32-bit TSS (Vol. 3A §9.2.1, Figure 9-2). */
struct __attribute__((packed)) tss32 {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
};

/* conf_legacy_task's block (../trap/trap.S). */
struct __attribute__((packed)) legacy_blk {
	uint32_t tr, cr0, eflags, cs64, ret;
	uint32_t far_off;
	uint16_t far_sel, pad;
	uint32_t cs32, tss_a;
	uint32_t op;          /* 0 task switch, 1 CPUID and RDMSR in legacy mode */
	uint32_t vendor[3];   /* op 1: CPUID.0 EBX, EDX, ECX */
	uint32_t efer;        /* op 1: EFER[31:0] */
};

static uint64_t gdt[64] __attribute__((aligned(16)));
static uint8_t tss64[104] __attribute__((aligned(16)));
static struct tss32 tss_a, tss_b __attribute__((aligned(16)));
static struct legacy_blk blk;
static uint8_t task_b_stack[4096] __attribute__((aligned(16)));
static struct __attribute__((packed)) {
	uint32_t off;
	uint16_t sel;
} far_tss;
static uint16_t sel_code32, sel_tss64, sel_data32, sel_tss_a, sel_tss_b;

/* Descriptors (Vol. 3A §3.4.5, §5.2.1, §8.2.3; in IA-32e mode §9.2.3):
 * flat 4 GiB code/data with G and D/B, P, DPL 0; TSS type 9 (available). */
#define DESC_CODE32 0x00CF9A000000FFFFull
#define DESC_DATA32 0x00CF92000000FFFFull
#define DESC_TYPE_TSS_AVAIL 0x9
#define DESC_TYPE_TSS_BUSY 0xB
static uint64_t tss_desc(uint64_t base, uint32_t limit)
{
	return (limit & 0xffff) | (base & 0xffffff) << 16 | (uint64_t)(0x80 | DESC_TYPE_TSS_AVAIL) << 40 |
	       (uint64_t)((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
}

static void p_ljmp64(struct probe *p)
{
	(void)p;
	__asm__ volatile("ljmp *%0" ::"m"(far_tss) : "memory");
}

static void p_ljmp_compat(struct probe *p)
{
	(void)p;
	conf_compat_ljmp(&far_tss, sel_code32);
}

static void p_legacy_task(struct probe *p)
{
	(void)p;
	conf_legacy_task(&blk);
}

static uint64_t below4g(const void *a) { return (uint64_t)(uintptr_t)a; }

/* CPUID and RDMSR EFER in legacy protected mode, paging off (op 1): the
 * exits a back end takes there, and what EFER.LMA reads there (0: Vol. 3A
 * §10.8.5). */
static void legacy_insn_case(void)
{
	uint64_t cr0 = ahv_read_cr0(), fsb = ahv_rdmsr(0xC0000100u), gsb = ahv_rdmsr(0xC0000101u);
	uint32_t r[4];
	SetMem(&blk, sizeof(blk), 0);
	blk.cs32 = sel_code32, blk.op = 1;
	int rc = exec(L"mode.legacy-cpuid-rdmsr", p_legacy_task, &P);
	__asm__ volatile("mov %0, %%cr0" ::"r"(cr0) : "memory");
	ahv_wrmsr(0xC0000100u, fsb);
	ahv_wrmsr(0xC0000101u, gsb);
	ahv_cpuid(0, 0, r);
	P.out[0] = blk.vendor[0] == r[1] && blk.vendor[1] == r[3] && blk.vendor[2] == r[2];
	P.out[1] = blk.efer;
	P.out[2] = blk.cr0;
	show(L"mode.legacy-cpuid-rdmsr", rc, &P, 3);
}

/* The legacy-mode task switch: TSS B starts conf_task_b on its own stack
 * with the current CR3 (below 4 GiB), interrupts off. */
static void legacy_task_case(void)
{
	uint64_t cr0 = ahv_read_cr0(), cr3 = ahv_read_cr3(), fsb = ahv_rdmsr(0xC0000100u),
		 gsb = ahv_rdmsr(0xC0000101u);
	SetMem(&tss_a, sizeof(tss_a), 0);
	SetMem(&tss_b, sizeof(tss_b), 0);
	SetMem(&blk, sizeof(blk), 0);
	tss_a.iomap = tss_b.iomap = sizeof(struct tss32); /* no I/O bitmap */
	tss_b.cr3 = (uint32_t)cr3;
	tss_b.eip = (uint32_t)below4g(conf_task_b);
	tss_b.eflags = 2; /* bit 1 reserved as 1; IF = 0 */
	tss_b.esp = (uint32_t)below4g(task_b_stack + sizeof(task_b_stack));
	tss_b.esi = (uint32_t)below4g(&blk);
	tss_b.cs = sel_code32;
	tss_b.ss = tss_b.ds = tss_b.es = tss_b.fs = tss_b.gs = sel_data32;
	blk.far_off = 0, blk.far_sel = sel_tss_b;
	blk.cs32 = sel_code32, blk.tss_a = sel_tss_a;
	int r = exec(L"task.legacy-jmp-tss", p_legacy_task, &P);
	/* Back in 64-bit mode: CR0.TS was set by the switch, FS/GS bases
	 * were reloaded from the descriptors. */
	__asm__ volatile("mov %0, %%cr0" ::"r"(cr0) : "memory");
	ahv_wrmsr(0xC0000100u, fsb);
	ahv_wrmsr(0xC0000101u, gsb);
	/* What the switch did (Vol. 3A §9.3): TR = TSS B; CR0.TS set; NT
	 * clear (a JMP does not nest); TSS A no longer busy, TSS B busy; TSS A
	 * holds task A's CS, EIP after the JMP and EDI; no back link. */
	P.out[0] = blk.tr == sel_tss_b;
	P.out[1] = (blk.cr0 & CR0_TS) != 0;
	P.out[2] = (blk.eflags >> 14) & 1;
	P.out[3] = (gdt[sel_tss_a / 8] >> 40 & 0xf) << 4 | (gdt[sel_tss_b / 8] >> 40 & 0xf);
	show(L"task.legacy-jmp-tss", r, &P, 4);
	P.out[0] = tss_a.cs == sel_code32;
	P.out[1] = tss_a.eip == (uint32_t)below4g(conf_legacy_after_ljmp);
	P.out[2] = tss_a.edi == (uint32_t)below4g(&blk);
	P.out[3] = tss_b.link;
	NAME(L"task.legacy-jmp-tss.saved-state");
	show(nm, r, &P, 4);
}

static void cases_task(void)
{
	struct ahv_dtr fw, mine;
	ahv_sgdt(&fw);
	unsigned n = (fw.limit + 1u) / 8;
	uint16_t fw_tr = ahv_str();
	if (n + 6 > 64 || below4g(&far_tss) >> 32) {
		Print(L"AHV-CONF: task = not run (GDT of %u entries, or the payload above 4 GiB)\r\n", n);
		return;
	}
	CopyMem(gdt, (void *)(uintptr_t)fw.base, fw.limit + 1u);
	gdt[n] = DESC_CODE32;
	/* 16-byte TSS descriptor in IA-32e mode: base 63:32 in the next 8. */
	gdt[n + 1] = tss_desc(below4g(tss64), sizeof(tss64) - 1);
	gdt[n + 2] = below4g(tss64) >> 32;
	gdt[n + 3] = DESC_DATA32;
	gdt[n + 4] = tss_desc(below4g(&tss_a), sizeof(tss_a) - 1);
	gdt[n + 5] = tss_desc(below4g(&tss_b), sizeof(tss_b) - 1);
	sel_code32 = (uint16_t)(n * 8);
	sel_tss64 = (uint16_t)((n + 1) * 8);
	sel_data32 = (uint16_t)((n + 3) * 8);
	sel_tss_a = (uint16_t)((n + 4) * 8);
	sel_tss_b = (uint16_t)((n + 5) * 8);
	far_tss.off = 0, far_tss.sel = sel_tss64;
	mine.limit = (uint16_t)((n + 6) * 8 - 1);
	mine.base = below4g(gdt);
	__asm__ volatile("cli; lgdt %0" ::"m"(mine) : "memory");
	int r1 = exec(L"task.ljmp-tss-64bit", p_ljmp64, &P);
	int r2 = exec(L"task.ljmp-tss-compat", p_ljmp_compat, &R);
	__asm__ volatile("lgdt %0" ::"m"(fw) : "memory");
	/* The error codes are selectors: the firmware's GDT fixes them. */
	Print(L"AHV-CONF: task.selectors = ok tss64 %x code32 %x\r\n", sel_tss64, sel_code32);
	n_cases++;
	show(L"task.ljmp-tss-64bit", r1, &P, 0);
	show(L"task.ljmp-tss-compat", r2, &R, 0);

	/* Legacy protected mode; the task switch last, as it leaves TR on
	 * TSS B. */
	__asm__ volatile("cli; lgdt %0" ::"m"(mine) : "memory");
	uint64_t rsp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	if (ahv_read_cr3() >> 32 || rsp >> 32 || below4g(&blk) >> 32)
		Print(L"AHV-CONF: mode = not run (CR3, stack or payload above 4 GiB)\r\n");
	else {
		legacy_insn_case();
		legacy_task_case();
	}
	__asm__ volatile("lgdt %0" ::"m"(fw) : "memory");
	/* The firmware's task register back, where it had one: mark its
	 * descriptor available again, then LTR (Vol. 2A "LTR" #GP on busy). */
	if (fw_tr) {
		uint8_t *type = (uint8_t *)(uintptr_t)fw.base + (fw_tr & ~7u) + 5;
		*type = (uint8_t)((*type & ~0xf) | DESC_TYPE_TSS_AVAIL);
		__asm__ volatile("ltr %0" ::"r"(fw_tr) : "memory");
	}
	irq_restore();
}

/* ---- main --------------------------------------------------------------------------- */
static void load_skip_list(EFI_HANDLE image)
{
	EFI_LOADED_IMAGE *li;
	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)) ||
	    !li->LoadOptions || li->LoadOptionsSize < 2)
		return;
	CHAR16 *o = li->LoadOptions;
	UINTN n = li->LoadOptionsSize / 2;
	for (UINTN i = 0; i + 5 <= n; i++)
		if (!StrnCmp(o + i, L"skip=", 5)) {
			skip_list = o + i + 5;
			Print(L"AHV-CONF-SKIP-LIST %s\r\n", skip_list);
			return;
		}
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	InitializeLib(image, st);
	Print(L"AHV-CONF: START\r\n");
	load_skip_list(image);
	irq_was_on = (ahv_read_rflags() & RFLAGS_IF) != 0;
	trap_idt_init();
	cases_cpuid();
	cases_xcr();
	cases_msr();
	cases_efer();
	cases_cr();
	cases_dr_desc();
	cases_cache();
	cases_virt();
	cases_task();
	Print(L"AHV-CONF: DONE %u cases, %u skipped\r\n", n_cases, n_skipped);
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
