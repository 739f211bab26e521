/*
 * pcicfg_guard.h - which guest writes to PCI configuration space the
 * hypervisor refuses (docs/iommu.md "The IOMMU's configuration space"): on
 * an IOMMU that is a PCI function (AMD-Vi: the IVHD's DeviceID and
 * capability offset), its Command register and its IOMMU capability block.
 * Reads are never refused, nor writes to other functions or offsets.
 * Pure functions of the guarded functions, the address and the width, for
 * both ways in: configuration mechanism #1 (ports CF8h/CFCh) and the
 * memory-mapped ECAM window the ACPI MCFG table describes. Header-only,
 * so that a hosted unit test can cover every offset and width
 * (tests/unit/pcicfg_guard_test.c); pcicfg.c and port_io.c act on them.
 */
#ifndef AHV_X86_PCICFG_GUARD_H
#define AHV_X86_PCICFG_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* PCI Local Bus Specification 3.0 §6.2.2: the Command register, 2 bytes
 * at 04h (bit 1 Memory Space, bit 2 Bus Master). */
#define AHV_PCI_COMMAND 0x04u
#define AHV_PCI_COMMAND_LEN 2u
/* AMD IOMMU spec 48882 §3.2 "IOMMU Capability Block Registers": header
 * (+00h), Base Address Low (+04h), Base Address High (+08h), Range (+0Ch),
 * Miscellaneous Information 0 (+10h) and 1 (+14h): 18h bytes. */
#define AHV_AMDVI_CAP_LEN 0x18u
/* PCI Express Base 4.0 §7.2.2: configuration space is 4 KiB per function
 * in ECAM; mechanism #1 reaches its first 256 bytes (PCI 3.0 §3.2.2.3.2),
 * AMD's CF8 extension (IOCF8[27:24] ExtRegNo, enabled by NB_CFG bit 46,
 * BKDG for family 10h-16h "IOCF8") the rest. */
#define AHV_PCI_CFG_SIZE 0x1000u
#define AHV_PCI_CF8 0xCF8u
#define AHV_PCI_CFC 0xCFCu
#define AHV_PCI_CF8_ENABLE 0x80000000u

#define AHV_PCICFG_MAX_FN 8 /* guarded functions (one per AMD-Vi IOMMU) */

/* A guarded function: segment, requester id (bus << 8 | dev << 3 | fn),
 * the offset of its IOMMU capability block. */
struct ahv_pcicfg_fn {
	uint16_t segment, bdf, cap;
};

enum ahv_pcicfg_why {
	AHV_PCICFG_PASS = 0,    /* not guarded: the write goes through */
	AHV_PCICFG_COMMAND = 1, /* touches the Command register */
	AHV_PCICFG_CAP = 2,     /* touches the IOMMU capability block */
	AHV_PCICFG_OUTSIDE = 3, /* runs past the function's 4 KiB */
};

/* Do the bytes [off, off + width) meet [start, start + len)? */
static inline int ahv_pcicfg_overlap(uint32_t off, uint32_t width, uint32_t start, uint32_t len)
{
	return off < start + len && start < off + width;
}

/* A write of width bytes (1, 2 or 4; any alignment, so a write may
 * straddle a register boundary) at configuration offset off of the
 * guarded function f: refused (and why) or AHV_PCICFG_PASS. A write
 * that touches any byte of the Command register or the capability block
 * is refused whole. */
static inline enum ahv_pcicfg_why ahv_pcicfg_fn_write(const struct ahv_pcicfg_fn *f, uint32_t off, uint32_t width)
{
	if (off + width > AHV_PCI_CFG_SIZE)
		return AHV_PCICFG_OUTSIDE;
	if (ahv_pcicfg_overlap(off, width, AHV_PCI_COMMAND, AHV_PCI_COMMAND_LEN))
		return AHV_PCICFG_COMMAND;
	if (ahv_pcicfg_overlap(off, width, f->cap, AHV_AMDVI_CAP_LEN))
		return AHV_PCICFG_CAP;
	return AHV_PCICFG_PASS;
}

/* The guarded function at (segment, bdf), or NULL. */
static inline const struct ahv_pcicfg_fn *ahv_pcicfg_find(const struct ahv_pcicfg_fn *fns, uint32_t n,
							   uint32_t segment, uint32_t bdf)
{
	for (uint32_t i = 0; i < n; i++)
		if (fns[i].segment == segment && fns[i].bdf == bdf)
			return &fns[i];
	return NULL;
}

