/* acpi_madt_test.c - the MADT's I/O APIC list (hypervisor/arch/x86/
 * acpi_madt.c; docs/hostile.md "INIT that does not come through the ICR")
 * on a table like QEMU 7.2 q35's, on machines with several I/O APICs and
 * on hostile tables: wrong and zero lengths, absurd counts, truncation at
 * every byte, a bad checksum, every one-byte change. The same parser runs
 * under libFuzzer (tests/fuzz/acpi_madt_fuzz.c). Label: unit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ahv/x86/acpi_madt.h"
#include "ahv/x86/apic_guard.h"
#include "acpi_build.h"
#include "check.h"

/* MADT (ACPI 6.4 §5.2.12): header, Local Interrupt Controller Address,
 * Flags (PCAT_COMPAT). */
static void madt_start(struct tb *t)
{
	header(t, "APIC");
	u32(t, 0xFEE00000u), u32(t, 1);
}
/* Processor Local APIC (type 0, 8 bytes), Interrupt Source Override (type
 * 2, 10 bytes), Local APIC NMI (type 4, 6 bytes): skipped by the parser. */
static void lapic(struct tb *t, uint8_t id) { u8(t, 0), u8(t, 8), u8(t, id), u8(t, id), u32(t, 1); }
static void iso(struct tb *t, uint8_t src, uint32_t gsi) { u8(t, 2), u8(t, 10), u8(t, 0), u8(t, src), u32(t, gsi), u16(t, 0); }
static void lapic_nmi(struct tb *t) { u8(t, 4), u8(t, 6), u8(t, 0xff), u16(t, 0), u8(t, 1); }
/* I/O APIC (type 1, 12 bytes, §5.2.12.3 Table 5.24). */
static void ioapic(struct tb *t, uint8_t id, uint32_t base, uint32_t gsi)
{
	u8(t, 1), u8(t, 12), u8(t, id), u8(t, 0), u32(t, base), u32(t, gsi);
}

static struct ahv_ioapics io;

static int madt(struct tb *t, const char **why)
{
	finish(t);
	return ahv_madt_ioapics(t->b, t->n, &io, why);
}

/* Each builder below yields a table that must be refused, with a reason. */
static void refuse(struct tb *t, const char *what)
{
	const char *why = NULL;
	int rc = madt(t, &why);
	CHECK(rc != 0, "%s: accepted", what);
	CHECK(rc == 0 || why != NULL, "%s: refused without a reason", what);
}

/* What any accepted list must be: bounded, aligned, outside the MSI
 * range, no address twice. */
static int list_sane(const struct ahv_ioapics *l)
{
	if (l->n > AHV_MAX_IOAPICS || l->source != AHV_IOAPICS_MADT)
		return 0;
	for (uint32_t i = 0; i < l->n; i++) {
		uint32_t b = l->io[i].base;
		if (!b || (b & 0xfff) || (b >= AHV_XAPIC_BASE && b < AHV_XAPIC_BASE + AHV_MSI_RANGE_SIZE))
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (l->io[j].base == b)
				return 0;
	}
	return 1;
}

static void test_qemu_q35(struct tb *t)
{
	const char *why = NULL;
	/* QEMU 7.2 q35, 2 CPUs: two local APICs, the I/O APIC, five source
	 * overrides, a local APIC NMI. */
	madt_start(t);
	lapic(t, 0), lapic(t, 1);
	ioapic(t, 0, 0xFEC00000u, 0);
	iso(t, 0, 2), iso(t, 5, 5), iso(t, 9, 9), iso(t, 10, 10), iso(t, 11, 11);
	lapic_nmi(t);
	CHECK(madt(t, &why) == 0, "QEMU-like MADT refused: %s", why);
	CHECK(io.n == 1 && io.source == AHV_IOAPICS_MADT && io.io[0].base == 0xFEC00000u && io.io[0].id == 0 &&
		      io.io[0].gsi_base == 0,
	      "QEMU list: n %u base %x", io.n, io.io[0].base);
	/* The hypervisor's trap decisions over that list. */
	CHECK(ahv_ioapic_at(&io, 0xFEC00010u) == 0 && ahv_ioapic_at(&io, 0xFEC01000u) == -1, "ioapic_at");
}

