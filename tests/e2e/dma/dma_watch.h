/*
 * dma_watch.h - the e2e-dma payload's watch case (dma_watch.c), called by
 * dma.c with what it found: the hypercall instruction, edu's PCI source id
 * and its DMA copy (RAM -> device -> RAM).
 */
#ifndef AHV_E2E_DMA_WATCH_H
#define AHV_E2E_DMA_WATCH_H
#include <stdint.h>

struct dma_watch_env {
	int intel;      /* VMCALL (else VMMCALL) */
	uint16_t sid;   /* edu: bus << 8 | device << 3 | function */
	uint64_t src;   /* a guest page the device reads */
	int (*copy)(uint64_t src, uint64_t dst, uint64_t cnt);
};

/* 1: ok or skipped (no VT-d), 0: failed (a "case watch-dma" line printed). */
int dma_watch_case(EFI_HANDLE image, const struct dma_watch_env *e);

#endif
