/*
 * ahv/x86/mem.h - the hypervisor's memory: one pool of runtime-services pages
 * the loader allocated (identity-mapped: host virtual = host physical), handed
 * out page by page, never freed; and 4-level x86-64 page tables built in it.
 */
#ifndef AHV_X86_MEM_H
#define AHV_X86_MEM_H

#include <stdbool.h>
#include <stdint.h>

#define AHV_PAGE_SIZE 4096ull
#define AHV_2M (1ull << 21)
#define AHV_1G (1ull << 30)

struct ahv_pool {
	uint64_t base, size, used;
};

/* n zeroed pages, 4 KiB aligned; 0 when the pool is exhausted. */
uint64_t ahv_pool_pages(struct ahv_pool *p, uint64_t n);
static inline void *ahv_pool_ptr(struct ahv_pool *p, uint64_t n)
{
	return (void *)(uintptr_t)ahv_pool_pages(p, n);
}

/* Long-mode paging-structure entry bits, shared by host tables and AMD NPT
 * (APM Vol. 2 §5.3.3 "4-Kbyte Page Translation", Figures 5-18..5-21; NPT uses
 * the same format, §15.25.5 "Nested Table Walk"). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7) /* large page in PDPE (1 GiB) / PDE (2 MiB) */
#define PTE_NX (1ull << 63)
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ull

/* A table format: the bits set in non-leaf and leaf entries, and the largest
 * leaf level the CPU advertises (3: 1 GiB, 2: 2 MiB, 1: 4 KiB only). One
 * builder serves the host tables, AMD NPT and Intel EPT: an EPT entry is
 * "present" when its read bit (bit 0, like P) is set and a large leaf has
 * bit 7 set (like PS) (SDM Vol. 3C §29.3.2 Tables 29-1..29-6), so only the
 * bit values differ. leaf_attr, when set, gives extra leaf bits for a
 * naturally aligned [base, base + size) (EPT memory type, §29.3.7), or
 * AHV_PT_MIXED when the range needs smaller leaves. */
#define AHV_PT_MIXED (~0ull)
struct ahv_pt {
	uint64_t root;      /* PA of the PML4 */
	uint64_t table_bits;
	uint64_t leaf_bits;
	int max_leaf_level; /* 1, 2 or 3 */
	struct ahv_pool *pool;
	uint64_t (*leaf_attr)(uint64_t base, uint64_t size);
	/* AMD-Vi I/O page tables (AMD IOMMU spec 48882 §2.2.3): a non-leaf
	 * entry at level L names the level below, L - 1, in its Next Level
	 * field at bit next_level_shift (9: bits 11:9); 0 for the formats
	 * without one. absent: the value ahv_pt_unmap stores (P clear). */
	int next_level_shift;
	uint64_t absent;
};

/* Identity-map [0, top) (top a multiple of 4 KiB). 0 or -1 (pool empty). */
int ahv_pt_identity(struct ahv_pt *pt, uint64_t top);
/* Remove [start, end) (4 KiB aligned), splitting large pages. 0 or -1. */
int ahv_pt_unmap(struct ahv_pt *pt, uint64_t start, uint64_t end);
/* Identity-map [start, end) with 4 KiB pages (splitting as needed). */
int ahv_pt_map4k(struct ahv_pt *pt, uint64_t start, uint64_t end);
/* Map the 4 KiB page at pa with 4 KiB leaves and clear clear_bits in its
 * leaf (e.g. PTE_RW: a write-protected page). 0 or -1. */
int ahv_pt_protect4k(struct ahv_pt *pt, uint64_t pa, uint64_t clear_bits);
/* The 4 KiB leaf entry of the mapped page at pa, the large leaf above it
 * split (same bits in each of the 512 new leaves); NULL when pa is not
 * mapped or the pool is empty. */
uint64_t *ahv_pt_leaf4k(struct ahv_pt *pt, uint64_t pa);
/* Leaf entry for va, its level (1..3) in *level; 0 when not mapped. */
uint64_t ahv_pt_lookup(const struct ahv_pt *pt, uint64_t va, int *level);

#endif
