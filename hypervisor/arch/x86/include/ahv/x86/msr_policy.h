/*
 * msr_policy.h - which guest MSR accesses reach the CPU (issue "the guest
 * kernel is the adversary", docs/threat-model.md). An allow-list: every
 * MSR exits unless the table lets it pass; what exits is emulated here
 * (time, APIC base), refused as a CPU without the feature refuses it
 * (#GP: tracing that writes to physical memory, the hidden VT-x/SVM), or -
 * for MSRs the table does not name - read from the CPU and never written.
 * The classification is a pure function (tests/unit/msr_policy_test.c).
 */
#ifndef AHV_X86_MSR_POLICY_H
#define AHV_X86_MSR_POLICY_H
#include <stdint.h>

enum ahv_msr_class {
	AHV_MSR_UNLISTED = 0, /* exits: reads from the CPU, writes #GP */
	AHV_MSR_PASS,         /* no exit: guest state or harmless (the table says why) */
	AHV_MSR_WRITE_EXIT,   /* reads pass; writes exit and are done under the fixup */
	AHV_MSR_EMULATE,      /* exits; emulated by the hypervisor */
	AHV_MSR_DENY,         /* exits; #GP for reads and writes */
};

/* MSRs the policy names (SDM Vol. 4 Table 2-2; APM Vol. 2 Appendix A). */
#define MSR_IA32_TSC 0x10u
#define MSR_IA32_TSC_ADJUST 0x3Bu
#define MSR_IA32_DEBUGCTL 0x1D9u
#define MSR_IA32_X2APIC_ICR 0x830u

/* backend: AHV_BACKEND_SVM / AHV_BACKEND_VMX (wire.h); smp: smp = on. */
enum ahv_msr_class ahv_msr_class(uint32_t msr, uint32_t backend, int smp);
/* Row i's MSR range (for building bitmaps from the one table): 1, or 0
 * past the last row. */
int ahv_msr_row(unsigned i, uint32_t *first, uint32_t *last);

/* IA32_DEBUGCTL bits a guest may set (SDM Vol. 3B §18.4.1, Figure 18-3):
 * LBR (0), BTF (1), the freeze bits (11, 12, 14) and RTM debug (15); not TR
 * (6), BTS (7), BTINT (8), BTS_OFF_OS/USR (9, 10): branch trace stores go
 * to the DS save area, which the guest may not configure. */
#define AHV_DEBUGCTL_ALLOWED (0x3ull | 0x1800ull | 0x4000ull | 0x8000ull)

#endif
