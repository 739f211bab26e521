/*
 * apic.c - the one thing the hypervisor asks of the local APIC itself:
 * an NMI to another CPU (smp = on, docs/smp.md: a stop's kick, the SVM
 * INIT/SIPI emulation's wake-up). Works in both APIC modes, since the guest
 * owns the APIC and may have switched it to x2APIC (VT-x does not hide it).
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/smp.h"

#define MSR_X2APIC_ICR 0x830            /* §11.12.9: one 64-bit write */
#define XAPIC_ICR_LO 0x300              /* §11.6.1, Figure 11-12 */
#define XAPIC_ICR_HI 0x310
#define ICR_DELIVERY_NMI (4u << 8)      /* delivery mode 100b */
#define ICR_SEND_PENDING (1u << 12)     /* xAPIC delivery status */
#define ICR_LEVEL_ASSERT (1u << 14)     /* 1 for every mode but INIT de-assert */

static volatile uint32_t *xapic(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(AHV_XAPIC_BASE + off);
}

void ahv_apic_send_nmi(uint32_t apic_id)
{
	if (ahv_rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_EXTD) {
		/* x2APIC: destination in bits 63:32, no busy bit to wait on. */
		ahv_wrmsr(MSR_X2APIC_ICR, (uint64_t)apic_id << 32 | ICR_LEVEL_ASSERT | ICR_DELIVERY_NMI);
		return;
	}
	/* xAPIC: destination in ICR bits 63:56 (ICR_HI 31:24); the write to
	 * ICR_LO sends. The guest's ICR_HI is put back: it may be between its
	 * own two writes (only on this CPU, and only at an exit). */
	uint32_t hi = *xapic(XAPIC_ICR_HI);
	/* A bounded wait: a guest that disabled its APIC (IA32_APIC_BASE.EN,
	 * §11.4.3) leaves the page reading all ones, pending forever. No NMI
	 * then: the stop times out and answers BUSY (docs/smp.md). */
	for (unsigned i = 0; *xapic(XAPIC_ICR_LO) & ICR_SEND_PENDING; i++) {
		if (i > 1000000)
			return;
		ahv_pause();
	}
	*xapic(XAPIC_ICR_HI) = apic_id << 24;
	*xapic(XAPIC_ICR_LO) = ICR_LEVEL_ASSERT | ICR_DELIVERY_NMI;
	*xapic(XAPIC_ICR_HI) = hi;
}
