/* acpi_madt_fuzz.c - libFuzzer target for the MADT's I/O APIC list
 * (hypervisor/arch/x86/acpi_madt.c, docs/hostile.md "INIT that does not
 * come through the ICR"). Each input is tried as given and with its
 * signature, Length and checksum made right (so that mutations reach the
 * interrupt controller structures behind the header checks). The buffer
 * is an exact-size heap copy: ASan sees any read past it. A list that is
 * accepted must be what the hypervisor relies on: at most AHV_MAX_IOAPICS,
 * each address nonzero, 4 KiB aligned, outside the interrupt-message
 * range, none twice, and each found again by the trap's lookup. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ahv/x86/acpi_madt.h"
#include "ahv/x86/apic_guard.h"
#include "../unit/acpi_build.h"

static void check(const struct ahv_ioapics *io)
{
	if (io->n > AHV_MAX_IOAPICS || io->source != AHV_IOAPICS_MADT)
		abort();
	for (uint32_t i = 0; i < io->n; i++) {
		uint32_t b = io->io[i].base;
		if (!b || (b & 0xfff) || (b >= AHV_XAPIC_BASE && b < AHV_XAPIC_BASE + AHV_MSI_RANGE_SIZE))
			abort();
		if (ahv_ioapic_at(io, b + 0x10) != (int)i || !ahv_smp_store_trapped(io, b + 0xffc))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ahv_ioapics io;
	const char *why;
	uint8_t *t = malloc(size ? size : 1);
	if (!t)
		return 0;
	memcpy(t, data, size);
	if (ahv_madt_ioapics(t, size, &io, &why) == 0)
		check(&io);
	if (size >= AHV_ACPI_HDR_LEN) {
		acpi_fix(t, size, "APIC");
		if (ahv_madt_ioapics(t, size, &io, &why) == 0)
			check(&io);
	}
	free(t);
	return 0;
}
