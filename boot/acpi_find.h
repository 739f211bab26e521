/*
 * boot/acpi_find.h - the first ACPI table with a given signature, found as
 * the firmware publishes it: the ACPI 2.0+ RSDP in the UEFI configuration
 * table (UEFI 2.10 §4.6), its XSDT (ACPI 6.4 §5.2.8). Header-only, for the
 * loader and the e2e payloads that check what it found (they boot on the
 * same firmware). Include after <efi.h> and <efilib.h>.
 */
#ifndef AHV_BOOT_ACPI_FIND_H
#define AHV_BOOT_ACPI_FIND_H

#include <stdint.h>
#include <string.h>

/* The table, in place (firmware memory), or NULL. */
static inline const uint8_t *ahv_efi_acpi_table(EFI_SYSTEM_TABLE *st, const char *sig)
{
	EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
	const uint8_t *rsdp = NULL;
	for (UINTN i = 0; i < st->NumberOfTableEntries; i++)
		if (!CompareGuid(&st->ConfigurationTable[i].VendorGuid, &acpi20))
			rsdp = st->ConfigurationTable[i].VendorTable;
	if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) || rsdp[15] < 2)
		return NULL;
	uint64_t xsdt;
	memcpy(&xsdt, rsdp + 24, 8);
	const uint8_t *x = (const uint8_t *)(uintptr_t)xsdt;
	if (!x || memcmp(x, "XSDT", 4))
		return NULL;
	uint32_t len;
	memcpy(&len, x + 4, 4);
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t;
		memcpy(&t, x + off, 8);
		const uint8_t *f = (const uint8_t *)(uintptr_t)t;
		if (f && !memcmp(f, sig, 4))
			return f;
	}
	return NULL;
}

#endif
