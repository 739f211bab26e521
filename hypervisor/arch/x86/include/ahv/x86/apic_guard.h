/*
 * apic_guard.h - which guest stores to the interrupt pages the hypervisor
 * traps with smp = on it performs (initsipi.c; docs/hostile.md "INIT that
 * does not come through the ICR"). Pure functions of the address, the
 * register and the value, so that a hosted unit test can cover the
 * decisions (tests/unit/apic_guard_test.c). Header-only.
 */
#ifndef AHV_X86_APIC_GUARD_H
#define AHV_X86_APIC_GUARD_H

#include <stdint.h>
#include "ahv/x86/acpi_madt.h"

/* The xAPIC page (SDM Vol. 3A §11.4.1), the interrupt-message range it
 * opens (FEEx_xxxx, §11.11.1 "Message Address Register Format") and the
 * first I/O APIC's register page where PC platforms put it (82093AA
 * datasheet §3.0; MultiProcessor Specification v1.4 §3.1): QEMU, Bochs,
 * most boards. The I/O APICs guarded are the MADT's (ACPI 6.4 §5.2.12.3,
 * acpi_madt.h); this address only where there is no MADT or it lists none. */
#define AHV_XAPIC_BASE 0xFEE00000ull
#define AHV_MSI_RANGE_SIZE 0x100000ull
#define AHV_IOAPIC_BASE 0xFEC00000ull

/* I/O APIC registers (82093AA §3.0-§3.2.4): IOREGSEL at offset 0 selects
 * the register that IOWIN (offset 0x10) reads and writes. */
#define AHV_IOAPIC_IOREGSEL 0x00u
#define AHV_IOAPIC_IOWIN 0x10u

/* The guarded I/O APIC whose register page holds gpa: its index in io,
 * or -1. */
static inline int ahv_ioapic_at(const struct ahv_ioapics *io, uint64_t gpa)
{
	uint64_t page = gpa & ~0xfffull;
	for (uint32_t i = 0; i < io->n && i < AHV_MAX_IOAPICS; i++)
		if (io->io[i].base == page)
			return (int)i;
	return -1;
}

/* Is the page of gpa one whose guest stores are trapped and emulated: the
 * xAPIC page, the rest of the interrupt-message range, a guarded I/O APIC
 * page (io: the loader's list, handoff.h)? */
static inline int ahv_smp_store_trapped(const struct ahv_ioapics *io, uint64_t gpa)
{
	uint64_t page = gpa & ~0xfffull;
	return ahv_ioapic_at(io, gpa) >= 0 || (page >= AHV_XAPIC_BASE && page < AHV_XAPIC_BASE + AHV_MSI_RANGE_SIZE);
}

/* May a store to this xAPIC register offset reach the APIC? The registers
 * software writes (SDM Vol. 3A Table 11-1): ID, TPR, EOI, LDR, DFR, SVR,
 * ESR, LVT CMCI, ICR, the LVTs, the timer's initial count and divide
 * configuration; and AMD's extended APIC space (APM Vol. 2 §16.4.5 and
 * Table 16-2): extended control 0x410, specific EOI 0x420, the interrupt
 * enable registers 0x480-0x4F0, the extended LVTs 0x500-0x530. Any other
 * offset is reserved or read-only: the store is dropped (on QEMU offset 0
 * would be an MSI). */
static inline int ahv_xapic_writable(unsigned off)
{
	if (off & 0xf)
		return 0;
	return off == 0x20 || off == 0x80 || off == 0xb0 || off == 0xd0 || off == 0xe0 || off == 0xf0 ||
	       off == 0x280 || (off >= 0x2f0 && off <= 0x380) || off == 0x3e0 || off == 0x410 || off == 0x420 ||
	       (off >= 0x480 && off <= 0x530);
}

/* May a store of width bytes (1, 2, 4: what the decoder gives) at this
 * offset of a trapped page go on? Dwords anywhere (SDM Vol. 3A §11.4.1:
 * the xAPIC registers take 32-bit stores; the 82093AA datasheet §3.0:
 * all I/O APIC registers do, IOWIN only so), and on an I/O APIC page a
 * byte store to IOREGSEL (offset 0), which the same §3.0 describes as how
 * the register is selected (EDK2's IoApicLib does so). Anything else: the
 * guest gets #GP (docs/hostile.md "Store widths"). */
static inline int ahv_trapped_store_width_ok(int ioapic, unsigned off, unsigned width)
{
	return width == 4 || (ioapic && width == 1 && off == AHV_IOAPIC_IOREGSEL);
}

/* Is a store of val to I/O APIC offset off, with IOREGSEL = sel, a
 * redirection entry's low half (registers 0x10 + 2i) with delivery mode
 * INIT (101b) or the reserved 110b (a start-up)? Those are refused. */
static inline int ahv_ioapic_refused(uint32_t sel, unsigned off, uint32_t val)
{
	unsigned mode = (val >> 8) & 7; /* delivery mode, bits 10:8 (82093AA §3.2.4) */
	sel &= 0xff;
	return off == AHV_IOAPIC_IOWIN && sel >= 0x10 && !(sel & 1) && (mode == 5 || mode == 6);
}

#endif
