/*
 * vmx/ept.c - EPT leaf memory types. In VMX non-root operation with EPT the
 * MTRRs no longer apply to guest accesses: the EPT leaf's memory type takes
 * their place and is combined with the guest's PAT (SDM Vol. 3C §29.3.7.2
 * "Memory Type Used for Translated Guest-Physical Addresses"). So the EPT
 * identity map carries the memory types the MTRRs give the host, or MMIO
 * would turn write-back on real hardware. MTRR semantics: SDM Vol. 3A §12.11
 * "Memory Type Range Registers (MTRRs)".
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/mem.h"
#include "vmx.h"

#define MAX_VAR 32
static struct {
	int enabled, fixed_enabled;
	unsigned def_type, n_var;
	uint64_t base[MAX_VAR], mask[MAX_VAR];
	uint8_t fixed[88]; /* types of the 88 fixed ranges below 1 MiB */
} mtrr;

void vmx_mtrr_init(void)
{
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	if (!(r[3] & (1u << 12))) { /* CPUID.1:EDX[12] MTRR: none, all WB */
		mtrr.enabled = 0;
		mtrr.def_type = MT_WB;
		return;
	}
	uint64_t cap = ahv_rdmsr(MSR_IA32_MTRRCAP), def = ahv_rdmsr(MSR_IA32_MTRR_DEF_TYPE);
	/* IA32_MTRR_DEF_TYPE: type 7:0, FE bit 10, E bit 11 (§12.11.2.1). */
	mtrr.enabled = (def >> 11) & 1;
	mtrr.fixed_enabled = mtrr.enabled && ((cap >> 8) & 1) && ((def >> 10) & 1);
	mtrr.def_type = (unsigned)(def & 0xff);
	mtrr.n_var = (unsigned)(cap & 0xff); /* VCNT */
	if (mtrr.n_var > MAX_VAR)
		mtrr.n_var = MAX_VAR;
	uint64_t pa_mask = ((1ull << ahv_maxphyaddr()) - 1) & ~0xfffull;
	for (unsigned i = 0; i < mtrr.n_var; i++) {
		mtrr.base[i] = ahv_rdmsr(MSR_IA32_MTRR_PHYSBASE0 + 2 * i);
		mtrr.mask[i] = ahv_rdmsr(MSR_IA32_MTRR_PHYSBASE0 + 2 * i + 1);
		if (!(mtrr.mask[i] & (1ull << 11))) /* V: valid */
			mtrr.mask[i] = 0;
		else
			mtrr.mask[i] &= pa_mask;
	}
	if (mtrr.fixed_enabled) {
		/* §12.11.2.2: one 64K MTRR (8 x 64 KiB from 0), two 16K (16 x
		 * 16 KiB from 0x80000), eight 4K (64 x 4 KiB from 0xC0000). */
		static const uint32_t msrs[11] = {MSR_IA32_MTRR_FIX64K_00000, MSR_IA32_MTRR_FIX16K_80000,
						  MSR_IA32_MTRR_FIX16K_80000 + 1, MSR_IA32_MTRR_FIX4K_C0000,
						  MSR_IA32_MTRR_FIX4K_C0000 + 1, MSR_IA32_MTRR_FIX4K_C0000 + 2,
						  MSR_IA32_MTRR_FIX4K_C0000 + 3, MSR_IA32_MTRR_FIX4K_C0000 + 4,
						  MSR_IA32_MTRR_FIX4K_C0000 + 5, MSR_IA32_MTRR_FIX4K_C0000 + 6,
						  MSR_IA32_MTRR_FIX4K_C0000 + 7};
		for (unsigned m = 0; m < 11; m++) {
			uint64_t v = ahv_rdmsr(msrs[m]);
			for (unsigned b = 0; b < 8; b++)
				mtrr.fixed[m * 8 + b] = (uint8_t)(v >> (8 * b));
		}
	}
}

/* Fixed-range slot holding pa (< 1 MiB). */
static unsigned fixed_slot(uint64_t pa)
{
	if (pa < 0x80000)
		return (unsigned)(pa >> 16);
	if (pa < 0xC0000)
		return 8 + (unsigned)((pa - 0x80000) >> 14);
	return 24 + (unsigned)((pa - 0xC0000) >> 12);
}

uint64_t vmx_ept_leaf_attr(uint64_t base, uint64_t size)
{
	unsigned type;
	if (!mtrr.enabled) {
		type = mtrr.def_type == MT_WB ? MT_WB : MT_UC; /* E=0: all UC (§12.11.2.1) */
		return ((uint64_t)type << EPT_MT_SHIFT);
	}
	if (mtrr.fixed_enabled && base < 0x100000) {
		if (base + size > 0x100000 || size > 4096) {
			/* Uniform only if every slot in the range agrees. */
			if (base + size > 0x100000)
				return AHV_PT_MIXED;
			unsigned t0 = mtrr.fixed[fixed_slot(base)];
			for (uint64_t a = base; a < base + size; a += 4096)
				if (mtrr.fixed[fixed_slot(a)] != t0)
					return AHV_PT_MIXED;
			return (uint64_t)t0 << EPT_MT_SHIFT;
		}
		return (uint64_t)mtrr.fixed[fixed_slot(base)] << EPT_MT_SHIFT;
	}
	/* Variable ranges: an MTRR matches pa when (pa & mask) == (base &
	 * mask) (§12.11.3). For a naturally aligned range it covers all of it,
	 * none of it, or part of it (then the range is mixed). Overlaps: UC
	 * wins, WT beats WB, otherwise the same type (§12.11.4.1). */
	int hit = 0, uc = 0, wt = 0;
	unsigned t = 0;
	for (unsigned i = 0; i < mtrr.n_var; i++) {
		uint64_t m = mtrr.mask[i];
		if (!m)
			continue;
		uint64_t hi = m & ~(size - 1);
		if ((base & hi) != (mtrr.base[i] & hi))
			continue; /* none of it */
		if (m & (size - 1))
			return AHV_PT_MIXED; /* part of it */
		unsigned ti = (unsigned)(mtrr.base[i] & 0xff);
		uc |= ti == MT_UC;
		wt |= ti == MT_WT;
		t = ti;
		hit = 1;
	}
	if (!hit)
		t = mtrr.def_type;
	else if (uc)
		t = MT_UC;
	else if (wt)
		t = MT_WT;
	return (uint64_t)t << EPT_MT_SHIFT;
}
