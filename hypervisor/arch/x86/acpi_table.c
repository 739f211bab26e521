/*
 * acpi_table.c - the ACPI table header shared by the parsers (see
 * ahv/x86/acpi.h; ACPI 6.4 §5.2.6): checksum, rename, Length check.
 */
#include "ahv/x86/acpi.h"
#include <string.h>

uint8_t ahv_acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

int ahv_acpi_rename(uint8_t *t, size_t len, const char sig[4])
{
	if (len < AHV_ACPI_HDR_LEN || ahv_le32(t + 4) < AHV_ACPI_HDR_LEN || ahv_le32(t + 4) > len)
		return -1;
	uint8_t before = ahv_acpi_sum(t, 4), after;
	memcpy(t, sig, 4);
	after = ahv_acpi_sum(t, 4);
	t[9] = (uint8_t)(t[9] + before - after); /* the sum stays what it was */
	return 0;
}

uint32_t ahv_acpi_table_len(const uint8_t *t, size_t len, const char *sig, uint32_t fixed, const char **why)
{
	uint32_t tl;
	if (len < fixed || memcmp(t, sig, 4)) {
		*why = "not the expected table (signature or size)";
		return 0;
	}
	tl = ahv_le32(t + 4);
	if (tl < fixed || tl > len) {
		*why = "table length field out of range";
		return 0;
	}
	if (ahv_acpi_sum(t, tl)) {
		*why = "bad table checksum";
		return 0;
	}
	return tl;
}
