/*
 * nested.c - the guest's nested tables, both formats (NPT, EPT: the entry
 * bits in struct ahv_pt decide, pt.c builds): the identity map at start,
 * and what a nested fault means.
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/nested.h"

#define NESTED_W (1ull << 1)

int ahv_nested_build(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top_out)
{
	unsigned pa_bits = ahv_maxphyaddr();
	if (pa_bits > 46)
		pa_bits = 46;
	uint64_t top = 4 * AHV_1G;
	for (uint32_t i = 0; i < hv->handoff->n_memmap; i++)
		if (hv->handoff->memmap[i].end > top)
			top = hv->handoff->memmap[i].end;
	top = (top + AHV_1G - 1) & ~(AHV_1G - 1);
	if (pt->max_leaf_level == 3)
		top = 1ull << pa_bits; /* cheap with 1 GiB pages: all of it */
	else {
		/* 2 MiB leaves: RAM plus room for 64-bit PCI windows, and at
		 * least the first 512 GiB (or all of MAXPHYADDR) so that the
		 * engine's nested walk sees the same identity map the guest
		 * does (2 MiB of tables at most); faults map more. */
		uint64_t floor = pa_bits < 39 ? 1ull << pa_bits : 512 * AHV_1G;
		top += 16 * AHV_1G;
		if (top < floor)
			top = floor;
	}
	*top_out = top;
	if (ahv_pt_identity(pt, top))
		return -1;
	for (uint32_t i = 0; i < hv->n_hidden; i++)
		if (ahv_pt_unmap(pt, hv->hidden[i].start, hv->hidden[i].end))
			return -1;
	/* The guarded IOMMU functions' ECAM pages are read-only: a store
	 * there exits and is checked (pcicfg.c). The write permission is bit
	 * 1 in both formats (NPT: the R/W bit, APM Vol. 2 §5.4.1 and §15.25.5;
	 * EPT: W, SDM Vol. 3C §29.3.2). */
	return ahv_pcicfg_protect(pt, NESTED_W);
}

enum ahv_nested_fault ahv_nested_fault(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top, uint64_t gpa,
				       uint64_t rip, uint64_t info, uint64_t *faults)
{
	if (ahv_hv_owns(hv, gpa & ~0xfffull, 4096)) {
		if ((*faults)++ < 16)
			ahv_log("ahv: guest touched hypervisor memory at gpa %lx (rip %lx, info %lx): #GP\n",
				gpa, rip, info);
		return AHV_NF_HV_MEMORY;
	}
	if (gpa >= *top && gpa < (1ull << ahv_maxphyaddr())) {
		/* Beyond the pre-built window (CPU without 1 GiB nested pages):
		 * map the 2 MiB around it, one to one. */
		uint64_t base = gpa & ~(AHV_2M - 1);
		if (ahv_pt_map4k(pt, base, base + AHV_2M) == 0)
			return AHV_NF_MAPPED;
	}
	ahv_log("ahv: unexpected nested page fault at gpa %lx (rip %lx, info %lx): #GP\n", gpa, rip, info);
	return AHV_NF_UNEXPECTED;
}
