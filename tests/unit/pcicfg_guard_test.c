/* pcicfg_guard_test.c - the decisions behind the IOMMU configuration-space
 * guard (hypervisor/arch/x86/include/ahv/x86/pcicfg_guard.h; docs/iommu.md
 * "The IOMMU's configuration space"): every offset of the 4 KiB space with
 * every width (1, 2, 4 bytes, at any alignment, so the writes that
 * straddle the Command register's or the capability block's edges), for
 * capability blocks at several offsets; mechanism #1 writes through every
 * port CF8h-CFFh with every width and latch offset, enabled or not, to a
 * guarded function and its neighbours, with and without AMD's extended
 * register bits; ECAM pages from MCFG tables, hostile lengths included.
 * The expected answers are computed byte by byte, not by the header's
 * interval test. Label: unit. */
#include <stdint.h>
#include <string.h>
#include "../../hypervisor/arch/x86/include/ahv/x86/pcicfg_guard.h"
#include "check.h"

/* What one configuration byte of a function with its capability at cap
 * is: 1 Command, 2 capability block, 0 free. */
static int byte_kind(uint32_t b, uint32_t cap)
{
	if (b == 4 || b == 5) /* PCI 3.0 §6.2.2: Command is bytes 4 and 5 */
		return 1;
	if (b >= cap && b < cap + 24) /* 48882 §3.2: six dword registers */
		return 2;
	return 0;
}

/* The expected answer for [off, off + width), byte by byte. */
static enum ahv_pcicfg_why expect(uint32_t off, uint32_t width, uint32_t cap)
{
	int cmd = 0, cb = 0;
	for (uint32_t b = off; b < off + width; b++) {
		if (b >= 4096)
			return AHV_PCICFG_OUTSIDE;
		int k = byte_kind(b, cap);
		cmd |= k == 1;
		cb |= k == 2;
	}
	return cmd ? AHV_PCICFG_COMMAND : cb ? AHV_PCICFG_CAP : AHV_PCICFG_PASS;
}

static void every_offset(void)
{
	static const uint16_t caps[] = {0x40, 0x44, 0x64, 0xe8, 0xfc, 0x100, 0xfe8};
	static const uint32_t widths[] = {1, 2, 4};
	for (unsigned c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		struct ahv_pcicfg_fn f = {0, 0x0010, caps[c]};
		unsigned refused = 0;
		for (uint32_t off = 0; off < 4096; off++)
			for (unsigned w = 0; w < 3; w++) {
				enum ahv_pcicfg_why got = ahv_pcicfg_fn_write(&f, off, widths[w]);
				enum ahv_pcicfg_why want = expect(off, widths[w], caps[c]);
				CHECK(got == want, "cap %x: write of %u at %x: %d, want %d", caps[c], widths[w], off, got,
				      want);
				refused += got != AHV_PCICFG_PASS;
			}
		/* Command 2 bytes (w1: 2, w2: 3, w4: 5), the block 24 (w1: 24,
		 * w2: 25, w4: 27), the last 1 and 3 offsets past the end (w2,
		 * w4) unless the block ends there and counted them already. */
		unsigned past = caps[c] + 24u >= 4096u ? 0 : 1 + 3;
		CHECK(refused == 2 + 3 + 5 + 24 + 25 + 27 + past, "cap %x: %u writes refused", caps[c], refused);
	}
	/* The straddles, by name: a dword over Status and Command, a word
	 * over Cache Line/Command edges, the block's first and last byte. */
	struct ahv_pcicfg_fn f = {0, 0x0010, 0x40};
	CHECK(ahv_pcicfg_fn_write(&f, 3, 2) == AHV_PCICFG_COMMAND, "word at 3 reaches Command");
	CHECK(ahv_pcicfg_fn_write(&f, 5, 4) == AHV_PCICFG_COMMAND, "dword at 5 reaches Command's high byte");
	CHECK(ahv_pcicfg_fn_write(&f, 6, 2) == AHV_PCICFG_PASS, "Status is not guarded");
	CHECK(ahv_pcicfg_fn_write(&f, 2, 2) == AHV_PCICFG_PASS, "Device ID is not guarded");
	CHECK(ahv_pcicfg_fn_write(&f, 0x3e, 4) == AHV_PCICFG_CAP, "dword at 3E reaches the block's header");
	CHECK(ahv_pcicfg_fn_write(&f, 0x3c, 4) == AHV_PCICFG_PASS, "the dword before the block");
	CHECK(ahv_pcicfg_fn_write(&f, 0x57, 1) == AHV_PCICFG_CAP, "the block's last byte");
	CHECK(ahv_pcicfg_fn_write(&f, 0x57, 4) == AHV_PCICFG_CAP, "a dword from the block's last byte");
	CHECK(ahv_pcicfg_fn_write(&f, 0x58, 4) == AHV_PCICFG_PASS, "the dword after the block");
	CHECK(ahv_pcicfg_fn_write(&f, 0x44, 4) == AHV_PCICFG_CAP, "Base Address Low");
	CHECK(ahv_pcicfg_fn_write(&f, 0x48, 4) == AHV_PCICFG_CAP, "Base Address High");
	CHECK(ahv_pcicfg_fn_write(&f, 0xffe, 4) == AHV_PCICFG_OUTSIDE, "a dword past the 4 KiB");
	CHECK(ahv_pcicfg_fn_write(&f, 0xffc, 4) == AHV_PCICFG_PASS, "the last dword");
}

