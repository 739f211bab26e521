/*
 * ahv/x86/acpi.h - what every ACPI table parser here shares: the system
 * description table header (ACPI 6.4 §5.2.6), its checksum, and
 * little-endian field reads. Pure functions over bytes, built into the
 * hypervisor, the loader and, hosted, the unit tests and fuzzers
 * (acpi_table.c; the parsers: acpi_iommu.c for DMAR/IVRS, acpi_madt.c for
 * the MADT's I/O APICs).
 */
#ifndef AHV_X86_ACPI_H
#define AHV_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define AHV_ACPI_HDR_LEN 36 /* ACPI 6.4 §5.2.6 system description table header */

/* Little-endian fields (ACPI 6.4 §5.2: all multi-byte fields). */
static inline uint16_t ahv_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t ahv_le32(const uint8_t *p) { return (uint32_t)ahv_le16(p) | (uint32_t)ahv_le16(p + 2) << 16; }
static inline uint64_t ahv_le64(const uint8_t *p) { return (uint64_t)ahv_le32(p) | (uint64_t)ahv_le32(p + 4) << 32; }

/* Sum of len bytes (a valid ACPI table sums to 0, ACPI 6.4 §5.2.6). */
uint8_t ahv_acpi_sum(const uint8_t *p, size_t len);
/* Rename a table in place (4-byte signature) and fix its checksum (byte 9)
 * so that it still sums to 0: the guest's OS then does not know the table.
 * 0, or -1 when the header's length does not fit in len. */
int ahv_acpi_rename(uint8_t *t, size_t len, const char sig[4]);
/* The header check every parser starts with: signature sig, a Length field
 * of at least `fixed` bytes that fits in the len-byte buffer, a checksum
 * of 0 over Length bytes. The table's Length, or 0 with the reason in *why
 * (a constant string). */
uint32_t ahv_acpi_table_len(const uint8_t *t, size_t len, const char *sig, uint32_t fixed, const char **why);

#endif
