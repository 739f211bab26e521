/*
 * ahv/x86/cpu.h - x86-64 instruction wrappers for host code (freestanding,
 * general-purpose registers only). Architectural numbers cite the AMD APM
 * Vol. 2 (System Programming, rev. 3.42) or Vol. 3, or the Intel SDM.
 */
#ifndef AHV_X86_CPU_H
#define AHV_X86_CPU_H

#include <stdint.h>

/* MSRs (APM Vol. 2 Appendix A "MSR Cross-Reference"). */
#define MSR_IA32_PAT 0x00000277u     /* APM Vol. 2 §7.8.1 "PAT Register" */
#define MSR_EFER 0xC0000080u         /* APM Vol. 2 §3.1.7 "Extended Feature Enable Register" */
#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u
#define MSR_VM_CR 0xC0010114u        /* APM Vol. 2 §15.30.1 "VM_CR MSR" */
#define MSR_VM_HSAVE_PA 0xC0010117u  /* APM Vol. 2 §15.30.4 "VM_HSAVE_PA MSR" */

/* EFER bits (APM Vol. 2 §3.1.7, Figure 3-8). */
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define EFER_SVME (1ull << 12)
#define EFER_LMSLE (1ull << 13)
#define EFER_FFXSR (1ull << 14)
#define EFER_TCE (1ull << 15)

/* VM_CR bits (APM Vol. 2 §15.30.1). */
#define VM_CR_R_INIT (1ull << 1) /* INIT becomes #SX (vector 30, error code 1) */
#define VM_CR_SVMDIS (1ull << 4)

/* CR0 / CR4 bits (APM Vol. 2 §3.1.1, §3.1.3). */
#define CR0_PE (1ull << 0)
#define CR0_TS (1ull << 3)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_OSXSAVE (1ull << 18) /* SDM Vol. 3A §2.5 */
#define CR4_PKE (1ull << 22)     /* SDM Vol. 3A §2.5 */

/* IA32_APIC_BASE (SDM Vol. 3A §11.4.4, §11.12.1). */
#define MSR_IA32_APIC_BASE 0x1Bu
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode */

/* RFLAGS (APM Vol. 2 §3.1.6). */
#define RFLAGS_IF (1ull << 9)

static inline void ahv_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t ahv_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void ahv_wrmsr(uint32_t msr, uint64_t v)
{
	/* The high half goes in EDX: v >> 32 (SimpleVisor once wrote rdx >> 32). */
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

#define AHV_READ_CR(n)                                                         \
	static inline uint64_t ahv_read_cr##n(void)                            \
	{                                                                      \
		uint64_t v;                                                    \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));              \
		return v;                                                      \
	}
AHV_READ_CR(0)
AHV_READ_CR(2)
AHV_READ_CR(3)
AHV_READ_CR(4)
#undef AHV_READ_CR

static inline void ahv_write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}

static inline uint64_t ahv_read_rflags(void)
{
	uint64_t v;
	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}

static inline uint64_t ahv_read_dr7(void)
{
	uint64_t v;
	__asm__ volatile("mov %%dr7, %0" : "=r"(v));
	return v;
}

struct __attribute__((packed)) ahv_dtr {
	uint16_t limit;
	uint64_t base;
};

static inline void ahv_sgdt(struct ahv_dtr *d) { __asm__ volatile("sgdt %0" : "=m"(*d)); }
static inline void ahv_sidt(struct ahv_dtr *d) { __asm__ volatile("sidt %0" : "=m"(*d)); }

#define AHV_READ_SEG(s)                                                        \
	static inline uint16_t ahv_read_##s(void)                              \
	{                                                                      \
		uint16_t v;                                                    \
		__asm__ volatile("mov %%" #s ", %0" : "=r"(v));                \
		return v;                                                      \
	}
AHV_READ_SEG(cs)
AHV_READ_SEG(ss)
AHV_READ_SEG(ds)
AHV_READ_SEG(es)
AHV_READ_SEG(fs)
AHV_READ_SEG(gs)
#undef AHV_READ_SEG

static inline uint16_t ahv_str(void)
{
	uint16_t v;
	__asm__ volatile("str %0" : "=r"(v));
	return v;
}

static inline void ahv_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint8_t ahv_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t ahv_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void ahv_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void ahv_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void ahv_pause(void) { __asm__ volatile("pause" ::: "memory"); }

/* CLGI / STGI (APM Vol. 3 "CLGI", "STGI"; Vol. 2 §15.17 "Global Interrupt Flag"). */
static inline void ahv_clgi(void) { __asm__ volatile("clgi" ::: "memory"); }

/* Stop this CPU for good: interrupts off, halt forever (GIF is 0 in the host
 * after #VMEXIT, so nothing wakes it except RESET/INIT). */
static inline __attribute__((noreturn)) void ahv_halt_forever(void)
{
	for (;;) {
		ahv_cli();
		ahv_hlt();
	}
}

/* Physical-address width (CPUID 0x80000008 EAX[7:0], APM Vol. 3 Appendix E). */
static inline unsigned ahv_maxphyaddr(void)
{
	uint32_t r[4];
	ahv_cpuid(0x80000000u, 0, r);
	if (r[0] < 0x80000008u)
		return 36;
	ahv_cpuid(0x80000008u, 0, r);
	return r[0] & 0xff;
}

/* 1 GiB pages (CPUID 0x80000001 EDX[26] Page1GB, APM Vol. 3 Appendix E.4.2). */
static inline int ahv_has_1g_pages(void)
{
	uint32_t r[4];
	ahv_cpuid(0x80000001u, 0, r);
	return (r[3] >> 26) & 1;
}

#endif
