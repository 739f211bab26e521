/*
 * acpi_madt.c - the MADT's I/O APIC entries (see ahv/x86/acpi_madt.h):
 * a pure function over the table's bytes, hostile input assumed (every
 * structure's Length checked against what is left). ACPI 6.4 §5.2.12
 * (MADT), §5.2.12.3 (I/O APIC structure).
 */
#include "ahv/x86/acpi_madt.h"
#include "ahv/x86/apic_guard.h"
#include <string.h>

/* Header, Local Interrupt Controller Address (4), Flags (4): §5.2.12 Table 5.19. */
#define MADT_FIXED 44
#define MADT_TYPE_IOAPIC 1 /* §5.2.12 Table 5.21 */
#define MADT_IOAPIC_LEN 12 /* Type, Length, ID, reserved, Address (4), GSI Base (4): Table 5.24 */

static int ioapic_entry(const uint8_t *p, struct ahv_ioapics *out, const char **why)
{
	if (p[1] != MADT_IOAPIC_LEN) {
		*why = "I/O APIC structure whose Length is not 12";
		return -1;
	}
	uint32_t base = ahv_le32(p + 4);
	/* The MultiProcessor Specification v1.4 (chapter 3, the memory map)
	 * puts I/O APICs on 4 KiB boundaries from FEC0_0000; ACPI requires
	 * no alignment, but the hypervisor guards whole pages and takes every
	 * store to one as that I/O APIC's register (docs/hostile.md): an
	 * I/O APIC that shares its page is refused, not half guarded. */
	if (!base || (base & 0xfff)) {
		*why = "I/O APIC address zero or not 4 KiB aligned";
		return -1;
	}
	if (base >= AHV_XAPIC_BASE && base < AHV_XAPIC_BASE + AHV_MSI_RANGE_SIZE) {
		*why = "I/O APIC address inside the local APIC's interrupt-message range";
		return -1;
	}
	for (uint32_t i = 0; i < out->n; i++)
		if (out->io[i].base == base) {
			*why = "two I/O APICs at one address";
			return -1;
		}
	if (out->n == AHV_MAX_IOAPICS) {
		*why = "more I/O APICs than supported (16)";
		return -1;
	}
	struct ahv_ioapic *a = &out->io[out->n++];
	a->base = base;
	a->gsi_base = ahv_le32(p + 8);
	a->id = p[2];
	return 0;
}

int ahv_madt_ioapics(const uint8_t *t, size_t len, struct ahv_ioapics *out, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	out->source = AHV_IOAPICS_MADT;
	uint32_t tl = ahv_acpi_table_len(t, len, "APIC", MADT_FIXED, why);
	if (!tl)
		return -1;
	if (tl > AHV_MADT_MAX_LEN) {
		*why = "MADT longer than 1 MiB";
		return -1;
	}
	/* Interrupt controller structures (§5.2.12): Type (1), Length (1). */
	for (uint32_t off = MADT_FIXED; off < tl;) {
		const uint8_t *p = t + off;
		if (tl - off < 2) {
			*why = "truncated interrupt controller structure header";
			return -1;
		}
		if (p[1] < 2 || p[1] > tl - off) {
			*why = "interrupt controller structure length out of range";
			return -1;
		}
		if (p[0] == MADT_TYPE_IOAPIC && ioapic_entry(p, out, why))
			return -1;
		off += p[1];
	}
	return 0;
}

void ahv_ioapics_default(struct ahv_ioapics *out, uint32_t source)
{
	memset(out, 0, sizeof(*out));
	out->source = source;
	out->n = 1;
	out->io[0].base = (uint32_t)AHV_IOAPIC_BASE;
}

int ahv_ioapics_from_madt(const uint8_t *madt, struct ahv_ioapics *out, const char **why)
{
	if (!madt) {
		ahv_ioapics_default(out, AHV_IOAPICS_NO_MADT);
		return 0;
	}
	if (ahv_madt_ioapics(madt, ahv_le32(madt + 4), out, why)) {
		ahv_ioapics_default(out, AHV_IOAPICS_NO_MADT);
		return -1;
	}
	if (!out->n)
		ahv_ioapics_default(out, AHV_IOAPICS_MADT_EMPTY);
	return 0;
}
