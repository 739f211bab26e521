/*
 * walk_test.c - the walker alone, over hand-written entries in a flat
 * "physical memory" of 64 tables: each format's reserved-bit rules, the
 * large-page capabilities, the permission ANDs, the input-width checks.
 * Entry values are written out by hand (not by the sim's builder) so the
 * bits are visible in the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ahv/platform.h"
#include "walk.h"

#define T(n) ((uint64_t)(n) * 4096) /* physical address of table n */
static uint64_t mem[64][512];

static uint32_t rd(void *arg, uint64_t table, unsigned index, uint64_t *e)
{
	(void)arg;
	if (table % 4096 || table / 4096 >= 64)
		return AHV_E_NOT_RAM;
	*e = mem[table / 4096][index];
	return AHV_OK;
}

static enum ahv_walk_res walk(const struct ahv_pt_fmt *f, uint64_t va,
			      unsigned acc, struct ahv_walk_out *o)
{
	return ahv_walk(f, T(1), va, acc, rd, NULL, o);
}

static const struct ahv_pt_fmt x86 = { .kind = AHV_PT_X86, .levels = 4,
	.page_1g = true, .nxe = true, .phys_bits = 46 };
static const struct ahv_pt_fmt ept = { .kind = AHV_PT_EPT, .levels = 4,
	.page_1g = true, .physical = true, .phys_bits = 46 };

/* va 0x40201000 -> PML4[0] PDPT[1] PD[1] PT[1] */
#define VA 0x40201123ull

static void x86_chain(uint64_t flags)
{
	memset(mem, 0, sizeof(mem));
	mem[1][0] = T(2) | flags;
	mem[2][1] = T(3) | flags;
	mem[3][1] = T(4) | flags;
	mem[4][1] = T(40) | flags;
}

static void t_x86_basic(void **st)
{
	struct ahv_walk_out o;

	(void)st;
	x86_chain(7);
	assert_int_equal(walk(&x86, VA, AHV_ACC_USER | AHV_ACC_WRITE, &o), AHV_WALK_OK);
	assert_int_equal(o.pa, T(40) + 0x123);
	assert_int_equal(o.span, 4096 - 0x123);
	assert_int_equal(o.level, 1);
	/* U/S and R/W are ANDs over the levels */
	mem[2][1] &= ~4ull;
	assert_int_equal(walk(&x86, VA, AHV_ACC_USER, &o), AHV_WALK_NOT_USER);
	assert_int_equal(walk(&x86, VA, AHV_ACC_WRITE, &o), AHV_WALK_OK);
	mem[3][1] &= ~2ull;
	assert_int_equal(walk(&x86, VA, AHV_ACC_WRITE, &o), AHV_WALK_NOT_WRITABLE);
	assert_int_equal(walk(&x86, VA, 0, &o), AHV_WALK_OK);
	/* reserved bits win over permissions (found during the walk) */
	mem[4][1] |= 1ull << 50;
	assert_int_equal(walk(&x86, VA, AHV_ACC_USER, &o), AHV_WALK_RSVD);
	assert_int_equal(o.level, 1);
	/* not present at level 3 */
	mem[3][1] = 0;
	mem[2][1] = 6; /* P = 0 with other bits set */
	assert_int_equal(walk(&x86, VA, 0, &o), AHV_WALK_NOT_PRESENT);
	assert_int_equal(o.level, 3);
	/* non-canonical input */
	assert_int_equal(walk(&x86, 0x0000800000000000ull, 0, &o), AHV_WALK_ADDR);
	/* table reader failure is passed through */
	x86_chain(7);
	mem[3][1] = (63ull * 4096 + 4096 * 8) | 7;
	assert_int_equal(walk(&x86, VA, 0, &o), AHV_WALK_TABLE);
	assert_int_equal(o.table_status, AHV_E_NOT_RAM);
}

static void t_x86_large(void **st)
{
	struct ahv_pt_fmt f = x86;
	struct ahv_walk_out o;

	(void)st;
	x86_chain(7);
	mem[3][1] = (1ull << 30) | (1ull << 21) | 0x87; /* 2M leaf, GPA 1G+2M */
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	assert_int_equal(o.pa, (1ull << 30) + (1ull << 21) + 0x1123);
	assert_int_equal(o.span, (1ull << 21) - 0x1123);
	assert_int_equal(o.level, 2);
	mem[3][1] |= 1ull << 12; /* PAT bit: fine */
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	mem[3][1] |= 1ull << 20; /* bits 20:13 reserved */
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	/* 1G leaf */
	mem[2][1] = (3ull << 30) | 0x87;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	assert_int_equal(o.pa, (3ull << 30) + (VA & ((1ull << 30) - 1)));
	mem[2][1] |= 1ull << 29;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	mem[2][1] &= ~(1ull << 29);
	f.page_1g = false;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	/* PS in PML4E; AMD: PML4E bit 8 MBZ, Intel: ignored */
	f = x86;
	mem[1][0] |= 0x100;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	f.amd = true;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	mem[1][0] &= ~0x100ull;
	mem[1][0] |= 0x80;
	assert_int_equal(walk(&x86, VA, 0, &o), AHV_WALK_RSVD);
	/* NX: reserved unless EFER.NXE */
	x86_chain(7);
	mem[4][1] |= 1ull << 63;
	assert_int_equal(walk(&x86, VA, 0, &o), AHV_WALK_OK);
	f = x86;
	f.nxe = false;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
}

