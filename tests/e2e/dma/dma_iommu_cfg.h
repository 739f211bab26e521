/*
 * dma_iommu_cfg.h - the e2e-dma payload's case "iommu-config"
 * (dma_iommu_cfg.c), called by dma.c with its DMA copy and the hypervisor
 * page the copy must not read; and the ACPI table lookup it shares with
 * dma_watch.c.
 */
#ifndef AHV_E2E_DMA_IOMMU_CFG_H
#define AHV_E2E_DMA_IOMMU_CFG_H
#include <stdint.h>

struct dma_cfg_env {
	uint64_t hv_page; /* starts with the handoff magic */
	uint64_t guest;   /* a guest page to copy into */
	uint64_t magic;   /* the 8 bytes that must not arrive */
	int (*copy)(uint64_t src, uint64_t dst, uint64_t cnt);
	void (*hypercall)(void); /* lets the hypervisor poll and log */
};

/* 1: ok or skipped (no AMD IOMMU function), 0: failed. Prints
 * "AHV-DMA: case iommu-config-* ok|FAIL ..." lines. */
int dma_iommu_cfg_case(const struct dma_cfg_env *e);

#endif
