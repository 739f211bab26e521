/*
 * ahv/x86/acpi_madt.h - the I/O APICs of the ACPI MADT (signature "APIC",
 * ACPI 6.4 §5.2.12), parsed by a pure function over the table's bytes. The
 * loader hands the list over (handoff.h); with smp = on the hypervisor
 * write-protects each one's register page and refuses INIT and start-up
 * delivery in its redirection entries (initsipi.c, apic_guard.h;
 * docs/hostile.md "INIT that does not come through the ICR"). Built into
 * the loader/hypervisor and, hosted, into tests/unit/acpi_madt_test.c and
 * tests/fuzz/acpi_madt_fuzz.c.
 */
#ifndef AHV_X86_ACPI_MADT_H
#define AHV_X86_ACPI_MADT_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/x86/acpi.h"

/* At most this many I/O APICs are guarded; a MADT with more is refused
 * (large servers have one per PCIe root complex: 8-9 on two sockets). */
#define AHV_MAX_IOAPICS 16
/* A MADT longer than this is refused (about 65,000 x2APIC entries). */
#define AHV_MADT_MAX_LEN (1u << 20)

struct ahv_ioapic {
	uint32_t base;     /* I/O APIC Address: its register page, 4 KiB aligned */
	uint32_t gsi_base; /* Global System Interrupt Base */
	uint8_t id;        /* I/O APIC ID */
	uint8_t pad[3];
};

/* Where the list came from (for the hypervisor's log). */
#define AHV_IOAPICS_NO_MADT 0u    /* no MADT: the default address only */
#define AHV_IOAPICS_MADT 1u       /* the MADT's I/O APIC entries */
#define AHV_IOAPICS_MADT_EMPTY 2u /* a MADT without one: the default address */

struct ahv_ioapics {
	uint32_t n, source; /* source: AHV_IOAPICS_* */
	struct ahv_ioapic io[AHV_MAX_IOAPICS];
};

/* Parse a MADT of len bytes (the buffer; the header's Length must fit in
 * it) into *out (source AHV_IOAPICS_MADT; n may be 0). 0, or -1 with the
 * reason in why (a constant string). Refuses: a bad signature, checksum or
 * Length (under 44, over the buffer or AHV_MADT_MAX_LEN); an interrupt
 * controller structure whose Length is under 2 or runs past the table; an
 * I/O APIC structure whose Length is not 12 (§5.2.12.3 Table 5.24); an
 * I/O APIC address that is 0, not 4 KiB aligned, or inside the local
 * APIC's interrupt-message range FEE0_0000-FEEF_FFFF; two I/O APICs at one
 * address; more than AHV_MAX_IOAPICS. Other structure types are skipped by
 * their Length. */
int ahv_madt_ioapics(const uint8_t *t, size_t len, struct ahv_ioapics *out, const char **why);

/* The list without a MADT's word: one I/O APIC at the PC default
 * (AHV_IOAPIC_BASE), source AHV_IOAPICS_NO_MADT or AHV_IOAPICS_MADT_EMPTY. */
void ahv_ioapics_default(struct ahv_ioapics *out, uint32_t source);

/* The I/O APICs to guard, given the firmware's MADT (NULL: there is none;
 * else its header's Length is taken as the buffer's, the loader's case: a
 * firmware table in place): the MADT's, the default where there is no MADT
 * or it lists none. 0, or -1 with the reason in why when the MADT is
 * refused (*out is then the default, source AHV_IOAPICS_NO_MADT). The
 * loader and the hostile payload (which checks them) both take it so. */
int ahv_ioapics_from_madt(const uint8_t *madt, struct ahv_ioapics *out, const char **why);

#endif
