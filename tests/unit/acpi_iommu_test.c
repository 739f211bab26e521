/* acpi_iommu_test.c - the DMAR and IVRS parsers (hypervisor/arch/x86/
 * acpi_iommu.c) on tables like QEMU 7.2's and on hostile ones: wrong
 * lengths, overlapping units, absurd counts, truncation at every byte.
 * The same parsers run under libFuzzer (tests/fuzz/acpi_iommu_fuzz.c).
 * Label: unit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ahv/x86/acpi_iommu.h"
#include "acpi_build.h"
#include "check.h"

/* DMAR: header, HAW 47 (48 bits), flags, 10 reserved. */
static void dmar_start(struct tb *t, uint8_t flags)
{
	header(t, "DMAR");
	u8(t, 47), u8(t, flags);
	for (int i = 0; i < 10; i++)
		u8(t, 0);
}
static size_t drhd(struct tb *t, uint8_t flags, uint8_t size, uint16_t seg, uint64_t base)
{
	size_t at = t->n;
	u16(t, 0), u16(t, 16), u8(t, flags), u8(t, size), u16(t, seg), u64(t, base);
	return at;
}
static void scope(struct tb *t, size_t st, uint8_t type, uint8_t id, uint8_t bus, uint8_t dev, uint8_t fn)
{
	u8(t, type), u8(t, 8), u16(t, 0), u8(t, id), u8(t, bus), u8(t, dev), u8(t, fn);
	set16(t, st + 2, (uint16_t)(t->n - st));
}
static size_t rmrr(struct tb *t, uint64_t base, uint64_t limit)
{
	size_t at = t->n;
	u16(t, 1), u16(t, 24), u16(t, 0), u16(t, 0), u64(t, base), u64(t, limit);
	return at;
}

static int dmar(struct tb *t, struct ahv_dmar *d, const char **why)
{
	finish(t);
	return ahv_dmar_parse(t->b, t->n, d, why);
}

static struct ahv_dmar d;

static void test_dmar_qemu(void)
{
	struct tb t;
	const char *why = NULL;
	/* QEMU 7.2 intel-iommu,intremap=on: one unit for everything, the
	 * IOAPIC in its scope; an RMRR for a USB controller (00:1d.0). */
	dmar_start(&t, AHV_DMAR_F_INTR_REMAP);
	size_t u = drhd(&t, AHV_DRHD_F_INCLUDE_PCI_ALL, 0, 0, 0xfed90000);
	scope(&t, u, 3, 0, 0xf0, 0x1f, 0);
	size_t r = rmrr(&t, 0x3e2d0000, 0x3e2dffff);
	scope(&t, r, 1, 0, 0, 0x1d, 0);
	u16(&t, 2), u16(&t, 8), u32(&t, 0); /* an ATSR: counted, skipped */
	CHECK(dmar(&t, &d, &why) == 0, "QEMU-like DMAR refused: %s", why);
	CHECK(d.haw == 48 && d.flags == AHV_DMAR_F_INTR_REMAP, "haw %u flags %x", d.haw, d.flags);
	CHECK(d.n_drhd == 1 && d.drhd[0].reg_base == 0xfed90000 && d.drhd[0].reg_size == 4096 &&
		      d.drhd[0].flags == AHV_DRHD_F_INCLUDE_PCI_ALL,
	      "DRHD %u base %lx size %lx", d.n_drhd, (unsigned long)d.drhd[0].reg_base,
	      (unsigned long)d.drhd[0].reg_size);
	CHECK(d.drhd[0].n_scopes == 1 && d.drhd[0].scopes[0].type == 3 && d.drhd[0].scopes[0].start_bus == 0xf0 &&
		      d.drhd[0].scopes[0].dev == 0x1f,
	      "DRHD scope");
	CHECK(d.n_rmrr == 1 && d.rmrr[0].base == 0x3e2d0000 && d.rmrr[0].limit == 0x3e2dffff &&
		      d.rmrr[0].scopes[0].dev == 0x1d,
	      "RMRR");
	CHECK(d.n_other == 1, "other %u", d.n_other);

	/* Renamed in place: still sums to 0, no longer a DMAR. */
	CHECK(ahv_acpi_rename(t.b, t.n, "AHVD") == 0 && ahv_acpi_sum(t.b, t.n) == 0 && !memcmp(t.b, "AHVD", 4),
	      "rename");
	CHECK(ahv_dmar_parse(t.b, t.n, &d, &why) != 0, "a renamed table still parses");
	CHECK(ahv_acpi_rename(t.b, 20, "DMAR") != 0, "rename with a short buffer");
}

