/*
 * pt.c - page pool and 4-level identity page tables: ONE builder for the
 * host tables and AMD NPT (the long-mode format: APM Vol. 2 §5.3, §15.25)
 * and Intel EPT (SDM Vol. 3C §29.3.2); struct ahv_pt carries the format.
 */
#include "ahv/x86/mem.h"
#include <string.h>

uint64_t ahv_pool_pages(struct ahv_pool *p, uint64_t n)
{
	uint64_t bytes = n * AHV_PAGE_SIZE;
	/* Application processors allocate their per-CPU state concurrently
	 * (smp = on, docs/smp.md). */
	static uint32_t lock;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause" ::: "memory");
	if (n == 0 || bytes / AHV_PAGE_SIZE != n || p->used > p->size ||
	    bytes > p->size - p->used) {
		__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
		return 0;
	}
	uint64_t pa = p->base + p->used;
	p->used += bytes;
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	memset((void *)(uintptr_t)pa, 0, bytes);
	return pa;
}

static inline uint64_t *tab(uint64_t pa) { return (uint64_t *)(uintptr_t)pa; }
static inline unsigned idx(uint64_t va, int level) { return (va >> (12 + 9 * (level - 1))) & 511; }
static inline uint64_t level_size(int level) { return 1ull << (12 + 9 * (level - 1)); }
/* Bits of a non-leaf entry at `level` pointing at the table below. */
static inline uint64_t table_entry_bits(const struct ahv_pt *pt, int level)
{
	return pt->table_bits | (pt->next_level_shift ? (uint64_t)(level - 1) << pt->next_level_shift : 0);
}

/* Entry at `level` (4 = PML4E .. 1 = PTE) for va, creating tables down to it. */
static uint64_t *walk_create(struct ahv_pt *pt, uint64_t va, int level)
{
	uint64_t *t = tab(pt->root);
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[idx(va, l)];
		if (!(*e & PTE_P)) {
			uint64_t n = ahv_pool_pages(pt->pool, 1);
			if (!n)
				return 0;
			*e = n | table_entry_bits(pt, l);
		} else if (*e & PTE_PS) {
			/* Split a large page into 512 of the next size down. */
			uint64_t n = ahv_pool_pages(pt->pool, 1);
			if (!n)
				return 0;
			uint64_t base = *e & PTE_ADDR_MASK & ~(level_size(l) - 1);
			uint64_t bits = (*e & ~PTE_ADDR_MASK) & ~(l - 1 == 1 ? PTE_PS : 0);
			for (int i = 0; i < 512; i++)
				tab(n)[i] = (base + i * level_size(l - 1)) | bits;
			*e = n | table_entry_bits(pt, l);
		}
		t = tab(*e & PTE_ADDR_MASK);
	}
	return &t[idx(va, level)];
}

static uint64_t attr(const struct ahv_pt *pt, uint64_t base, uint64_t size)
{
	return pt->leaf_attr ? pt->leaf_attr(base, size) : 0;
}

int ahv_pt_identity(struct ahv_pt *pt, uint64_t top)
{
	if (!pt->root && !(pt->root = ahv_pool_pages(pt->pool, 1)))
		return -1;
	for (uint64_t a = 0; a < top;) {
		int level = pt->max_leaf_level;
		uint64_t extra;
		while (level > 1 && ((a & (level_size(level) - 1)) || top - a < level_size(level) ||
				     attr(pt, a, level_size(level)) == AHV_PT_MIXED))
			level--;
		extra = attr(pt, a, level_size(level));
		if (extra == AHV_PT_MIXED)
			extra = 0; /* a 4 KiB page has one type: callbacks never say so */
		uint64_t *e = walk_create(pt, a, level);
		if (!e)
			return -1;
		*e = a | pt->leaf_bits | extra | (level > 1 ? PTE_PS : 0);
		a += level_size(level);
	}
	return 0;
}

/* Every 4 KiB leaf of [start, end): the format's absent entry, or an
 * identity leaf with the memory type of its frame (map). */
static int set_4k(struct ahv_pt *pt, uint64_t start, uint64_t end, int map)
{
	for (uint64_t a = start & ~(AHV_PAGE_SIZE - 1); a < end; a += AHV_PAGE_SIZE) {
		uint64_t *e = walk_create(pt, a, 1);
		if (!e)
			return -1;
		uint64_t extra = map ? attr(pt, a, AHV_PAGE_SIZE) : 0;
		*e = map ? a | pt->leaf_bits | (extra == AHV_PT_MIXED ? 0 : extra) : pt->absent;
	}
	return 0;
}

int ahv_pt_unmap(struct ahv_pt *pt, uint64_t start, uint64_t end) { return set_4k(pt, start, end, 0); }

int ahv_pt_map4k(struct ahv_pt *pt, uint64_t start, uint64_t end) { return set_4k(pt, start, end, 1); }

uint64_t ahv_pt_lookup(const struct ahv_pt *pt, uint64_t va, int *level)
{
	uint64_t *t = tab(pt->root);
	for (int l = 4; l >= 1; l--) {
		uint64_t e = t[idx(va, l)];
		if (!(e & PTE_P))
			return 0;
		if (l == 1 || (l <= 3 && (e & PTE_PS))) {
			if (level)
				*level = l;
			return e;
		}
		t = tab(e & PTE_ADDR_MASK);
	}
	return 0;
}

uint64_t *ahv_pt_leaf4k(struct ahv_pt *pt, uint64_t pa)
{
	if (!ahv_pt_lookup(pt, pa, 0))
		return 0;
	return walk_create(pt, pa & ~(AHV_PAGE_SIZE - 1), 1);
}

int ahv_pt_protect4k(struct ahv_pt *pt, uint64_t pa, uint64_t clear_bits)
{
	if (ahv_pt_map4k(pt, pa, pa + AHV_PAGE_SIZE))
		return -1;
	uint64_t *e = walk_create(pt, pa & ~(AHV_PAGE_SIZE - 1), 1);
	if (!e)
		return -1;
	*e &= ~clear_bits;
	return 0;
}