static void test_several(struct tb *t)
{
	const char *why = NULL;
	/* A two-socket server's: the PCH's and one per root complex. */
	madt_start(t);
	lapic(t, 0);
	ioapic(t, 8, 0xFEC00000u, 0);
	ioapic(t, 9, 0xFEC01000u, 24);
	lapic(t, 1);
	ioapic(t, 10, 0xFEC08000u, 32);
	ioapic(t, 11, 0xFEC10000u, 40);
	CHECK(madt(t, &why) == 0, "four I/O APICs refused: %s", why);
	CHECK(io.n == 4 && io.io[1].base == 0xFEC01000u && io.io[1].id == 9 && io.io[1].gsi_base == 24 &&
		      io.io[3].base == 0xFEC10000u && io.io[3].id == 11,
	      "four I/O APICs: n %u", io.n);
	CHECK(ahv_smp_store_trapped(&io, 0xFEC08010u) && ahv_smp_store_trapped(&io, 0xFEC10ffcu) &&
		      !ahv_smp_store_trapped(&io, 0xFEC02000u) && ahv_ioapic_at(&io, 0xFEC01abcu) == 1,
	      "each page trapped, nothing between");

	/* Exactly the limit, then one more; then an absurd count. */
	madt_start(t);
	for (unsigned i = 0; i < AHV_MAX_IOAPICS; i++)
		ioapic(t, (uint8_t)i, 0xFEC00000u + 0x1000u * i, 24 * i);
	CHECK(madt(t, &why) == 0 && io.n == AHV_MAX_IOAPICS, "16 I/O APICs: %s", why);
	ioapic(t, 16, 0xFED00000u, 24 * 16);
	refuse(t, "17 I/O APICs");
	madt_start(t);
	for (unsigned i = 0; i < 600; i++)
		ioapic(t, (uint8_t)i, 0x80000000u + 0x1000u * i, 24 * i);
	refuse(t, "600 I/O APICs");

	/* A MADT without I/O APIC: an empty list (the loader then guards
	 * the default address). */
	madt_start(t);
	lapic(t, 0);
	CHECK(madt(t, &why) == 0 && io.n == 0, "MADT without I/O APIC: %s, n %u", why, io.n);
	madt_start(t);
	CHECK(madt(t, &why) == 0 && io.n == 0, "MADT with no structures: %s", why);
	/* Structure types it does not know are skipped by their Length. */
	madt_start(t);
	u8(t, 0x7f), u8(t, 20);
	for (int i = 0; i < 18; i++)
		u8(t, 1);
	ioapic(t, 0, 0xFEC00000u, 0);
	CHECK(madt(t, &why) == 0 && io.n == 1, "unknown type then an I/O APIC: %s", why);

	ahv_ioapics_default(&io, AHV_IOAPICS_NO_MADT);
	CHECK(io.n == 1 && io.io[0].base == AHV_IOAPIC_BASE && io.source == AHV_IOAPICS_NO_MADT, "default list");
}

/* What the loader hands over: the MADT's list, or the default. */
static void test_from_madt(struct tb *t)
{
	const char *why = NULL;
	CHECK(ahv_ioapics_from_madt(NULL, &io, &why) == 0 && io.n == 1 && io.source == AHV_IOAPICS_NO_MADT &&
		      io.io[0].base == AHV_IOAPIC_BASE,
	      "no MADT: the default");
	madt_start(t);
	lapic(t, 0);
	finish(t);
	CHECK(ahv_ioapics_from_madt(t->b, &io, &why) == 0 && io.n == 1 && io.source == AHV_IOAPICS_MADT_EMPTY &&
		      io.io[0].base == AHV_IOAPIC_BASE,
	      "MADT without I/O APIC: the default");
	ioapic(t, 2, 0xFEC20000u, 0);
	finish(t);
	CHECK(ahv_ioapics_from_madt(t->b, &io, &why) == 0 && io.n == 1 && io.source == AHV_IOAPICS_MADT &&
		      io.io[0].base == 0xFEC20000u,
	      "the MADT's I/O APIC, not the default");
	ioapic(t, 3, 0xFEC20000u, 24);
	finish(t);
	why = NULL;
	CHECK(ahv_ioapics_from_madt(t->b, &io, &why) != 0 && why && io.n == 1 && io.source == AHV_IOAPICS_NO_MADT,
	      "a refused MADT: -1, a reason");
}

