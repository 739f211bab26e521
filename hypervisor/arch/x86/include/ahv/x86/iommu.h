/*
 * ahv/x86/iommu.h - DMA protection (docs/iommu.md): the hypervisor owns the
 * platform's IOMMUs: Intel VT-d (vtd.c) and AMD-Vi (amdvi.c).
 */
#ifndef AHV_X86_IOMMU_H
#define AHV_X86_IOMMU_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/platform.h"
#include "ahv/x86/mem.h"
#include "ahv/x86/vcpu.h"

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

/* The IOMMUs' PCI configuration space (pcicfg.c; the decisions in
 * pcicfg_guard.h). amdvi.c guards each IOMMU's function (IVHD DeviceID,
 * capability offset; 0, or -1 when AHV_PCICFG_MAX_FN are guarded) and
 * then finds their ECAM pages in the MCFG table at mcfg (0: none), mapped
 * in the host tables (0, or -1 with the reason in why: a page in
 * hypervisor memory, or no pool left to map it). From then on: */
int ahv_pcicfg_guard(uint16_t segment, uint16_t bdf, uint16_t cap);
int ahv_pcicfg_ecam_setup(struct ahv_hv *hv, uint64_t mcfg, char *why, size_t cap);
/* a function is guarded (port_io.c intercepts CF8h-CFFh) */
int ahv_pcicfg_active(void);
/* a port I/O exit: 1 if it was a configuration-port access, done (a write
 * to a guarded function's Command register or capability block dropped
 * and logged), 0 if not one */
int ahv_pcicfg_io(struct ahv_vcpu *v, uint16_t port, unsigned size, int in, int str, int rep);
/* the back ends write-protect the guarded ECAM pages in their nested
 * tables (clear write_bit; 0 or -1), and hand a write fault on one
 * (ahv_pcicfg_ecam_trapped) to ahv_pcicfg_store: the store at gpa,
 * instruction at lin, decoded and done or dropped; 0 and its length, or
 * -1 (#GP) */
int ahv_pcicfg_protect(struct ahv_pt *pt, uint64_t write_bit);
/* amdvi.c takes the same pages out of the DMA table (0 or -1): a device's
 * write there would be a configuration write where the platform routes it
 * (QEMU does). */
int ahv_pcicfg_unmap(struct ahv_pt *pt);
int ahv_pcicfg_ecam_trapped(uint64_t gpa);
int ahv_pcicfg_store(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
		     uint64_t gpa, unsigned *len);

#endif
