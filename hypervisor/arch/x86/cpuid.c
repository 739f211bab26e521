/*
 * cpuid.c - the CPUID the guest sees, for both vendors: the hypervisor
 * leaves from the core, the hypervisor-present bit, VMX and SVM (and what
 * the hypervisor will not let a guest use) hidden, and the bits that
 * mirror the guest's own CR4.
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"

/* CPUID bits the policy touches. */
#define CPUID_1_ECX_VMX (1u << 5)          /* SDM Vol. 2A CPUID Table 3-10; Vol. 3C §24.6 */
#define CPUID_1_ECX_DTES64 (1u << 2)       /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_1_ECX_DSCPL (1u << 4)
#define CPUID_1_EDX_DS (1u << 21)          /* Table 3-11 */
#define CPUID_7_EBX_PT (1u << 25)          /* leaf 07H EBX: Intel Processor Trace */
#define CPUID_1_ECX_OSXSAVE (1u << 27)     /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_7_ECX_OSPKE (1u << 4)        /* SDM Vol. 2A CPUID leaf 07H */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)  /* reserved for hypervisor use (APM Vol. 3 E.3.2) */
#define CPUID_8000_0001_ECX_SVM (1u << 2)  /* APM Vol. 2 §15.4 "Enabling SVM" */

/* Leaf 0DH (XSAVE enumeration, SDM Vol. 1 §13.2) is the CPU's own answer,
 * sub-leaf 1 included: XCR0 and IA32_XSS are the guest's while the exit
 * runs (neither is switched on VM entry/exit), so the CPU's
 * CPUID.(0DH,1):EBX already sizes the guest's compacted area. Where the CPU
 * contradicts itself - Bochs 2.7 answers the standard-form size there, and
 * its XSAVEC/XSAVES write the components 160 bytes before where its XRSTORS
 * and the sub-leaves put them (docs/bochs.md) - Linux's consistency check
 * turns XSAVE off, as on the bare CPU. Rewriting EBX to the compacted size
 * hid that check and let Linux lose its tasks' vector registers. */
void ahv_vcpu_cpuid(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t guest_cr4)
{
	uint32_t leaf = (uint32_t)v->gprs.rax, sub = (uint32_t)v->gprs.rcx, r[4];
	if (leaf >= 0x40000000u && leaf <= 0x400000FFu) {
		/* Hypervisor leaves (protocol.md §2), answered by the core: our
		 * own signature, never the emulator's (docs/pitfalls.md 11). */
		if (!ahv_core_cpuid(hv->core, leaf, r))
			r[0] = r[1] = r[2] = r[3] = 0;
	} else {
		ahv_cpuid(leaf, sub, r);
		if (leaf == 1) {
			r[2] |= CPUID_1_ECX_HYPERVISOR;
			r[2] &= ~CPUID_1_ECX_VMX;          /* VT-x is not offered */
			/* Nor the DS save area (BTS/PEBS stores, msr_policy.c). */
			r[2] &= ~(CPUID_1_ECX_DTES64 | CPUID_1_ECX_DSCPL);
			r[3] &= ~CPUID_1_EDX_DS;
			/* OSXSAVE mirrors CR4.OSXSAVE (SDM Vol. 2A CPUID,
			 * Table 3-10 bit 27): the guest's, not the host's. */
			r[2] = (guest_cr4 & CR4_OSXSAVE) ? r[2] | CPUID_1_ECX_OSXSAVE : r[2] & ~CPUID_1_ECX_OSXSAVE;
			/* smp = on (docs/smp.md): no x2APIC, whose ICR is an MSR
			 * the INIT/SIPI emulation (initsipi.c) does not trap, nor
			 * MONITOR/MWAIT: parked CPUs then wait with HLT, which SVM
			 * sees (EDK2's AP loop picks MWAIT when offered). */
			if (hv->handoff->policy & AHV_HO_SMP)
				r[2] &= ~((1u << 21) | (1u << 3));
		} else if (leaf == 7 && sub == 0) {
			/* OSPKE mirrors CR4.PKE (Vol. 2A CPUID leaf 07H ECX bit 4). */
			r[2] = (guest_cr4 & CR4_PKE) ? r[2] | CPUID_7_ECX_OSPKE : r[2] & ~CPUID_7_ECX_OSPKE;
			r[1] &= ~CPUID_7_EBX_PT; /* Intel PT writes to physical memory: hidden, its MSRs #GP */
		} else if (leaf == 0x14) {
			r[0] = r[1] = r[2] = r[3] = 0; /* no Intel PT (Vol. 2A CPUID leaf 14H) */
		} else if (leaf == 0x80000001u) {
			r[2] &= ~CPUID_8000_0001_ECX_SVM;  /* nor SVM */
		} else if (leaf == 0x8000000Au) {
			r[0] = r[1] = r[2] = r[3] = 0;     /* no SVM features (APM Vol. 3 E.4.9) */
		}
	}
	v->gprs.rax = r[0];
	v->gprs.rbx = r[1];
	v->gprs.rcx = r[2];
	v->gprs.rdx = r[3];
}
