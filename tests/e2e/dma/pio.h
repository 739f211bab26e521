/*
 * pio.h - port I/O for the e2e-dma payload (dma.c, dma_iommu_cfg.c): OUT
 * of a byte, word or dword, IN of a dword (SDM Vol. 2B "OUT", "IN").
 */
#ifndef AHV_E2E_DMA_PIO_H
#define AHV_E2E_DMA_PIO_H
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %b0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %w0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

#endif
