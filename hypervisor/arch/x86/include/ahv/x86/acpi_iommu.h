/*
 * ahv/x86/acpi_iommu.h - the ACPI tables that describe IOMMUs, parsed by
 * pure functions over bytes (no pointers followed, no memory touched but the
 * buffer): DMAR for Intel VT-d (VT-d spec rev 4.x, Chapter 8 "BIOS
 * Considerations") and IVRS for AMD-Vi (AMD I/O Virtualization Technology
 * (IOMMU) Specification 48882 rev 3.x, §5.2 "IVRS"). Built into the
 * hypervisor and, hosted, into the unit tests and the fuzzer
 * (tests/unit/acpi_iommu_test.c, tests/fuzz/acpi_iommu_fuzz.c).
 */
#ifndef AHV_X86_ACPI_IOMMU_H
#define AHV_X86_ACPI_IOMMU_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/x86/acpi.h"

/* ---- DMAR (VT-d spec §8.1) ------------------------------------------------ */
#define AHV_DMAR_MAX_DRHD 8
#define AHV_DMAR_MAX_RMRR 16
#define AHV_DMAR_MAX_SCOPES 16 /* per DRHD or RMRR */

#define AHV_DMAR_F_INTR_REMAP 0x1u   /* DMAR Flags bit 0 (§8.1) */
#define AHV_DMAR_F_X2APIC_OPTOUT 0x2u
#define AHV_DMAR_F_DMA_CTRL_OPT_IN 0x4u
#define AHV_DRHD_F_INCLUDE_PCI_ALL 0x1u /* DRHD Flags bit 0 (§8.3) */

/* Device scope (§8.3.1): type 1 PCI endpoint, 2 PCI sub-hierarchy, 3 IOAPIC,
 * 4 MSI-capable HPET, 5 ACPI namespace device; the path's first hop. */
struct ahv_dmar_scope {
	uint8_t type, enum_id, start_bus, path_len; /* path_len: (dev, fn) pairs */
	uint8_t dev, fn;                            /* last hop of the path */
};

struct ahv_dmar_drhd {
	uint64_t reg_base;  /* register set, 4 KiB aligned */
	uint64_t reg_size;  /* bytes: 2^Size pages (§8.3, Size field), >= 4 KiB */
	uint16_t segment;
	uint8_t flags;      /* AHV_DRHD_F_* */
	uint8_t n_scopes;   /* stored (at most AHV_DMAR_MAX_SCOPES) */
	struct ahv_dmar_scope scopes[AHV_DMAR_MAX_SCOPES];
};

struct ahv_dmar_rmrr {
	uint64_t base, limit; /* [base, limit], base 4 KiB aligned, limit + 1 too */
	uint16_t segment;
	uint8_t n_scopes;
	struct ahv_dmar_scope scopes[AHV_DMAR_MAX_SCOPES];
};

struct ahv_dmar {
	uint8_t haw;   /* host address width: Host Address Width field + 1 */
	uint8_t flags; /* AHV_DMAR_F_* */
	uint32_t n_drhd, n_rmrr, n_other; /* n_other: ATSR, RHSA, ANDD, SATC, ... */
	struct ahv_dmar_drhd drhd[AHV_DMAR_MAX_DRHD];
	struct ahv_dmar_rmrr rmrr[AHV_DMAR_MAX_RMRR];
};

/* Parse a DMAR table of len bytes (the buffer; the header's Length must fit
 * in it). 0, or -1 with the reason in why (a constant string). Refuses: a bad
 * signature, checksum or length; a structure shorter than its fixed part or
 * running past the table; a device scope with a bad length; a register base
 * that is 0 or not 4 KiB aligned; two DRHDs whose register sets overlap; two
 * INCLUDE_PCI_ALL units for one segment; an RMRR with base > limit or
 * unaligned; more units, RMRRs or scopes than the limits above. */
int ahv_dmar_parse(const uint8_t *t, size_t len, struct ahv_dmar *out, const char **why);

/* ---- IVRS (AMD IOMMU spec §5.2) ------------------------------------------ */
#define AHV_IVRS_MAX_IVHD 8
#define AHV_IVRS_MAX_IVMD 16

struct ahv_ivrs_ivhd {
	uint8_t type;        /* 0x10, 0x11 or 0x40 (§5.2.2) */
	uint8_t flags;
	uint16_t device_id;  /* the IOMMU's own requester ID */
	uint16_t cap_offset; /* its capability block in PCI config space */
	uint16_t segment;
	uint64_t base;       /* MMIO register base, 16 KiB aligned (§3.4) */
	uint32_t n_dev_entries; /* device entries (§5.2.2.2), all parsed */
	uint32_t select_all;    /* an "all devices" entry (type 1) was seen */
};

struct ahv_ivrs_ivmd {
	uint8_t type; /* 0x20 all, 0x21 one device, 0x22 a range (§5.2.3) */
	uint8_t flags;
	uint16_t device_id, aux;
	uint64_t start, length;
};

struct ahv_ivrs {
	uint32_t ivinfo; /* IVinfo (§5.2.1): EFRSup, DMA remap support, VA/PA size */
	uint32_t n_ivhd, n_ivmd;
	struct ahv_ivrs_ivhd ivhd[AHV_IVRS_MAX_IVHD];
	struct ahv_ivrs_ivmd ivmd[AHV_IVRS_MAX_IVMD];
};

/* Parse an IVRS table (same conventions as ahv_dmar_parse). Refuses: a bad
 * header; a block shorter than its fixed part or past the table; a device
 * entry past its block, a variable-length entry with a bad length, a range
 * start without its end; an unaligned or zero register base; two IVHDs of
 * the same type for one IOMMU base (types 10h/11h/40h may describe the same
 * IOMMU, §5.2.2); an IVMD with a zero or wrapping range. */
int ahv_ivrs_parse(const uint8_t *t, size_t len, struct ahv_ivrs *out, const char **why);

#endif