static void t_five_level(void **st)
{
	struct ahv_pt_fmt f = x86;
	struct ahv_walk_out o;
	uint64_t va = (5ull << 48) | VA;

	(void)st;
	f.levels = 5;
	memset(mem, 0, sizeof(mem));
	mem[1][5] = T(5) | 7;
	mem[5][0] = T(2) | 7;
	mem[2][1] = T(3) | 7;
	mem[3][1] = T(4) | 7;
	mem[4][1] = T(41) | 7;
	assert_int_equal(walk(&f, va, 0, &o), AHV_WALK_OK);
	assert_int_equal(o.pa, T(41) + 0x123);
	/* canonical for 57 bits: bit 56 sign-extends */
	assert_int_equal(walk(&f, 0x0100000000000000ull, 0, &o), AHV_WALK_ADDR);
	assert_int_equal(walk(&f, 0xff00000000000000ull, 0, &o), AHV_WALK_NOT_PRESENT);
	mem[1][5] |= 0x80; /* PS in a PML5E */
	assert_int_equal(walk(&f, va, 0, &o), AHV_WALK_RSVD);
}

static void ept_chain(uint64_t rwx)
{
	memset(mem, 0, sizeof(mem));
	mem[1][0] = T(2) | rwx;
	mem[2][1] = T(3) | rwx;
	mem[3][1] = T(4) | rwx;
	mem[4][1] = T(40) | rwx | (6 << 3); /* WB */
}

static void t_ept(void **st)
{
	struct ahv_pt_fmt f = ept;
	struct ahv_walk_out o;

	(void)st;
	ept_chain(7);
	assert_int_equal(walk(&f, VA, AHV_ACC_WRITE, &o), AHV_WALK_OK);
	assert_int_equal(o.pa, T(40) + 0x123);
	/* U/S means nothing in EPT */
	assert_int_equal(walk(&f, VA, AHV_ACC_USER, &o), AHV_WALK_OK);
	/* read-only at one level: reads fine, writes not */
	mem[2][1] &= ~2ull;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	assert_int_equal(walk(&f, VA, AHV_ACC_WRITE, &o), AHV_WALK_NOT_WRITABLE);
	/* execute-only leaf: present but not readable */
	ept_chain(7);
	mem[4][1] = T(40) | 4 | (6 << 3);
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_NOT_READABLE);
	/* write-only: misconfiguration */
	mem[4][1] = T(40) | 2 | (6 << 3);
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	/* memory types 2, 3, 7 reserved; 0, 1, 4, 5, 6 fine */
	for (uint64_t mt = 0; mt < 8; mt++) {
		mem[4][1] = T(40) | 7 | (mt << 3);
		assert_int_equal(walk(&f, VA, 0, &o),
				 (mt == 2 || mt == 3 || mt == 7) ? AHV_WALK_RSVD : AHV_WALK_OK);
	}
	/* PML4E bits 7:3 reserved; non-leaf PDE bits 6:3 reserved */
	ept_chain(7);
	mem[1][0] |= 1 << 5;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	ept_chain(7);
	mem[3][1] |= 1 << 4;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	/* not present: bits 2:0 = 0 even with other bits set */
	ept_chain(7);
	mem[3][1] = T(4) | (6 << 3);
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_NOT_PRESENT);
	/* 2M leaf: bits 20:12 reserved (no PAT bit in EPT) */
	ept_chain(7);
	mem[3][1] = (1ull << 21) | 0x80 | 7 | (6 << 3);
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	mem[3][1] |= 1ull << 12;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	/* 1G leaf only with the capability */
	mem[2][1] = (1ull << 30) | 0x80 | 7 | (6 << 3);
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_OK);
	assert_int_equal(o.level, 3);
	f.page_1g = false;
	assert_int_equal(walk(&f, VA, 0, &o), AHV_WALK_RSVD);
	/* physical input beyond 48 bits */
	assert_int_equal(walk(&ept, 1ull << 48, 0, &o), AHV_WALK_ADDR);
	/* above MAXPHYADDR */
	ept_chain(7);
	mem[4][1] |= 1ull << 47;
	assert_int_equal(walk(&ept, VA, 0, &o), AHV_WALK_RSVD);
}

/* A self-referencing table must not loop: the walk is bounded by levels. */
static void t_self_reference(void **st)
{
	struct ahv_walk_out o;

	(void)st;
	memset(mem, 0, sizeof(mem));
	for (int i = 0; i < 512; i++)
		mem[1][i] = T(1) | 7;
	assert_int_equal(walk(&x86, VA, 0, &o), AHV_WALK_OK);
	assert_int_equal(o.pa, T(1) + 0x123);
	struct ahv_pt_fmt bad = x86;
	bad.levels = 9;
	assert_int_equal(walk(&bad, VA, 0, &o), AHV_WALK_ADDR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_x86_basic),
		cmocka_unit_test(t_x86_large),
		cmocka_unit_test(t_five_level),
		cmocka_unit_test(t_ept),
		cmocka_unit_test(t_self_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
