/*
 * cpuid.c - the CPUID the guest sees, for both vendors: the hypervisor
 * leaves from the core, the hypervisor-present bit, VMX and SVM (and what
 * the hypervisor will not let a guest use) hidden, and the bits that
 * mirror the guest's own CR4.
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/fixup.h"
#include "ahv/x86/hv.h"

/* CPUID bits the policy touches. */
#define CPUID_1_ECX_VMX (1u << 5)          /* SDM Vol. 2A CPUID Table 3-10; Vol. 3C §24.6 */
#define CPUID_1_ECX_DTES64 (1u << 2)       /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_1_ECX_DSCPL (1u << 4)
#define CPUID_1_EDX_DS (1u << 21)          /* Table 3-11 */
#define CPUID_7_EBX_PT (1u << 25)          /* leaf 07H EBX: Intel Processor Trace */
#define CPUID_1_ECX_OSXSAVE (1u << 27)     /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_7_ECX_OSPKE (1u << 4)        /* SDM Vol. 2A CPUID leaf 07H */
#define CPUID_D1_EAX_XSAVES (1u << 3)      /* SDM Vol. 2A CPUID leaf 0DH, sub-leaf 1 */
#define MSR_IA32_XSS 0xDA0u                /* SDM Vol. 4 Table 2-2 */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)  /* reserved for hypervisor use (APM Vol. 3 E.3.2) */
#define CPUID_8000_0001_ECX_SVM (1u << 2)  /* APM Vol. 2 §15.4 "Enabling SVM" */

/* CPUID.(EAX=0DH,ECX=1):EBX, the size of an XSAVES area for the state
 * components enabled in XCR0 | IA32_XSS (SDM Vol. 1 §13.4.3 "Compacted
 * Form"): 576 bytes of legacy area and header, then each enabled component
 * i >= 2 with the size of CPUID.(0DH,i):EAX, 64-byte aligned when
 * CPUID.(0DH,i):ECX[1]. Computed, as KVM does, rather than passed through:
 * some CPUs (Bochs 2.7) answer the standard-form size, and Linux then turns
 * XSAVE off ("XSAVE consistency problem"). XCR0 and IA32_XSS are the
 * guest's (neither is switched on VM entry/exit); on_host: the CPU's own
 * answer, kept when they cannot be read. */
static uint32_t xsaves_size(uint32_t on_host)
{
	uint64_t xcr0, xss = 0, mask;
	uint32_t r[4], size = 576;
	if (ahv_safe_xgetbv(0, &xcr0) || ahv_safe_rdmsr(MSR_IA32_XSS, &xss))
		return on_host;
	mask = xcr0 | xss;
	for (uint32_t i = 2; i < 63; i++) {
		if (!(mask >> i & 1))
			continue;
		ahv_cpuid(0xD, i, r);
		if (r[2] & 2) /* ECX[1]: 64-byte aligned in the compacted form */
			size = (size + 63) & ~63u;
		size += r[0];
	}
	return size;
}

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
		} else if (leaf == 0xD && sub == 1 && (r[0] & CPUID_D1_EAX_XSAVES)) {
			r[1] = xsaves_size(r[1]);
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
