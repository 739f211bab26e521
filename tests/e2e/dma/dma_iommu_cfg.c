/*
 * dma_iommu_cfg.c - the e2e-dma case "iommu-config" (docs/iommu.md "The
 * IOMMU's configuration space"): the payload, a CPL0 guest as a hostile
 * kernel would be, finds the AMD-Vi IOMMU's PCI function (capability ID
 * 0Fh, type 011b: AMD IOMMU spec 48882 §3.2) and tries to move its
 * register window (capability Base Address Low/High) and to toggle its
 * Command register's Memory Space and Bus Master bits, through
 * configuration mechanism #1 (CF8h/CFCh) and through ECAM (the MCFG
 * table's window). Each register must read back unchanged, both ways;
 * a write to an unguarded register of the same function (Interrupt Line,
 * 3Ch) must land, both ways (the guard passes the rest through); then an
 * edu DMA read of the hypervisor page must still be blocked, and so must
 * an edu DMA write into the function's ECAM page. The host
 * script checks that the hypervisor logged the refusals: QEMU 7.2's
 * amd-iommu makes its capability block read-only by itself, so the base's
 * read-back alone would pass without the guard; its Command register is
 * writable. Behind VT-d (no such function) the case says "skipped".
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "acpi_find.h"
#include "dma_iommu_cfg.h"
#include "pio.h"

#define CAP_ID_IOMMU 0x0f /* "Secure Device" capability, 48882 §3.2.1 */
/* Type 0 header (PCI 3.0 §6.1 Figure 6-1): Command, Capabilities Pointer,
 * Interrupt Line; Status bit 4, capabilities list (§6.2.3). */
#define PCI_COMMAND 0x04
#define PCI_STATUS_CAPS 0x10
#define PCI_CAP_PTR 0x34
#define PCI_INT_LINE 0x3c

static int fails;

/* Mechanism #1: a dword read; writes of 1, 2 or 4 bytes at any offset
 * (the data port CFCh + off % 4). */