/* Each builder below yields a table that must be refused. */
static void refuse(struct tb *t, const char *what)
{
	const char *why = NULL;
	int rc = dmar(t, &d, &why);
	CHECK(rc != 0, "%s: accepted", what);
	CHECK(rc == 0 || why != NULL, "%s: refused without a reason", what);
}

static void test_dmar_hostile(void)
{
	struct tb t;
	size_t u;

	dmar_start(&t, 0);
	refuse(&t, "no DRHD");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	finish(&t);
	t.b[9]++;
	CHECK(ahv_dmar_parse(t.b, t.n, &d, NULL) != 0, "bad checksum accepted");
	finish(&t);
	CHECK(ahv_dmar_parse(t.b, t.n - 1, &d, NULL) != 0, "length field past the buffer accepted");
	memcpy(t.b, "DMAX", 4);
	CHECK(ahv_dmar_parse(t.b, t.n, &d, NULL) != 0, "wrong signature accepted");
	CHECK(ahv_dmar_parse(t.b, 10, &d, NULL) != 0, "10-byte buffer accepted");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	u16(&t, 1), u16(&t, 0); /* a zero-length structure: would loop forever */
	refuse(&t, "zero-length structure");

	dmar_start(&t, 0);
	u = drhd(&t, 1, 0, 0, 0xfed90000);
	set16(&t, u + 2, 200);
	refuse(&t, "structure running past the table");

	dmar_start(&t, 0);
	u = drhd(&t, 1, 0, 0, 0xfed90000);
	set16(&t, u + 2, 12);
	t.n -= 4;
	refuse(&t, "DRHD shorter than 16");

	dmar_start(&t, 0);
	u16(&t, 0), u16(&t, 3);
	refuse(&t, "3-byte structure");

	dmar_start(&t, 0);
	drhd(&t, 0, 0, 0, 0xfed90800);
	refuse(&t, "unaligned register base");

	dmar_start(&t, 0);
	drhd(&t, 0, 0, 0, 0);
	refuse(&t, "zero register base");

	dmar_start(&t, 0);
	drhd(&t, 0, 15, 0, 0xfffffffffff00000ull);
	refuse(&t, "register set wrapping");

	dmar_start(&t, 0);
	drhd(&t, 0, 2, 0, 0xfed90000); /* 4 pages: up to fed93fff */
	drhd(&t, 1, 0, 0, 0xfed92000);
	refuse(&t, "overlapping register sets");

	dmar_start(&t, 0);
	drhd(&t, 0, 0, 0, 0xfed90000);
	drhd(&t, 0, 0, 0, 0xfed90000);
	refuse(&t, "the same unit twice");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	drhd(&t, 1, 0, 0, 0xfed91000);
	refuse(&t, "two INCLUDE_PCI_ALL in one segment");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	drhd(&t, 1, 0, 1, 0xfed91000);
	CHECK(dmar(&t, &d, NULL) == 0 && d.n_drhd == 2, "INCLUDE_PCI_ALL in two segments refused");

	dmar_start(&t, 0);
	for (int i = 0; i <= AHV_DMAR_MAX_DRHD; i++)
		drhd(&t, 0, 0, 0, 0xfed90000 + 0x1000ull * (unsigned)i);
	refuse(&t, "more units than supported");

	dmar_start(&t, 0);
	u = drhd(&t, 1, 0, 0, 0xfed90000);
	for (int i = 0; i <= AHV_DMAR_MAX_SCOPES; i++)
		scope(&t, u, 1, 0, 0, (uint8_t)i, 0);
	refuse(&t, "more scopes than supported");

	dmar_start(&t, 0);
	u = drhd(&t, 1, 0, 0, 0xfed90000);
	scope(&t, u, 1, 0, 0, 3, 0);
	t.b[u + 17] = 7; /* odd scope length */
	refuse(&t, "odd scope length");
	t.b[u + 17] = 4;
	refuse(&t, "scope shorter than 6");
	t.b[u + 17] = 40;
	refuse(&t, "scope past its structure");
	t.b[u + 17] = 8;
	t.b[u + 16] = 9;
	refuse(&t, "scope of type 9");
	t.b[u + 16] = 1;
	t.b[u + 22] = 32;
	refuse(&t, "device 32 in a path");
	t.b[u + 22] = 3;
	t.b[u + 23] = 8;
	refuse(&t, "function 8 in a path");

	dmar_start(&t, 0);
	u = drhd(&t, 1, 0, 0, 0xfed90000);
	u8(&t, 1), u8(&t, 6), u16(&t, 0), u8(&t, 0), u8(&t, 0);
	set16(&t, u + 2, 22);
	refuse(&t, "PCI scope without a path");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	u = rmrr(&t, 0x2000, 0x0fff);
	scope(&t, u, 1, 0, 0, 0x1d, 0);
	refuse(&t, "RMRR limit below base");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	u = rmrr(&t, 0x2100, 0x2fff);
	scope(&t, u, 1, 0, 0, 0x1d, 0);
	refuse(&t, "RMRR base unaligned");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	u = rmrr(&t, 0x2000, 0x2ffe);
	scope(&t, u, 1, 0, 0, 0x1d, 0);
	refuse(&t, "RMRR limit + 1 unaligned");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	rmrr(&t, 0x2000, 0x2fff);
	refuse(&t, "RMRR without a scope");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	for (int i = 0; i <= AHV_DMAR_MAX_RMRR; i++) {
		u = rmrr(&t, 0x100000ull * (unsigned)(i + 1), 0x100000ull * (unsigned)(i + 1) + 0xfff);
		scope(&t, u, 1, 0, 0, 0x1d, 0);
	}
	refuse(&t, "more RMRRs than supported");

	dmar_start(&t, 0);
	drhd(&t, 1, 0, 0, 0xfed90000);
	t.b[36] = 20; /* 21-bit host address width */
	refuse(&t, "absurd host address width");

	/* Every truncation of a good table: Length kept (so it lies), the
	 * buffer shorter; and Length shrunk with the buffer (structures cut
	 * in half). Under ASan, any read past the buffer aborts. */
	dmar_start(&t, 0);
	u = drhd(&t, 1, 0, 0, 0xfed90000);
	scope(&t, u, 3, 0, 0xf0, 0x1f, 0);
	u = rmrr(&t, 0x2000, 0x2fff);
	scope(&t, u, 1, 0, 0, 0x1d, 0);
	finish(&t);
	int bad = 0;
	for (size_t n = 0; n < t.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, t.b, n);
		if (ahv_dmar_parse(copy, n, &d, NULL) == 0)
			bad++;
		if (n >= 48) {
			acpi_fix(copy, n, NULL);
			/* a cut that lands between structures is a valid table */
			if (ahv_dmar_parse(copy, n, &d, NULL) == 0 && n != 48 && n != 64 + 8 && n != t.n)
				bad++;
		}
		free(copy);
	}
	CHECK(bad == 0, "%d truncations accepted", bad);
}

