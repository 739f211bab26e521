/* apic_guard_test.c - the decisions behind the smp = on interrupt-page
 * traps (hypervisor/arch/x86/include/ahv/x86/apic_guard.h; docs/hostile.md
 * "INIT that does not come through the ICR"): which pages are trapped,
 * which xAPIC offsets a store may reach, which I/O APIC writes are refused
 * - every I/O APIC register and delivery mode, every xAPIC offset.
 * Label: unit. */
#include <stdio.h>
#include "ahv/x86/apic_guard.h"

static int fails, checks;

static void want(int got, int exp, const char *what, uint64_t a, uint64_t b)
{
	checks++;
	if (got != exp) {
		fails++;
		printf("FAIL %s (%llx, %llx): %d, want %d\n", what, (unsigned long long)a, (unsigned long long)b, got,
		       exp);
	}
}

int main(void)
{
	/* Trapped pages: the I/O APIC page, FEE0_0000-FEEF_FFFF; nothing next
	 * to them (the list the loader hands over without a MADT). */
	struct ahv_ioapics io = {.n = 1, .source = AHV_IOAPICS_NO_MADT, .io = {{.base = (uint32_t)AHV_IOAPIC_BASE}}};
	want(ahv_smp_store_trapped(&io, 0xFEC00000ull), 1, "trapped", 0xFEC00000ull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEC00010ull), 1, "trapped", 0xFEC00010ull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEC01000ull), 0, "trapped", 0xFEC01000ull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEBFFFFCull), 0, "trapped", 0xFEBFFFFCull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEE00300ull), 1, "trapped", 0xFEE00300ull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEE01000ull), 1, "trapped", 0xFEE01000ull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEEFFFFCull), 1, "trapped", 0xFEEFFFFCull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEF00000ull), 0, "trapped", 0xFEF00000ull, 0);
	want(ahv_smp_store_trapped(&io, 0xFEDFFFFCull), 0, "trapped", 0xFEDFFFFCull, 0);
	want(ahv_smp_store_trapped(&io, 0x1FEE00000ull), 0, "trapped", 0x1FEE00000ull, 0);
	want(ahv_smp_store_trapped(&io, 0x1FEC00000ull), 0, "trapped", 0x1FEC00000ull, 0);

	/* Several I/O APICs (the MADT's): each page, and only those; the
	 * default page is not trapped when the MADT does not list it. */
	io = (struct ahv_ioapics){.n = 3, .source = AHV_IOAPICS_MADT,
				  .io = {{.base = 0xFEC01000u}, {.base = 0xFEC08000u}, {.base = 0xFED00000u}}};
	for (uint64_t a = 0xFEB00000ull; a < 0xFF000000ull; a += 0x400) {
		int at = a >> 12 == 0xFEC01 ? 0 : a >> 12 == 0xFEC08 ? 1 : a >> 12 == 0xFED00 ? 2 : -1;
		want(ahv_ioapic_at(&io, a), at, "ioapic_at", a, 0);
		want(ahv_smp_store_trapped(&io, a), at >= 0 || (a >= AHV_XAPIC_BASE && a < AHV_XAPIC_BASE + AHV_MSI_RANGE_SIZE),
		     "trapped", a, 3);
	}
	want(ahv_ioapic_at(&io, 0xFEC00000ull), -1, "ioapic_at", 0xFEC00000ull, 3);
	/* A count past the array is never followed out of it (ASan). */
	io.n = 1000;
	want(ahv_ioapic_at(&io, 0x12345000ull), -1, "ioapic_at", 0x12345000ull, 1000);
	want(ahv_ioapic_at(&io, 0xFED00000ull), 2, "ioapic_at", 0xFED00000ull, 1000);

	/* xAPIC offsets (SDM Vol. 3A Table 11-1, APM Vol. 2 Table 16-2):
	 * exactly the writable ones; offsets inside a register are not. */
	static const unsigned writable[] = {0x20,  0x80,  0xb0,  0xd0,  0xe0,  0xf0,  0x280, 0x2f0, 0x300,
					    0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0,
					    0x410, 0x420, 0x480, 0x490, 0x4a0, 0x4b0, 0x4c0, 0x4d0, 0x4e0,
					    0x4f0, 0x500, 0x510, 0x520, 0x530};
	for (unsigned off = 0; off < 0x1000; off += 4) {
		int w = 0;
		for (unsigned i = 0; i < sizeof(writable) / sizeof(writable[0]); i++)
			w |= writable[i] == off;
		want(ahv_xapic_writable(off), w, "xapic_writable", off, 0);
	}

	/* Store widths: dwords anywhere; a byte only to IOREGSEL of an I/O
	 * APIC (82093AA §3.0); words never; not a byte on the xAPIC page. */
	for (unsigned off = 0; off < 0x1000; off++)
		for (unsigned width = 1; width <= 4; width *= 2)
			for (int ioapic = 0; ioapic < 2; ioapic++)
				want(ahv_trapped_store_width_ok(ioapic, off, width),
				     width == 4 || (ioapic && width == 1 && off == 0), "store_width_ok",
				     (uint64_t)ioapic << 32 | off, width);

	/* I/O APIC: refused iff IOWIN, a redirection entry's low half, and
	 * delivery mode 101b (INIT) or 110b. */
	for (uint32_t sel = 0; sel < 0x100; sel++)
		for (unsigned off = 0; off < 0x100; off += 0x10)
			for (uint32_t mode = 0; mode < 8; mode++) {
				uint32_t val = mode << 8 | 0x30 | (sel & 1) << 16;
				int exp = off == 0x10 && sel >= 0x10 && !(sel & 1) && (mode == 5 || mode == 6);
				want(ahv_ioapic_refused(sel, off, val), exp, "ioapic_refused", sel << 8 | off, val);
			}
	/* IOREGSEL's upper bits are not part of the selection (82093AA §3.1.1). */
	want(ahv_ioapic_refused(0xffffff10u, 0x10, 5u << 8), 1, "ioapic_refused", 0xffffff10u, 0x500);
	/* Linux's masked INIT entry is still an INIT entry. */
	want(ahv_ioapic_refused(0x20, 0x10, 1u << 16 | 5u << 8), 1, "ioapic_refused", 0x20, 0x10500);

	printf("apic_guard_test: %d checks, %d failed\n", checks, fails);
	return fails != 0;
}