/* Mechanism #1: the bytes an OUT of width at port puts on CFCh-CFFh,
 * checked as the standard and the extended offset. */
static enum ahv_pcicfg_why expect_cf8(const struct ahv_pcicfg_fn *f, uint32_t cf8, uint32_t port, uint32_t width)
{
	if (!(cf8 & 0x80000000u) || !f || ((cf8 >> 8) & 0xffff) != f->bdf)
		return AHV_PCICFG_PASS;
	int cmd = 0, cb = 0;
	for (uint32_t p = port; p < port + width; p++) {
		if (p < 0xcfc || p > 0xcff)
			continue;
		uint32_t std = (cf8 & 0xfc) + p - 0xcfc, ext = std + (((cf8 >> 24) & 0xf) << 8);
		int a = byte_kind(std, f->cap), b = byte_kind(ext, f->cap);
		cmd |= a == 1 || b == 1;
		cb |= a == 2 || b == 2;
	}
	return cmd ? AHV_PCICFG_COMMAND : cb ? AHV_PCICFG_CAP : AHV_PCICFG_PASS;
}

static void every_cf8(void)
{
	const struct ahv_pcicfg_fn fns[2] = {{0, 0x0010, 0x40}, {0, 0x0300, 0x100}};
	/* the guarded functions, their neighbours (devfn +-1, bus +1), bus 0 dev 0 */
	static const uint32_t bdfs[] = {0x0010, 0x0011, 0x000f, 0x0110, 0x0300, 0x0301, 0x0000};
	static const uint32_t ext[] = {0, 1, 0xf};
	static const uint32_t widths[] = {1, 2, 4};
	unsigned refused = 0, total = 0;
	for (unsigned b = 0; b < sizeof(bdfs) / sizeof(bdfs[0]); b++)
		for (unsigned en = 0; en < 2; en++)
			for (unsigned x = 0; x < 3; x++)
				for (uint32_t reg = 0; reg < 256; reg += 4)
					for (uint32_t port = 0xcf5; port <= 0xcff; port++)
						for (unsigned w = 0; w < 3; w++) {
							uint32_t cf8 = (en ? 0x80000000u : 0) | ext[x] << 24 |
								       bdfs[b] << 8 | reg;
							const struct ahv_pcicfg_fn *hit = (const void *)1;
							uint32_t off = 0;
							enum ahv_pcicfg_why got =
								ahv_pcicfg_cf8_write(fns, 2, cf8, port, widths[w], &off, &hit);
							const struct ahv_pcicfg_fn *f =
								ahv_pcicfg_find(fns, 2, 0, bdfs[b]);
							enum ahv_pcicfg_why want = expect_cf8(f, cf8, port, widths[w]);
							CHECK(got == want, "cf8 %x port %x width %u: %d, want %d", cf8,
							      port, widths[w], got, want);
							CHECK((got == AHV_PCICFG_PASS) == (hit == NULL),
							      "cf8 %x port %x width %u: function %p", cf8, port,
							      widths[w], (const void *)hit);
							if (got != AHV_PCICFG_PASS)
								CHECK(hit == f && (off & 0xff) >= (reg & 0xfc) &&
									      (off & 0xff) < reg + 4,
								      "cf8 %x port %x: offset %x", cf8, port, off);
							refused += got != AHV_PCICFG_PASS;
							total++;
						}
	CHECK(refused > 0 && refused < total, "%u of %u refused", refused, total);
	/* By name: QEMU's 00:02.0 with its block at 40h. */
	const struct ahv_pcicfg_fn *hit;
	uint32_t off;
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x80001044u, 0xcfc, 4, &off, &hit) == AHV_PCICFG_CAP && off == 0x44,
	      "Base Address Low through CFC");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x80001004u, 0xcfc, 2, &off, &hit) == AHV_PCICFG_COMMAND,
	      "Command through CFC");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x80001004u, 0xcfe, 2, &off, &hit) == AHV_PCICFG_PASS, "Status through CFE");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x80001004u, 0xcfa, 4, &off, &hit) == AHV_PCICFG_COMMAND,
	      "a dword at CFA puts Command's bytes on CFC/CFD");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x80001004u, 0xcf8, 4, &off, &hit) == AHV_PCICFG_PASS,
	      "the address latch itself");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x00001044u, 0xcfc, 4, &off, &hit) == AHV_PCICFG_PASS,
	      "latch not enabled: no configuration cycle");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x81001000u, 0xcfc, 4, &off, &hit) == AHV_PCICFG_PASS,
	      "extended offset 100h of 00:02.0 is free");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x81030000u, 0xcfc, 4, &off, &hit) == AHV_PCICFG_CAP && off == 0x100,
	      "extended offset 100h of 03:00.0 is its block");
	CHECK(ahv_pcicfg_cf8_write(fns, 2, 0x80030000u, 0xcfc, 4, &off, &hit) == AHV_PCICFG_PASS,
	      "offset 0 of 03:00.0 without the extension");
}

