/* acpi_build.h - a little-endian ACPI table builder for the hosted tests
 * of the ACPI parsers (acpi_iommu_test.c, acpi_madt_test.c) and their
 * fuzzers: a header (ACPI 6.4 §5.2.6) with a signature, fields appended
 * in order, then Length and checksum made right. Header-only. */
#ifndef AHV_TESTS_UNIT_ACPI_BUILD_H
#define AHV_TESTS_UNIT_ACPI_BUILD_H

#include <stdint.h>
#include <string.h>
#include "ahv/x86/acpi.h"

struct tb {
	uint8_t b[8192];
	size_t n;
};
static inline void put(struct tb *t, const void *p, size_t n) { memcpy(t->b + t->n, p, n), t->n += n; }
static inline void u8(struct tb *t, uint8_t v) { put(t, &v, 1); }
static inline void u16(struct tb *t, uint16_t v) { u8(t, (uint8_t)v), u8(t, (uint8_t)(v >> 8)); }
static inline void u32(struct tb *t, uint32_t v) { u16(t, (uint16_t)v), u16(t, (uint16_t)(v >> 16)); }
static inline void u64(struct tb *t, uint64_t v) { u32(t, (uint32_t)v), u32(t, (uint32_t)(v >> 32)); }
static inline void set16(struct tb *t, size_t at, uint16_t v) { t->b[at] = (uint8_t)v, t->b[at + 1] = (uint8_t)(v >> 8); }

static inline void header(struct tb *t, const char *sig)
{
	t->n = 0;
	put(t, sig, 4);
	u32(t, 0); /* length, fixed by finish() */
	u8(t, 1), u8(t, 0);
	put(t, "AHVTST", 6), put(t, "UNITTEST", 8);
	u32(t, 1), u32(t, 0), u32(t, 1);
}

/* Make the n-byte table at t a well-formed header: signature sig (unless
 * NULL), Length n, the checksum byte so that the n bytes sum to 0. */
static inline void acpi_fix(uint8_t *t, size_t n, const char *sig)
{
	uint32_t l = (uint32_t)n;
	if (sig)
		memcpy(t, sig, 4);
	memcpy(t + 4, &l, 4);
	t[9] = 0;
	t[9] = (uint8_t)(0x100 - ahv_acpi_sum(t, n));
}
static inline void finish(struct tb *t) { acpi_fix(t->b, t->n, NULL); }

#endif