static uint32_t addr(uint16_t bdf, unsigned off) { return 0x80000000u | (uint32_t)bdf << 8 | (off & 0xfc); }
static uint32_t cf8_read(uint16_t bdf, unsigned off)
{
	outl(0xcf8, addr(bdf, off));
	return inl(0xcfc);
}
static void cf8_write(uint16_t bdf, unsigned off, unsigned width, uint32_t v)
{
	outl(0xcf8, addr(bdf, off));
	uint16_t port = (uint16_t)(0xcfc + (off & 3));
	if (width == 1)
		outb(port, (uint8_t)v);
	else if (width == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

/* ECAM: the function's page; stores of the width asked for. */
static void ecam_write(volatile uint8_t *page, unsigned off, unsigned width, uint32_t v)
{
	if (width == 1)
		*(volatile uint8_t *)(page + off) = (uint8_t)v;
	else if (width == 2)
		*(volatile uint16_t *)(page + off) = (uint16_t)v;
	else
		*(volatile uint32_t *)(page + off) = v;
}

/* The AMD IOMMU function on buses 0-3: its bdf and capability offset. */
static int find_iommu(uint16_t *bdf, unsigned *cap)
{
	for (unsigned b = 0; b < 4 * 256; b++) {
		uint16_t f = (uint16_t)b;
		if ((cf8_read(f, 0) & 0xffff) == 0xffff || !((cf8_read(f, 4) >> 16) & PCI_STATUS_CAPS))
			continue;
		for (unsigned p = cf8_read(f, PCI_CAP_PTR) & 0xfc, n = 0; p && n < 48; n++) {
			uint32_t h = cf8_read(f, p);
			if ((h & 0xff) == CAP_ID_IOMMU && ((h >> 16) & 7) == 3) { /* CapType 011b */
				*bdf = f;
				*cap = p;
				return 0;
			}
			p = (h >> 8) & 0xfc;
		}
	}
	return -1;
}

/* The ECAM page of bus 0's function bdf from the MCFG (PCI Firmware 3.0
 * §4.1.2: entries of 16 bytes after 44), or NULL. */
static volatile uint8_t *ecam_page(uint16_t bdf)
{
	const uint8_t *t = ahv_efi_acpi_table(ST, "MCFG");
	if (!t)
		return NULL;
	uint32_t len;
	memcpy(&len, t + 4, 4);
	for (uint32_t off = 44; off + 16 <= len; off += 16) {
		uint64_t base;
		uint16_t seg;
		memcpy(&base, t + off, 8);
		memcpy(&seg, t + off + 8, 2);
		unsigned bus = bdf >> 8;
		if (!seg && bus >= t[off + 10] && bus <= t[off + 11])
			return (volatile uint8_t *)(uintptr_t)(base + ((uint64_t)(bus - t[off + 10]) << 20) +
							       ((uint64_t)(bdf & 0xff) << 12));
	}
	return NULL;
}

static void verdict(const struct dma_cfg_env *e, const char *name, int ok, const char *detail, uint64_t a, uint64_t b)
{
	e->hypercall();
	Print(L"AHV-DMA: case %a %a (%a %lx %lx)\r\n", name, ok ? "ok" : "FAIL", detail, a, b);
	fails += !ok;
}

/* Try to move the window and toggle the enables through one way (ecam
 * NULL: CF8/CFC), then read everything back through CF8/CFC. */
static void attempt(const struct dma_cfg_env *e, const char *name, volatile uint8_t *ecam, uint16_t bdf, unsigned cap)
{
	uint32_t lo = cf8_read(bdf, cap + 4), hi = cf8_read(bdf, cap + 8), cmd = cf8_read(bdf, PCI_COMMAND);
	uint32_t line = cf8_read(bdf, PCI_INT_LINE);
	/* Base Address Low: the base 1 MiB up (bits 31:14, 48882 §3.2.2),
	 * Enable kept; High: 4 GiB up; Command: MSE and BME toggled, once
	 * as a word and once as a dword over Command and Status; a byte at
	 * the Command register's high half. */
	const struct {
		unsigned off, width;
		uint32_t val;
	} w[] = {{cap + 4, 4, lo ^ 0x00100000u}, {cap + 8, 4, hi + 1},           {PCI_COMMAND, 2, (cmd ^ 6) & 0xffff},
		 {PCI_COMMAND, 4, cmd ^ 6},      {PCI_COMMAND + 1, 1, (cmd >> 8) ^ 4}, {cap + 6, 2, (lo >> 16) ^ 0x10}};
	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (ecam)
			ecam_write(ecam, w[i].off, w[i].width, w[i].val);
		else
			cf8_write(bdf, w[i].off, w[i].width, w[i].val);
	}
	uint32_t lo2 = cf8_read(bdf, cap + 4), hi2 = cf8_read(bdf, cap + 8), cmd2 = cf8_read(bdf, PCI_COMMAND);
	uint32_t e_lo = ecam ? *(volatile uint32_t *)(ecam + cap + 4) : lo2;
	verdict(e, name, lo2 == lo && hi2 == hi && (cmd2 & 0xffff) == (cmd & 0xffff) && e_lo == lo,
		"base low/command before, after", (uint64_t)lo << 32 | (cmd & 0xffff), (uint64_t)lo2 << 32 | (cmd2 & 0xffff));
	/* The guard refuses only those registers: Interrupt Line lands. */
	uint32_t nl = (line & ~0xffu) | ((line + 0x11) & 0xff);
	if (ecam)
		ecam_write(ecam, PCI_INT_LINE, 1, nl & 0xff);
	else
		cf8_write(bdf, PCI_INT_LINE, 1, nl & 0xff);
	uint32_t got = cf8_read(bdf, PCI_INT_LINE);
	cf8_write(bdf, PCI_INT_LINE, 1, line & 0xff);
	verdict(e, ecam ? "iommu-config-ecam-other" : "iommu-config-cf8-other", (got & 0xff) == (nl & 0xff),
		"interrupt line written, read", nl & 0xff, got & 0xff);
}

int dma_iommu_cfg_case(const struct dma_cfg_env *e)
{
	uint16_t bdf;
	unsigned cap;
	fails = 0;
	if (find_iommu(&bdf, &cap)) {
		Print(L"AHV-DMA: case iommu-config skipped (no AMD IOMMU PCI function)\r\n");
		return 1;
	}
	volatile uint8_t *ecam = ecam_page(bdf);
	Print(L"AHV-DMA: IOMMU function %02x:%02x.%x, capability at %x, ECAM page %lx\r\n", bdf >> 8, (bdf >> 3) & 31,
	      bdf & 7, cap, (uint64_t)(uintptr_t)ecam);
	attempt(e, "iommu-config-cf8", NULL, bdf, cap);
	if (ecam)
		attempt(e, "iommu-config-ecam", ecam, bdf, cap);
	else
		verdict(e, "iommu-config-ecam", 0, "no MCFG entry for the function", bdf, 0);
	uint8_t *g = (uint8_t *)(uintptr_t)e->guest;
	/* A device's write into the function's ECAM page: a configuration
	 * write where the platform routes inbound writes there (QEMU does);
	 * the DMA table has no such page. */
	if (ecam) {
		uint32_t cmd = cf8_read(bdf, PCI_COMMAND);
		uint16_t nv = (uint16_t)((cmd ^ 6) & 0xffff);
		memcpy(g, &nv, 2);
		int rc = e->copy(e->guest, (uintptr_t)ecam + PCI_COMMAND, 2);
		uint32_t cmd2 = cf8_read(bdf, PCI_COMMAND);
		verdict(e, "iommu-config-dma-ecam", !rc && (cmd2 & 0xffff) == (cmd & 0xffff), "command before, after",
			cmd & 0xffff, cmd2 & 0xffff);
	}
	/* And the IOMMU still blocks: the hypervisor page does not arrive. */
	memset(g, 0xA5, 4096);
	int rc = e->copy(e->hv_page, e->guest, 64);
	uint64_t got;
	memcpy(&got, g, 8);
	verdict(e, "iommu-config-dma-blocked", !rc && got != e->magic, "first 8 bytes/source", got, e->hv_page);
	return !fails;
}