static void test_hostile(struct tb *t)
{
	madt_start(t);
	ioapic(t, 0, 0xFEC00000u, 0);
	finish(t);
	t->b[9]++;
	CHECK(ahv_madt_ioapics(t->b, t->n, &io, NULL) != 0, "bad checksum accepted");
	finish(t);
	memcpy(t->b, "APIX", 4);
	CHECK(ahv_madt_ioapics(t->b, t->n, &io, NULL) != 0, "wrong signature accepted");

	header(t, "APIC"); /* no Local Interrupt Controller Address, no Flags */
	refuse(t, "MADT shorter than 44 bytes");

	static const uint8_t bad_len[] = {10, 11, 13, 16, 255};
	for (unsigned i = 0; i < sizeof(bad_len); i++) {
		madt_start(t);
		u8(t, 1), u8(t, bad_len[i]), u8(t, 0), u8(t, 0), u32(t, 0xFEC00000u), u32(t, 0);
		for (unsigned k = 12; k < bad_len[i]; k++)
			u8(t, 0);
		refuse(t, "I/O APIC structure of a wrong length");
	}
	madt_start(t);
	lapic(t, 0);
	u8(t, 0), u8(t, 0); /* zero-length structure: would never advance */
	ioapic(t, 0, 0xFEC00000u, 0);
	refuse(t, "zero-length structure");
	madt_start(t);
	u8(t, 2), u8(t, 1), u8(t, 0), u8(t, 0);
	refuse(t, "one-byte structure");
	madt_start(t);
	ioapic(t, 0, 0xFEC00000u, 0);
	u8(t, 0), u8(t, 8), u8(t, 0); /* a local APIC cut after 3 of its 8 bytes */
	refuse(t, "structure running past the table");
	madt_start(t);
	ioapic(t, 0, 0xFEC00000u, 0);
	u8(t, 0); /* one byte left: no room for Type and Length */
	refuse(t, "truncated structure header");

	static const uint32_t bad_base[] = {0, 0xFEC00100u, 0xFEC00010u, 0xFEC00800u, 0xFEE00000u, 0xFEE01000u,
					    0xFEEFF000u};
	for (unsigned i = 0; i < sizeof(bad_base) / sizeof(bad_base[0]); i++) {
		madt_start(t);
		ioapic(t, 0, bad_base[i], 0);
		refuse(t, "I/O APIC address zero, unaligned or in the MSI range");
	}
	madt_start(t);
	ioapic(t, 0, 0xFEC00000u, 0);
	ioapic(t, 1, 0xFEC00000u, 24);
	refuse(t, "two I/O APICs at one address");

	/* Length over 1 MiB, every byte there and summing to 0. */
	size_t big = AHV_MADT_MAX_LEN + 8;
	uint8_t *b = calloc(1, big);
	memcpy(b, "APIC", 4);
	for (size_t off = 44; off + 8 <= big; off += 8)
		b[off] = 0, b[off + 1] = 8; /* local APICs */
	acpi_fix(b, big, NULL);
	CHECK(ahv_madt_ioapics(b, big, &io, NULL) != 0, "MADT over 1 MiB accepted");
	free(b);
}

/* Every truncation of a good table (Length kept: it lies; Length cut with
 * the buffer: structures cut in half), every one-byte change (the checksum
 * refuses it) and every one-byte change with the checksum made right (any
 * list accepted is sane). Under ASan any read past the buffer aborts. */
static void test_mutations(struct tb *t)
{
	madt_start(t);
	lapic(t, 0);
	ioapic(t, 0, 0xFEC00000u, 0);
	iso(t, 0, 2);
	ioapic(t, 1, 0xFEC01000u, 24);
	finish(t);
	const size_t ends[] = {44, 52, 64, 74, 86}; /* structure boundaries */
	int bad = 0;
	for (size_t n = 0; n < t->n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, t->b, n);
		bad += ahv_madt_ioapics(copy, n, &io, NULL) == 0;
		if (n >= 44) {
			acpi_fix(copy, n, NULL);
			int boundary = 0;
			for (unsigned i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
				boundary |= ends[i] == n;
			int rc = ahv_madt_ioapics(copy, n, &io, NULL);
			bad += rc == 0 ? !boundary || io.n != (uint32_t)((n >= 64) + (n >= 86)) : boundary;
		}
		free(copy);
	}
	CHECK(bad == 0, "%d truncations judged wrongly", bad);
	int changed = 0, insane = 0, accepted = 0;
	for (size_t at = 0; at < t->n; at++)
		for (unsigned v = 0; v < 256; v++) {
			if (t->b[at] == v)
				continue;
			uint8_t copy[128];
			memcpy(copy, t->b, t->n);
			copy[at] = (uint8_t)v;
			/* (a changed Length may name a shorter table that sums
			 * to 0 by chance: the truncations above judge those) */
			changed += ahv_madt_ioapics(copy, t->n, &io, NULL) == 0 && (at < 4 || at >= 8);
			if (at < 8)
				continue; /* signature, Length: covered above */
			acpi_fix(copy, t->n, NULL);
			if (ahv_madt_ioapics(copy, t->n, &io, NULL) == 0) {
				accepted++;
				insane += !list_sane(&io);
			}
		}
	CHECK(changed == 0, "%d one-byte changes accepted with the old checksum", changed);
	CHECK(insane == 0 && accepted > 0, "%d of %d accepted changes gave an insane list", insane, accepted);
}

int main(void)
{
	static struct tb t;
	test_qemu_q35(&t);
	test_several(&t);
	test_hostile(&t);
	test_from_madt(&t);
	test_mutations(&t);
	printf("acpi_madt_test: %d checks, %d failed\n", count, fails);
	return fails != 0;
}
