/*
 * ahv/x86/amdvi.h - AMD-Vi (docs/iommu.md): the formats the hypervisor
 * writes and reads - device table entries, commands, event log entries, the
 * host I/O page-table format for pt.c - as pure functions, built into the
 * hypervisor (amdvi.c) and, hosted, into tests/unit/amdvi_test.c. Section
 * numbers: AMD I/O Virtualization Technology (IOMMU) Specification 48882
 * rev 3.x.
 */
#ifndef AHV_X86_AMDVI_H
#define AHV_X86_AMDVI_H

#include <stdint.h>
#include "ahv/x86/mem.h"

/* MMIO registers (§3.4, by MMIO offset). */
#define AMDVI_DEVTAB_BASE 0x0000 /* 0000h Device Table Base Address */
#define AMDVI_CMDBUF_BASE 0x0008 /* 0008h Command Buffer Base Address */
#define AMDVI_EVTLOG_BASE 0x0010 /* 0010h Event Log Base Address */
#define AMDVI_CONTROL 0x0018     /* 0018h IOMMU Control */
#define AMDVI_EXCL_BASE 0x0020   /* 0020h Exclusion Base (ExEn bit 0) */
#define AMDVI_EXCL_LIMIT 0x0028  /* 0028h Exclusion Range Limit */
#define AMDVI_EFR 0x0030         /* 0030h Extended Feature Register */
#define AMDVI_CMD_HEAD 0x2000    /* 2000h Command Buffer Head Pointer */
#define AMDVI_CMD_TAIL 0x2008    /* 2008h Command Buffer Tail Pointer */
#define AMDVI_EVT_HEAD 0x2010    /* 2010h Event Log Head Pointer */
#define AMDVI_EVT_TAIL 0x2018    /* 2018h Event Log Tail Pointer */
#define AMDVI_STATUS 0x2020      /* 2020h IOMMU Status */
/* The register set: 16 KiB (its base 16 KiB aligned, §3.4);
 * 512 KiB when the performance counters exist (EFR.PCSup, their bank at
 * MMIO offset 4_0000h, §3.4). */
#define AMDVI_MMIO_SIZE 0x4000ull
#define AMDVI_MMIO_SIZE_PC 0x80000ull
#define AMDVI_PTR_MASK 0x7fff0ull /* head/tail pointers: bits 18:4 (§3.4) */

/* IOMMU Control (§3.4, 0018h). */
#define AMDVI_CTL_IOMMU_EN (1ull << 0)
#define AMDVI_CTL_EVTLOG_EN (1ull << 2)
#define AMDVI_CTL_EVTINT_EN (1ull << 3)
#define AMDVI_CTL_COMWAITINT_EN (1ull << 4)
#define AMDVI_CTL_COHERENT (1ull << 10)
#define AMDVI_CTL_CMDBUF_EN (1ull << 12)
/* IOMMU Status (§3.4, 2020h): EventOverflow bit 0 (RW1C). */
#define AMDVI_STS_EVT_OVERFLOW (1ull << 0)
/* Extended Feature Register (§3.4, 0030h): IASup bit 6 (INVALIDATE_IOMMU_ALL
 * is implemented), PCSup bit 9 (performance counters). */
#define AMDVI_EFR_IASUP (1ull << 6)
#define AMDVI_EFR_PCSUP (1ull << 9)
/* IVHD Flags (§5.2.2, IVHD block): Coherent bit 5 - the IOMMU's own table and buffer
 * accesses snoop the caches (then Control.Coherent is set too). */
#define AMDVI_IVHD_F_COHERENT 0x20u

/* Buffer base registers (§3.4 0000h, 0008h, 0010h): address 51:12; the
 * device table's Size field 8:0 is its length in 4 KiB pages minus 1; the
 * command buffer's ComLen and the event log's EventLen (59:56) are log2 of
 * their entry count, at least 8 (256 entries of 16 bytes: 4 KiB). */
#define AMDVI_DEVTAB_BYTES (65536ull * 32) /* one 32-byte entry per DeviceID */
#define AMDVI_RING_LOG2 8
#define AMDVI_RING_BYTES (16ull << AMDVI_RING_LOG2)
static inline uint64_t ahv_amdvi_devtab_reg(uint64_t pa, uint64_t bytes)
{
	return (pa & PTE_ADDR_MASK) | (bytes / AHV_PAGE_SIZE - 1);
}
static inline uint64_t ahv_amdvi_ring_reg(uint64_t pa) { return (pa & PTE_ADDR_MASK) | (uint64_t)AMDVI_RING_LOG2 << 56; }

/* Host I/O page tables (§2.2.3 "I/O Page Tables for Host Translations"):
 * PR bit 0 (an entry with PR = 0 is not present, its other bits are not
 * interpreted), Next Level 11:9 (the level of the table it points to; 0
 * in a leaf, whose page size is its level's: 4 KiB, 2 MiB, 1 GiB),
 * address 51:12, IR bit 61, IW bit 62 (read / write allowed; a walk ANDs
 * them over every level). Bit 7 is ignored by the IOMMU in every entry:
 * pt.c keeps its large-leaf marker (PTE_PS) there. */
#define AMDVI_PTE_PR (1ull << 0)
#define AMDVI_NEXT_LEVEL_SHIFT 9
#define AMDVI_PTE_IR (1ull << 61)
#define AMDVI_PTE_IW (1ull << 62)
/* An absent page's leaf: PR = 0 and, since PR = 0 leaves the rest
 * uninterpreted, Next Level 1: QEMU 7.2's walk (hw/i386/amd_iommu.c
 * amdvi_page_walk) logs an IO_PAGE_FAULT only for an entry with PR = 0 and
 * a non-zero Next Level; a zero entry fails the DMA there without an event
 * (docs/iommu.md). */