/* An OUT of width bytes to port (any of CF8h-CFFh or a wider access
 * reaching into CFCh-CFFh) while the address latch CF8h holds cf8: does
 * it write configuration data of a guarded function, and is that
 * refused? Only the bytes that land on the data ports CFCh-CFFh are
 * configuration data (register (cf8 & FCh) + port - CFCh); mechanism #1
 * reaches segment 0 only. Since the hypervisor cannot know whether the
 * CPU's extended CF8 decoding is on, the write is checked both as the
 * standard offset and with IOCF8[27:24] as offset bits 11:8; either
 * refusing refuses it. *f_out: the function hit (NULL for PASS). */
static inline enum ahv_pcicfg_why ahv_pcicfg_cf8_write(const struct ahv_pcicfg_fn *fns, uint32_t n, uint32_t cf8,
							uint32_t port, uint32_t width, uint32_t *off_out,
							const struct ahv_pcicfg_fn **f_out)
{
	uint32_t lo = port > AHV_PCI_CFC ? port : AHV_PCI_CFC;
	uint32_t hi = port + width < AHV_PCI_CFC + 4 ? port + width : AHV_PCI_CFC + 4;
	*f_out = NULL;
	if (hi <= lo || !(cf8 & AHV_PCI_CF8_ENABLE))
		return AHV_PCICFG_PASS;
	const struct ahv_pcicfg_fn *f = ahv_pcicfg_find(fns, n, 0, (cf8 >> 8) & 0xffff);
	if (!f)
		return AHV_PCICFG_PASS;
	uint32_t reg = (cf8 & 0xfc) + (lo - AHV_PCI_CFC);
	uint32_t ext = reg | ((cf8 >> 24) & 0xf) << 8;
	enum ahv_pcicfg_why w = ahv_pcicfg_fn_write(f, reg, hi - lo);
	*off_out = reg;
	if (w == AHV_PCICFG_PASS) {
		w = ahv_pcicfg_fn_write(f, ext, hi - lo);
		*off_out = ext;
	}
	if (w != AHV_PCICFG_PASS)
		*f_out = f;
	return w;
}

/* ---- ECAM (PCI Firmware Specification 3.0 §4.1.2, the MCFG table) -------- */
/* One MCFG allocation: ECAM base, segment, buses [start, end]. */
struct ahv_ecam {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
};
#define AHV_MCFG_HDR 44u   /* ACPI header (36) + 8 reserved bytes */
#define AHV_MCFG_ENTRY 16u /* base (8), segment (2), start bus, end bus, 4 reserved */

/* The i-th allocation of an MCFG table of len bytes (the header's Length,
 * at most len, bounds it): 0, or -1 past the last one or for a table
 * that is not an MCFG. */
static inline int ahv_mcfg_entry(const uint8_t *t, size_t len, uint32_t i, struct ahv_ecam *e)
{
	uint32_t tl;
	if (len < AHV_MCFG_HDR || memcmp(t, "MCFG", 4))
		return -1;
	memcpy(&tl, t + 4, 4);
	if (tl > len || tl < AHV_MCFG_HDR || i >= (tl - AHV_MCFG_HDR) / AHV_MCFG_ENTRY)
		return -1;
	const uint8_t *p = t + AHV_MCFG_HDR + (size_t)i * AHV_MCFG_ENTRY;
	memcpy(&e->base, p, 8);
	memcpy(&e->segment, p + 8, 2);
	e->start_bus = p[10];
	e->end_bus = p[11];
	return 0;
}

/* The 4 KiB ECAM page of (segment, bdf) in allocation e (PCIe Base 4.0
 * §7.2.2 Table 7-1: bus << 20 | device << 15 | function << 12 from the
 * base, which maps start_bus at offset 0), or 0 if e does not cover it. */
static inline uint64_t ahv_ecam_page(const struct ahv_ecam *e, uint32_t segment, uint32_t bdf)
{
	uint32_t bus = bdf >> 8;
	if (e->segment != segment || bus < e->start_bus || bus > e->end_bus || e->base & 0xfff)
		return 0;
	return e->base + ((uint64_t)(bus - e->start_bus) << 20) + ((uint64_t)(bdf & 0xff) << 12);
}

#endif
