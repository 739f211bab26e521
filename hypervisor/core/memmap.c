/*
 * memmap.c - the two physical-range lists the engine judges frames by: RAM
 * (the UEFI memory map at hypervisor start, protocol.md §4.3 rule 6) and
 * hypervisor memory (rule 7). Both sorted, so lookups are binary searches:
 * the UEFI map of a large machine has hundreds of entries and the engine
 * asks once per contiguous run.
 */
#include "engine.h"

/* Index of the last range with base <= a, or -1. */
static int64_t find(const struct ahv_phys_range *r, uint32_t n, uint64_t a)
{
	int64_t lo = 0, hi = (int64_t)n - 1, best = -1;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (r[mid].base <= a) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

static bool contains(const struct ahv_phys_range *r, uint64_t a)
{
	return a - r->base < r->size;
}

uint32_t ahv_frame_check(const struct ahv_platform *p, uint64_t hpa,
			 uint64_t *len)
{
	int64_t i = find(p->ram, p->ram_count, hpa);
	uint64_t room;

	if (i < 0 || !contains(&p->ram[i], hpa))
		return AHV_E_NOT_RAM;
	room = p->ram[i].base + p->ram[i].size - hpa;
	if (*len > room)
		*len = room;

	i = find(p->hv_mem, p->hv_mem_count, hpa);
	if (i >= 0 && contains(&p->hv_mem[i], hpa))
		return AHV_E_HV_MEMORY;
	/* Stop the run where the next hypervisor range begins. */
	if ((uint64_t)(i + 1) < p->hv_mem_count) {
		room = p->hv_mem[i + 1].base - hpa;
		if (*len > room)
			*len = room;
	}
	return AHV_OK;
}

bool ahv_in_hv_mem(const struct ahv_platform *p, uint64_t hpa, uint64_t len)
{
	int64_t i = find(p->hv_mem, p->hv_mem_count, hpa);

	return i >= 0 && contains(&p->hv_mem[i], hpa) &&
	       len <= p->hv_mem[i].base + p->hv_mem[i].size - hpa;
}

bool ahv_ranges_valid(const struct ahv_phys_range *r, uint32_t n)
{
	if (n && !r)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (r[i].size == 0 || ((r[i].base | r[i].size) & (AHV_PAGE_SIZE - 1)))
			return false;
		if (r[i].base + r[i].size < r[i].base) /* wraps */
			return false;
		if (i && r[i].base < r[i - 1].base + r[i - 1].size)
			return false;
	}
	return true;
}