#define AMDVI_PTE_ABSENT (1ull << AMDVI_NEXT_LEVEL_SHIFT)
/* The format for pt.c: 4 levels (DTE Mode 4, §2.2.2.1), leaves up to 1 GiB. */
static inline struct ahv_pt ahv_amdvi_pt_format(struct ahv_pool *pool)
{
	return (struct ahv_pt){.pool = pool,
			       .table_bits = AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW,
			       .leaf_bits = AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW,
			       .max_leaf_level = 3,
			       .next_level_shift = AMDVI_NEXT_LEVEL_SHIFT,
			       .absent = AMDVI_PTE_ABSENT};
}

/* Device Table Entry (§2.2.2.1, 256 bits): quad 0 - V bit 0, TV bit 1 (the
 * translation fields are valid), Mode 11:9 (levels of the host table),
 * Host Page Table Root Pointer 51:12, IR bit 61, IW bit 62; quad 1 -
 * DomainID 15:0, SE bit 33 = 0 (events logged); quad 2 - IV bit 0 = 0
 * (interrupts not remapped, docs/iommu.md "Interrupt remapping"). */
#define AMDVI_DTE_V (1ull << 0)
#define AMDVI_DTE_TV (1ull << 1)
#define AMDVI_DTE_MODE_SHIFT 9
#define AMDVI_DTE_IR (1ull << 61)
#define AMDVI_DTE_IW (1ull << 62)
#define AMDVI_DOMAIN 1 /* one domain for every device (as VT-d's DID 1) */
static inline void ahv_amdvi_dte(uint64_t dte[4], uint64_t root, unsigned levels, uint16_t domain)
{
	dte[0] = AMDVI_DTE_V | AMDVI_DTE_TV | (uint64_t)(levels & 7) << AMDVI_DTE_MODE_SHIFT |
		 (root & PTE_ADDR_MASK) | AMDVI_DTE_IR | AMDVI_DTE_IW;
	dte[1] = domain;
	dte[2] = 0;
	dte[3] = 0;
}

/* Commands (§2.4, 128 bits; opcode in bits 63:60 of the first quad). */
struct ahv_amdvi_cmd {
	uint64_t q[2];
};
#define AMDVI_OP_SHIFT 60
#define AMDVI_OP_COMPLETION_WAIT 0x1ull      /* §2.4.1 */
#define AMDVI_OP_INVALIDATE_DEVTAB 0x2ull    /* §2.4.2 INVALIDATE_DEVTAB_ENTRY */
#define AMDVI_OP_INVALIDATE_PAGES 0x3ull     /* §2.4.3 INVALIDATE_IOMMU_PAGES */
#define AMDVI_OP_INVALIDATE_ALL 0x8ull       /* §2.4.8 INVALIDATE_IOMMU_ALL */
/* COMPLETION_WAIT: S bit 0 (store the data quad at the address when every
 * earlier command has completed), store address 51:3. */
static inline struct ahv_amdvi_cmd ahv_amdvi_cmd_completion_wait(uint64_t store_pa, uint64_t data)
{
	return (struct ahv_amdvi_cmd){{(store_pa & 0x000ffffffffffff8ull) | 1 | AMDVI_OP_COMPLETION_WAIT << AMDVI_OP_SHIFT,
				       data}};
}
/* INVALIDATE_DEVTAB_ENTRY: DeviceID 15:0. */
static inline struct ahv_amdvi_cmd ahv_amdvi_cmd_inval_devtab(uint16_t devid)
{
	return (struct ahv_amdvi_cmd){{devid | AMDVI_OP_INVALIDATE_DEVTAB << AMDVI_OP_SHIFT, 0}};
}
/* INVALIDATE_IOMMU_PAGES of a whole domain: DomainID 47:32; second quad S
 * bit 0 and PDE bit 1 with address 7FFF_FFFF_FFFF_F000h (every page and
 * every cached directory entry of the domain). */
static inline struct ahv_amdvi_cmd ahv_amdvi_cmd_inval_domain(uint16_t domain)
{
	return (struct ahv_amdvi_cmd){{(uint64_t)domain << 32 | AMDVI_OP_INVALIDATE_PAGES << AMDVI_OP_SHIFT,
				       0x7ffffffffffff000ull | 3}};
}
static inline struct ahv_amdvi_cmd ahv_amdvi_cmd_inval_all(void)
{
	return (struct ahv_amdvi_cmd){{AMDVI_OP_INVALIDATE_ALL << AMDVI_OP_SHIFT, 0}};
}

/* Event log entries (§2.5, 128 bits): DeviceID 15:0, EventCode 63:60,
 * event-specific flags 59:48, address in the second quad.
 * IO_PAGE_FAULT (§2.5, its event format; EventCode 2h): flags PR bit 52 (the page was
 * present: a permission fault), RW bit 53 (1: a write), I bit 51 (an
 * interrupt request). */
#define AMDVI_EVT_IO_PAGE_FAULT 0x2u
#define AMDVI_EVT_F_I (1u << 3)
#define AMDVI_EVT_F_PR (1u << 4)
#define AMDVI_EVT_F_RW (1u << 5)
struct ahv_amdvi_event {
	uint16_t devid;
	uint8_t code;   /* EventCode */
	uint16_t flags; /* bits 59:48 of the first quad, as bits 11:0 */
	uint64_t addr;
};
static inline struct ahv_amdvi_event ahv_amdvi_event_decode(const uint64_t e[2])
{
	return (struct ahv_amdvi_event){(uint16_t)e[0], (uint8_t)(e[0] >> 60), (uint16_t)((e[0] >> 48) & 0xfff),
					e[1]};
}

#endif