/* ---- IVRS ---------------------------------------------------------------------------- */
static void ivrs_start(struct tb *t)
{
	header(t, "IVRS");
	u32(t, 0x00203041); /* IVinfo: VA 64, PA 48, GVA 48 */
	u64(t, 0);
}
static size_t ivhd(struct tb *t, uint8_t type, uint64_t base)
{
	size_t at = t->n;
	u8(t, type), u8(t, 0xb0), u16(t, 0), u16(t, 0x0010), u16(t, 0x40), u64(t, base), u16(t, 0), u16(t, 0),
		u32(t, 0);
	if (type != 0x10)
		u64(t, 0), u64(t, 0);
	return at;
}
static void dev4(struct tb *t, size_t blk, uint8_t type, uint16_t id)
{
	u8(t, type), u16(t, id), u8(t, 0);
	set16(t, blk + 2, (uint16_t)(t->n - blk));
}
static void dev8(struct tb *t, size_t blk, uint8_t type, uint16_t id, uint32_t extra)
{
	u8(t, type), u16(t, id), u8(t, 0), u32(t, extra);
	set16(t, blk + 2, (uint16_t)(t->n - blk));
}
static void ivmd(struct tb *t, uint8_t type, uint64_t start, uint64_t len)
{
	u8(t, type), u8(t, 0x7), u16(t, 32), u16(t, 0x00f8), u16(t, 0), u64(t, 0), u64(t, start), u64(t, len);
}

static struct ahv_ivrs r;

static int ivrs(struct tb *t)
{
	finish(t);
	return ahv_ivrs_parse(t->b, t->n, &r, NULL);
}

