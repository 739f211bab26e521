/*
 * msr_bitmap.c - the MSR intercept bitmaps of both vendors (AMD MSRPM,
 * Intel MSR bitmaps: struct ahv_msr_bitmap_layout) from the one policy
 * table, msr_policy.c: everything exits but what the policy lets pass.
 */
#include <string.h>
#include "ahv/x86/exits.h"
#include "ahv/x86/msr_policy.h"

/* Set an MSR's intercept bits to read/write (1 exit, 0 pass). */
static void set_bits(uint8_t *bm, const struct ahv_msr_bitmap_layout *l, uint32_t msr, int read, int write)
{
	static const uint32_t range_base[3] = {0, 0xC0000000u, 0xC0010000u};
	for (unsigned r = 0; r < 3; r++) {
		if (l->range_off[r] == ~0u || msr < range_base[r] || msr - range_base[r] > 0x1FFF)
			continue;
		uint64_t bit = (uint64_t)l->range_off[r] * 8 + (uint64_t)(msr - range_base[r]) * l->stride;
		bm[bit / 8] = (uint8_t)((bm[bit / 8] & ~(1u << (bit % 8))) | (unsigned)!!read << (bit % 8));
		bit += l->write_bit;
		bm[bit / 8] = (uint8_t)((bm[bit / 8] & ~(1u << (bit % 8))) | (unsigned)!!write << (bit % 8));
		return;
	}
}

void ahv_msr_bitmap_init(uint8_t *bm, size_t size, const struct ahv_msr_bitmap_layout *l, uint32_t backend, int smp)
{
	/* Everything exits (an MSR outside the bitmap's ranges always does);
	 * then each MSR the policy's rows name is set as its class says (the
	 * first matching row wins, so each MSR is classified, not each row). */
	uint32_t first, last;
	memset(bm, 0xff, size);
	for (unsigned i = 0; ahv_msr_row(i, &first, &last); i++)
		for (uint32_t m = first; m <= last; m++) {
			enum ahv_msr_class c = ahv_msr_class(m, backend, smp);
			if (c == AHV_MSR_PASS)
				set_bits(bm, l, m, 0, 0);
			else if (c == AHV_MSR_WRITE_EXIT)
				set_bits(bm, l, m, 0, 1);
		}
}
