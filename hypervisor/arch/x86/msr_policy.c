/*
 * msr_policy.c - the MSR allow-list (msr_policy.h). Ranges are inclusive;
 * the first matching row wins. Sources: SDM Vol. 4 Table 2-2
 * ("Architectural MSRs"), SDM Vol. 3C §25.6.9 / APM Vol. 2 §15.11 (MSR
 * bitmaps), KVM's lists of MSRs that take physical addresses or change time.
 */
#include "attest/wire.h"
#include "ahv/x86/msr_policy.h"

struct msr_row {
	uint32_t first, last;
	uint8_t cls;
	uint8_t backend; /* 0: both */
};

static const struct msr_row rows[] = {
	/* Time: the guest's TSC is an offset from the hypervisor's, which
	 * signs the timestamp (protocol.md §9.1): writes are emulated. */
	{MSR_IA32_TSC, MSR_IA32_TSC, AHV_MSR_EMULATE, 0},
	{MSR_IA32_TSC_ADJUST, MSR_IA32_TSC_ADJUST, AHV_MSR_EMULATE, 0},
	/* APIC routing: IA32_APIC_BASE moves the xAPIC page or turns x2APIC
	 * on (SDM Vol. 3A §11.4.4): emulated. */
	{0x1B, 0x1B, AHV_MSR_EMULATE, 0},
	/* Tracing that writes to (platform-)physical memory, past EPT/NPT:
	 * Intel PT (IA32_RTIT_*, SDM Vol. 3C §33.2.8; PT is hidden in CPUID),
	 * DS save area for BTS/PEBS (§18.6.3.4, §18.15.7; DS hidden), PEBS. */
	{0x560, 0x561, AHV_MSR_DENY, 0},   /* IA32_RTIT_OUTPUT_BASE, _MASK_PTRS */
	{0x570, 0x572, AHV_MSR_DENY, 0},   /* IA32_RTIT_CTL, _STATUS, _CR3_MATCH */
	{0x580, 0x58B, AHV_MSR_DENY, 0},   /* IA32_RTIT_ADDR0_A .. ADDR3_B */
	{0x600, 0x600, AHV_MSR_DENY, 0},   /* IA32_DS_AREA */
	{0x3F1, 0x3F1, AHV_MSR_DENY, 0},   /* IA32_PEBS_ENABLE */
	{0x3F6, 0x3F7, AHV_MSR_DENY, 0},   /* PEBS_LD_LAT, PEBS_FRONTEND */
	{0x79, 0x79, AHV_MSR_DENY, 0},     /* IA32_BIOS_UPDT_TRIG: microcode from guest memory */
	{MSR_IA32_DEBUGCTL, MSR_IA32_DEBUGCTL, AHV_MSR_EMULATE, 0}, /* BTS bits refused */
	/* The hidden virtualization extensions and their controls. */
	{0x3A, 0x3A, AHV_MSR_EMULATE, AHV_BACKEND_VMX}, /* IA32_FEATURE_CONTROL */
	{0x480, 0x493, AHV_MSR_DENY, AHV_BACKEND_VMX},  /* IA32_VMX_* (App. A) */
	{0xC0000080, 0xC0000080, AHV_MSR_EMULATE, AHV_BACKEND_SVM}, /* EFER: SVME hidden */
	{0xC0010114, 0xC0010114, AHV_MSR_DENY, AHV_BACKEND_SVM},    /* VM_CR */
	{0xC0010117, 0xC0010117, AHV_MSR_DENY, AHV_BACKEND_SVM},    /* VM_HSAVE_PA */
	{0xC0010010, 0xC0010010, AHV_MSR_DENY, AHV_BACKEND_SVM},    /* SYSCFG: memory encryption, DRAM routing */
	/* Guest state the VMCS/VMCB switches, or the guest's own registers. */
	{0xC0000080, 0xC0000080, AHV_MSR_PASS, AHV_BACKEND_VMX}, /* EFER: VMCS-switched */
	{0xC0000081, 0xC0000084, AHV_MSR_PASS, 0}, /* STAR, LSTAR, CSTAR, SFMASK */
	{0xC0000100, 0xC0000103, AHV_MSR_PASS, 0}, /* FS/GS/KERNEL_GS base, TSC_AUX */
	{0x174, 0x176, AHV_MSR_PASS, 0},           /* SYSENTER_CS/ESP/EIP */
	{0x277, 0x277, AHV_MSR_PASS, 0},           /* PAT (VMCS / gPAT) */
	{0x48, 0x49, AHV_MSR_PASS, 0},             /* SPEC_CTRL, PRED_CMD */
	{0x10B, 0x10B, AHV_MSR_PASS, 0},           /* FLUSH_CMD */
	{0x6E0, 0x6E0, AHV_MSR_PASS, 0},           /* TSC_DEADLINE */
	/* x2APIC registers (SDM Vol. 3A §11.12.1): the guest's own APIC, but
	 * with smp = on the ICR (INIT/SIPI) is for the emulation: x2APIC is
	 * hidden then and APIC_BASE refuses it, so the ICR exits and #GPs. */
	{MSR_IA32_X2APIC_ICR, MSR_IA32_X2APIC_ICR, AHV_MSR_DENY, 0xFF},
	{0x800, 0x8FF, AHV_MSR_PASS, 0},
	/* Performance counters (§18.2): counting only; PEBS and the DS area
	 * are refused above. */
	{0xC1, 0xC8, AHV_MSR_PASS, 0},   /* IA32_PMC0-7 */
	{0x186, 0x18D, AHV_MSR_PASS, 0}, /* IA32_PERFEVTSEL0-7 */
	{0x309, 0x30B, AHV_MSR_PASS, 0}, /* fixed counters */
	{0x38D, 0x390, AHV_MSR_PASS, 0}, /* FIXED_CTR_CTRL, PERF_GLOBAL_* */
	{0x4C1, 0x4C8, AHV_MSR_PASS, 0}, /* full-width PMCs */
	{0xC0010000, 0xC0010007, AHV_MSR_PASS, AHV_BACKEND_SVM}, /* PerfEvtSel/PerfCtr (legacy) */
	{0xC0010200, 0xC001020B, AHV_MSR_PASS, AHV_BACKEND_SVM}, /* PerfEvtSel/PerfCtr (core) */
	/* Rarely written configuration without physical addresses: the
	 * write exits (so the policy sees it) and is done under the fixup. */
	{0x8B, 0x8B, AHV_MSR_WRITE_EXIT, 0},   /* IA32_BIOS_SIGN_ID: Linux writes 0 before reading */
	{0xDA0, 0xDA0, AHV_MSR_WRITE_EXIT, 0}, /* IA32_XSS: supervisor XSAVE components (PT's state is
						  * useless with the PT MSRs denied); Linux sets it with XSAVES */
	{0x140, 0x140, AHV_MSR_WRITE_EXIT, 0}, /* MISC_FEATURE_ENABLES (CPUID faulting) */
	{0x199, 0x19A, AHV_MSR_WRITE_EXIT, 0}, /* PERF_CTL, CLOCK_MODULATION */
	{0x19B, 0x19B, AHV_MSR_WRITE_EXIT, 0}, /* THERM_INTERRUPT */
	{0x1A0, 0x1A0, AHV_MSR_WRITE_EXIT, 0}, /* MISC_ENABLE */
	{0x1B0, 0x1B0, AHV_MSR_WRITE_EXIT, 0}, /* ENERGY_PERF_BIAS */
	{0x1FC, 0x1FC, AHV_MSR_WRITE_EXIT, 0}, /* POWER_CTL */
	{0x200, 0x2FF, AHV_MSR_WRITE_EXIT, 0}, /* MTRRs (EPT/NPT types govern the guest) */
	{0x400, 0x47F, AHV_MSR_WRITE_EXIT, 0}, /* machine-check banks */
	{0x17A, 0x17B, AHV_MSR_WRITE_EXIT, 0}, /* MCG_STATUS, MCG_CTL */
	{0xC0010015, 0xC0010015, AHV_MSR_WRITE_EXIT, AHV_BACKEND_SVM}, /* HWCR */
	{0xC0011020, 0xC0011020, AHV_MSR_WRITE_EXIT, AHV_BACKEND_SVM}, /* LS_CFG (SSBD) */
	{0xC0011029, 0xC0011029, AHV_MSR_WRITE_EXIT, AHV_BACKEND_SVM}, /* DE_CFG (LFENCE) */
	{0xC0011028, 0xC0011028, AHV_MSR_WRITE_EXIT, AHV_BACKEND_SVM}, /* FP_CFG */
	{0xC001001F, 0xC001001F, AHV_MSR_WRITE_EXIT, AHV_BACKEND_SVM}, /* NB_CFG (extended CF8 config) */
	{0xC001011F, 0xC001011F, AHV_MSR_WRITE_EXIT, AHV_BACKEND_SVM}, /* VIRT_SPEC_CTRL */
};

enum ahv_msr_class ahv_msr_class(uint32_t msr, uint32_t backend, int smp)
{
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct msr_row *r = &rows[i];
		if (msr < r->first || msr > r->last)
			continue;
		if (r->backend == 0xFF) { /* the x2APIC ICR: only with smp = on */
			if (!smp)
				continue;
		} else if (r->backend && r->backend != backend) {
			continue;
		}
		return (enum ahv_msr_class)r->cls;
	}
	return AHV_MSR_UNLISTED;
}

int ahv_msr_row(unsigned i, uint32_t *first, uint32_t *last)
{
	if (i >= sizeof(rows) / sizeof(rows[0]))
		return 0;
	*first = rows[i].first;
	*last = rows[i].last;
	return 1;
}