static void test_ivrs(void)
{
	struct tb t;
	const char *why = NULL;
	/* QEMU 7.2 amd-iommu: IVHD 10h and 11h for the one IOMMU (00:02.0
	 * here), select-all, a range, an alias, IOAPIC/HPET specials; an
	 * ACPI HID entry with a UID; an IVMD for one device. */
	ivrs_start(&t);
	for (uint8_t ty = 0x10; ty <= 0x11; ty++) {
		size_t b = ivhd(&t, ty, 0xfeb80000);
		dev4(&t, b, 1, 0);
		dev4(&t, b, 3, 0x0100);
		dev4(&t, b, 4, 0x01ff);
		dev8(&t, b, 0x42, 0x0300, 0x00000200);
		dev8(&t, b, 0x48, 0, 0x0200a000);
		u8(&t, 0xF0), u16(&t, 0x00a0), u8(&t, 0);
		put(&t, "AMDI0020", 8), u64(&t, 0), u8(&t, 0), u8(&t, 2), put(&t, "ID", 2);
		set16(&t, b + 2, (uint16_t)(t.n - b));
	}
	ivmd(&t, 0x21, 0x3e000000, 0x10000);
	finish(&t);
	CHECK(ahv_ivrs_parse(t.b, t.n, &r, &why) == 0, "QEMU-like IVRS refused: %s", why);
	CHECK(r.n_ivhd == 2 && r.ivhd[0].base == 0xfeb80000 && r.ivhd[0].type == 0x10 && r.ivhd[1].type == 0x11 &&
		      r.ivhd[0].device_id == 0x10 && r.ivhd[0].cap_offset == 0x40,
	      "IVHDs %u", r.n_ivhd);
	CHECK(r.ivhd[0].n_dev_entries == 6 && r.ivhd[0].select_all, "device entries %u", r.ivhd[0].n_dev_entries);
	CHECK(r.n_ivmd == 1 && r.ivmd[0].start == 0x3e000000 && r.ivmd[0].length == 0x10000, "IVMD");
	CHECK(r.ivinfo == 0x00203041, "IVinfo %x", r.ivinfo);

	size_t b;
	ivrs_start(&t);
	ivhd(&t, 0x10, 0xfeb80000);
	ivhd(&t, 0x10, 0xfeb80000);
	CHECK(ivrs(&t) != 0, "two type-10h IVHDs for one IOMMU accepted");

	ivrs_start(&t);
	CHECK(ivrs(&t) != 0, "IVRS without IVHD accepted");

	ivrs_start(&t);
	ivhd(&t, 0x10, 0xfeb82000);
	CHECK(ivrs(&t) != 0, "unaligned IOMMU base accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	dev4(&t, b, 3, 0x100);
	CHECK(ivrs(&t) != 0, "range start without end accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	dev4(&t, b, 4, 0x100);
	CHECK(ivrs(&t) != 0, "range end without start accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	dev4(&t, b, 3, 0x100);
	dev4(&t, b, 0x47 - 0x47 + 3, 0x200);
	dev4(&t, b, 4, 0x2ff);
	CHECK(ivrs(&t) != 0, "range started twice accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	u8(&t, 0xF0), u16(&t, 0xa0), u8(&t, 0);
	put(&t, "AMDI0020", 8), u64(&t, 0), u8(&t, 0), u8(&t, 200);
	set16(&t, b + 2, (uint16_t)(t.n - b));
	CHECK(ivrs(&t) != 0, "HID entry with a UID past its block accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	dev4(&t, b, 0x85, 0);
	CHECK(ivrs(&t) != 0, "unknown variable-length entry accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	dev8(&t, b, 0x42, 0x300, 0);
	set16(&t, b + 2, (uint16_t)(t.n - b - 4));
	CHECK(ivrs(&t) != 0, "8-byte entry cut by its block accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x11, 0xfeb80000);
	set16(&t, b + 2, 30);
	CHECK(ivrs(&t) != 0, "type-11h IVHD shorter than 40 accepted");

	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	set16(&t, b + 2, 0);
	CHECK(ivrs(&t) != 0, "zero-length block accepted");

	ivrs_start(&t);
	ivhd(&t, 0x10, 0xfeb80000);
	ivmd(&t, 0x20, 0xfffffffffffff000ull, 0x2000);
	CHECK(ivrs(&t) != 0, "wrapping IVMD accepted");

	ivrs_start(&t);
	for (int i = 0; i <= AHV_IVRS_MAX_IVHD; i++)
		ivhd(&t, 0x10, 0xfeb80000 + 0x4000ull * (unsigned)i);
	CHECK(ivrs(&t) != 0, "more IVHDs than supported accepted");

	/* Every truncation with Length kept. */
	ivrs_start(&t);
	b = ivhd(&t, 0x10, 0xfeb80000);
	dev4(&t, b, 1, 0);
	ivmd(&t, 0x21, 0x3e000000, 0x10000);
	finish(&t);
	int bad = 0;
	for (size_t n = 0; n < t.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, t.b, n);
		bad += ahv_ivrs_parse(copy, n, &r, NULL) == 0;
		free(copy);
	}
	CHECK(bad == 0, "%d IVRS truncations accepted", bad);
}

int main(void)
{
	test_dmar_qemu();
	test_dmar_hostile();
	test_ivrs();
	printf("acpi_iommu_test: %d checks, %d failed\n", count, fails);
	return fails != 0;
}
