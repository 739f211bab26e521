/*
 * fetch_test.c - ahv_guest_fetch (the instruction fetch the xAPIC write
 * emulation decodes) on the simulated machine, whose host-physical
 * addresses are NOT host-virtual ones: every byte must come through the
 * platform's map_hpa, after the walker's checks. Expected bytes come from
 * the sim's model, never from the tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static struct sim *mk(uint32_t nested_format)
{
	struct sim_cfg cfg = { .nested_format = nested_format, .nested_page = SIM_4K, .cpl0 = true };
	struct sim *s = sim_new(&cfg);

	assert_non_null(s);
	return s;
}

/* The caller state of the sim, as a back end's exit_state fills it. */
static struct ahv_vcpu_exit state(const struct sim *s)
{
	return (struct ahv_vcpu_exit){ .cr0 = s->cr0, .cr3 = s->gpt.root, .cr4 = s->cr4,
				       .efer = s->efer, .cs_l = s->cs_l, .cpl = s->cpl };
}

/* A platform map_hpa that refuses one frame and counts what it is asked
 * for, in front of the sim's own. */
static void *(*sim_map_hpa)(void *, uint64_t, uint64_t);
static uint64_t refused_frame, data_frame, data_maps;

static void *picky_map_hpa(void *ctx, uint64_t hpa, uint64_t len)
{
	if ((hpa & ~(SIM_4K - 1)) == data_frame)
		data_maps++;
	if ((hpa & ~(SIM_4K - 1)) == refused_frame)
		return NULL;
	return sim_map_hpa(ctx, hpa, len);
}

static void use_picky(struct sim *s)
{
	sim_map_hpa = s->plat.map_hpa;
	s->plat.map_hpa = picky_map_hpa;
	refused_frame = data_frame = ~0ull;
	data_maps = 0;
}

/* Host-physical frame behind a guest-virtual address, by the model. */
static uint64_t frame_of(struct sim *s, uint64_t gva)
{
	uint64_t gpa, hpa;

	assert_true(sim_model_xlate(&s->gpt, gva, &gpa));
	assert_true(sim_model_xlate(&s->npt, gpa, &hpa));
	return hpa & ~(SIM_4K - 1);
}

/* 15 bytes (the longest x86 instruction) across a page boundary, in 64-bit
 * mode, EPT and NPT: the model's bytes, each page read through map_hpa. */
static void t_fetch_across_pages(void **st)
{
	(void)st;
	for (int f = 0; f < 2; f++) {
		struct sim *s = mk(f ? AHV_NESTED_NPT : AHV_NESTED_EPT);
		uint64_t va = sim_alloc_gva(s, 2 * SIM_4K, 0, SIM_RW) + SIM_4K - 7;
		uint8_t code[15], want[15], got[15];
		struct ahv_vcpu_exit x = state(s);

		for (unsigned i = 0; i < sizeof(code); i++)
			code[i] = (uint8_t)(0x90 + 11 * i + f);
		assert_true(sim_write(s, AHV_SPACE_GVA, va, code, sizeof(code)));
		assert_true(sim_read(s, AHV_SPACE_GVA, va, want, sizeof(want)));
		use_picky(s);
		data_frame = frame_of(s, va + 7);
		memset(got, 0, sizeof(got));
		assert_int_equal(ahv_guest_fetch(&s->core, &x, va, got, sizeof(got)), sizeof(got));
		assert_memory_equal(got, want, sizeof(got));
		assert_true(data_maps >= 1); /* the second page came through map_hpa */

		/* A platform that cannot map the second page: the fetch stops
		 * at the boundary (7 bytes), it never reads the frame itself. */
		refused_frame = data_frame;
		memset(got, 0, sizeof(got));
		assert_int_equal(ahv_guest_fetch(&s->core, &x, va, got, sizeof(got)), 7);
		assert_memory_equal(got, want, 7);
		sim_delete(s);
	}
}

/* Paging off: va is a guest-physical address (real mode after SIPI). */
static void t_fetch_no_paging(void **st)
{
	(void)st;
	struct sim *s = mk(AHV_NESTED_EPT);
	uint64_t gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K) + 0x40;
	uint8_t code[6] = { 0x89, 0x0d, 0x00, 0x03, 0xe0, 0xfe }, got[6] = { 0 };
	struct ahv_vcpu_exit x = state(s);

	assert_true(sim_write(s, AHV_SPACE_GPA, gpa, code, sizeof(code)));
	x.cr0 = 0x10; /* ET only: PE = PG = 0 */
	x.efer = 0;
	x.cs_l = false;
	assert_int_equal(ahv_guest_fetch(&s->core, &x, gpa, got, sizeof(got)), sizeof(got));
	assert_memory_equal(got, code, sizeof(code));
	sim_delete(s);
}

/* What the walker refuses is never read: an unmapped page, a page whose
 * nested entry points at hypervisor memory, and legacy (non-long-mode)
 * paging, which the fetch does not walk. */
static void t_fetch_refused(void **st)
{
	(void)st;
	struct sim *s = mk(AHV_NESTED_EPT);
	uint64_t va = sim_alloc_gva(s, SIM_4K, 0, SIM_RW);
	uint8_t got[15];
	struct ahv_vcpu_exit x = state(s);
	uint64_t gpa;

	/* the page after va is not mapped: only up to the boundary */
	assert_int_equal(ahv_guest_fetch(&s->core, &x, va + SIM_4K - 3, got, sizeof(got)), 3);

	/* the nested leaf moved onto a hypervisor frame (not one of the
	 * nested tables): nothing copied, map_hpa never asked for it */
	assert_true(sim_model_xlate(&s->gpt, va, &gpa));
	uint64_t *ne = sim_entry(s, &s->npt, gpa, 1);
	assert_non_null(ne);
	uint64_t keep = *ne;
	uint64_t secret = sim_alloc_hv(s);
	use_picky(s);
	data_frame = secret;
	*ne = (keep & ~0x000ffffffffff000ull) | secret;
	assert_int_equal(ahv_guest_fetch(&s->core, &x, va, got, sizeof(got)), 0);
	assert_int_equal(data_maps, 0);
	*ne = keep;
	assert_int_equal(ahv_guest_fetch(&s->core, &x, va, got, sizeof(got)), sizeof(got));

	/* paging on without long mode (32-bit or PAE): not walked */
	x.efer &= ~(1ull << 10); /* EFER.LMA */
	assert_int_equal(ahv_guest_fetch(&s->core, &x, va, got, sizeof(got)), 0);
	sim_delete(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_fetch_across_pages),
		cmocka_unit_test(t_fetch_no_paging),
		cmocka_unit_test(t_fetch_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
