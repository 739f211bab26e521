/*
 * ahv/x86/iommu.h - DMA protection (docs/iommu.md): the hypervisor owns the
 * platform's IOMMUs: Intel VT-d (vtd.c) and AMD-Vi (amdvi.c).
 */
#ifndef AHV_X86_IOMMU_H
#define AHV_X86_IOMMU_H

#include <stddef.h>
#include <stdint.h>

struct ahv_hv;

/* Before the back end builds the nested tables (ahv_hv_prepare): parse the
 * DMAR table the loader found (handoff->acpi_dmar), add every unit's
 * register pages to the hypervisor's hidden ranges (absent from NPT/EPT and
 * from the DMA tables), build one second-level table with the nested-table
 * builder (pt.c, EPT R/W bits: VT-d spec §9.8), point every bus/devfn of
 * every unit at it, enable translation and hide the DMAR table from the
 * guest. Returns 1 when DMA is protected, 0 when there is no IOMMU (or
 * protection is compiled out: AHV_NO_DMA_PROTECTION), -1 on an error
 * (reason in why). */
int ahv_iommu_setup(struct ahv_hv *hv, char *why, size_t cap);

/* Log (hypervisor log port) and clear the faults the units recorded since
 * the last call: polled at every hypercall, no fault interrupt. */
void ahv_iommu_poll(void);

/* Watched regions (docs/watch.md), with the nested tables' hook: take
 * (protect) or give back write permission for the 4 KiB frame at gpa in
 * the VT-d second-level table (a large leaf split, pt.c), then invalidate
 * every unit's IOTLB. 0, or -1 when no table page is left. A no-op without
 * VT-d (AMD-Vi tables are not changed). A DMA write the unit then blocks
 * there is recorded by ahv_iommu_poll as the watch's first write. */
int ahv_iommu_protect(uint64_t gpa, int protect);

/* AMD-Vi (amdvi.c), from the two above when the platform has an IVRS table
 * and no DMAR: the same steps with a device table, command buffer and event
 * log per IOMMU; [0, top) identity-mapped less the hidden ranges. */
int ahv_amdvi_setup(struct ahv_hv *hv, uint64_t top, char *why, size_t cap);
/* How many AMD-Vi IOMMUs are on; log and consume IOMMU idx's new events
 * (ahv_iommu_poll calls it under its lock). */
uint32_t ahv_amdvi_units(void);
void ahv_amdvi_poll_unit(uint32_t idx);

#endif