static void mcfg(void)
{
	uint8_t t[44 + 2 * 16];
	memset(t, 0, sizeof(t));
	memcpy(t, "MCFG", 4);
	uint32_t len = sizeof(t);
	memcpy(t + 4, &len, 4);
	uint64_t b0 = 0xB0000000ull, b1 = 0x3000000000ull;
	memcpy(t + 44, &b0, 8);
	t[44 + 10] = 0, t[44 + 11] = 0xff;
	memcpy(t + 60, &b1, 8);
	t[60 + 8] = 1; /* segment 1 */
	t[60 + 10] = 0x40, t[60 + 11] = 0x7f;
	struct ahv_ecam e0, e1, e2;
	CHECK(!ahv_mcfg_entry(t, sizeof(t), 0, &e0) && e0.base == b0 && e0.segment == 0 && e0.end_bus == 0xff,
	      "entry 0");
	CHECK(!ahv_mcfg_entry(t, sizeof(t), 1, &e1) && e1.base == b1 && e1.segment == 1 && e1.start_bus == 0x40,
	      "entry 1");
	CHECK(ahv_mcfg_entry(t, sizeof(t), 2, &e2) == -1, "no entry 2");
	CHECK(ahv_ecam_page(&e0, 0, 0x0010) == 0xB0010000ull, "00:02.0 at B0010000");
	CHECK(ahv_ecam_page(&e0, 0, 0x0a3f) == 0xB0A3F000ull, "0a:07.7");
	CHECK(ahv_ecam_page(&e0, 1, 0x0010) == 0, "other segment");
	CHECK(ahv_ecam_page(&e1, 1, 0x4108) == b1 + (1ull << 20) + (8u << 12), "bus 41 from start bus 40");
	CHECK(ahv_ecam_page(&e1, 1, 0x3f08) == 0 && ahv_ecam_page(&e1, 1, 0x8008) == 0, "buses outside");
	e2 = e0;
	e2.base |= 0x800;
	CHECK(ahv_ecam_page(&e2, 0, 0x0010) == 0, "unaligned base");
	/* Hostile lengths: every buffer cut, a Length past the buffer or
	 * below the header, a wrong signature. */
	for (size_t n = 0; n < sizeof(t); n++)
		CHECK(ahv_mcfg_entry(t, n, 0, &e2) == -1 || n >= 44 + 16, "cut at %zu", n);
	len = 43;
	memcpy(t + 4, &len, 4);
	CHECK(ahv_mcfg_entry(t, sizeof(t), 0, &e2) == -1, "Length below the header");
	len = 1000;
	memcpy(t + 4, &len, 4);
	CHECK(ahv_mcfg_entry(t, sizeof(t), 0, &e2) == -1, "Length past the buffer");
	len = 44 + 16 + 15;
	memcpy(t + 4, &len, 4);
	CHECK(!ahv_mcfg_entry(t, sizeof(t), 0, &e2) && ahv_mcfg_entry(t, sizeof(t), 1, &e2) == -1,
	      "a partial entry is not one");
	t[0] = 'X';
	CHECK(ahv_mcfg_entry(t, sizeof(t), 0, &e2) == -1, "signature");
}

int main(void)
{
	every_offset();
	every_cf8();
	mcfg();
	printf("pcicfg_guard_test: %d of %d checks failed\n", fails, count);
	return fails != 0;
}
