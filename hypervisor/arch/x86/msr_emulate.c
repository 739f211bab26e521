/*
 * msr_emulate.c - the guest's RDMSR/WRMSR that exit, for both back ends,
 * as msr_policy.c classifies them (the bitmaps that decide which exit:
 * msr_bitmap.c). MSRs only one vendor has (EFER and VM_CR on SVM, the VMX
 * capability MSRs and IA32_FEATURE_CONTROL on VT-x, IA32_DEBUGCTL where the
 * VMCS holds it) are the back ends' before they call ahv_vcpu_msr.
 */
#include "attest/wire.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/fixup.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/log.h"
#include "ahv/x86/msr_policy.h"

/* The guest's TSC is the host's plus v->tsc_offset (VMCS TSC offset,
 * VMCB TSC_OFFSET: SDM Vol. 3C §26.3, APM Vol. 2 §15.30.5); the hypervisor's
 * clock reads the host's, which no guest can write. */
static uint64_t guest_tsc(const struct ahv_vcpu *v) { return ahv_rdtsc() + (uint64_t)v->tsc_offset; }

static int tsc_adjust(struct ahv_vcpu *v)
{
	if (!v->tsc_adjust_known) { /* the CPU's value, once (SDM Vol. 3B §18.17.3) */
		uint64_t a;
		if (ahv_safe_rdmsr(MSR_IA32_TSC_ADJUST, &a))
			return -1; /* no IA32_TSC_ADJUST (CPUID.7:EBX[1] = 0): #GP */
		v->tsc_adjust = a;
		v->tsc_adjust_known = 1;
	}
	return 0;
}

static int apic_base_write(struct ahv_hv *hv, uint64_t val)
{
	uint64_t cur;
	if (ahv_safe_rdmsr(MSR_IA32_APIC_BASE, &cur))
		return -1;
	/* The base address (bits MAXPHYADDR-1:12) stays: the stop's NMI kick
	 * and the INIT/SIPI trap know the APIC at its default page. x2APIC
	 * (EXTD) is hidden with smp = on (its ICR is an MSR), so a CPU
	 * without it refuses EXTD with #GP (SDM Vol. 3A §11.12.1). */
	uint64_t base_mask = ((1ull << ahv_maxphyaddr()) - 1) & ~0xfffull;
	if ((val ^ cur) & base_mask)
		return -1;
	if ((hv->handoff->policy & AHV_HO_SMP) && (val & APIC_BASE_EXTD) && !(cur & APIC_BASE_EXTD))
		return -1;
	return ahv_safe_wrmsr(MSR_IA32_APIC_BASE, val) ? -1 : 0;
}

int ahv_vcpu_msr(struct ahv_hv *hv, struct ahv_vcpu *v, uint32_t msr, int write)
{
	uint64_t val = ahv_gpr_edx_eax(v);
	enum ahv_msr_class c = ahv_msr_class(msr, hv->ops->backend, !!(hv->handoff->policy & AHV_HO_SMP));
	int rc = 0;
	static uint32_t logged;
	if (msr == MSR_IA32_TSC) {
		if (write) {
			/* WRMSR to IA32_TSC also moves IA32_TSC_ADJUST by the same
			 * amount (SDM Vol. 3B §18.17.3). */
			uint64_t old = guest_tsc(v);
			if (!tsc_adjust(v))
				v->tsc_adjust += val - old;
			v->tsc_offset = (int64_t)(val - ahv_rdtsc());
			v->tsc_dirty = 1;
		} else {
			val = guest_tsc(v);
		}
	} else if (msr == MSR_IA32_TSC_ADJUST) {
		if (tsc_adjust(v))
			return -1;
		if (write) {
			v->tsc_offset += (int64_t)(val - v->tsc_adjust);
			v->tsc_adjust = val;
			v->tsc_dirty = 1;
		} else {
			val = v->tsc_adjust;
		}
	} else if (msr == MSR_IA32_APIC_BASE && write) {
		rc = apic_base_write(hv, val);
	} else if (msr == MSR_IA32_DEBUGCTL && write) {
		rc = (val & ~AHV_DEBUGCTL_ALLOWED) ? -1 : ahv_safe_wrmsr(msr, val) ? -1 : 0;
	} else if (c == AHV_MSR_DENY) {
		rc = -1;
	} else if (!write) {
		rc = ahv_safe_rdmsr(msr, &val) ? -1 : 0; /* the CPU's answer, #GP included */
	} else if (c == AHV_MSR_WRITE_EXIT || c == AHV_MSR_PASS) {
		rc = ahv_safe_wrmsr(msr, val) ? -1 : 0;
	} else {
		rc = -1; /* a write to an MSR the policy does not name */
	}
	if (rc && write && logged++ < 16)
		ahv_log("ahv: cpu %u: WRMSR %x <- %lx refused (#GP; docs/msr-policy.md)\n", v->index, msr, val);
	if (!rc && !write)
		ahv_gpr_set_edx_eax(v, val);
	return rc;
}
