/*
 * walk.h - the one page-table walker, parameterized by format.
 *
 * Two entry formats cover every table the engine reads:
 *   AHV_PT_X86 - x86-64 long-mode paging, 4- or 5-level (SDM Vol. 3A §4.5
 *                "4-Level Paging and 5-Level Paging"; APM Vol. 2 §5.3
 *                "Long-Mode Page Translation"). The guest's own tables use
 *                it, and so does AMD NPT (APM Vol. 2 §15.25.5: nested
 *                entries are standard long-mode entries; nested walks are
 *                user accesses, so the NPT caller always asks for USER).
 *   AHV_PT_EPT - Intel EPT (SDM Vol. 3C §28.2.2 "EPT Translation
 *                Mechanism", Tables 28-1..28-6 in the 2016-2020 editions).
 *
 * The walker knows nothing about where tables live: it asks a callback for
 * each 8-byte entry, so the guest walk can route its table reads through the
 * nested walk and the RAM checks, and the nested walk can read the
 * hypervisor's own tables directly.
 */
#ifndef AHV_CORE_WALK_H
#define AHV_CORE_WALK_H

#include <stdbool.h>
#include <stdint.h>

enum ahv_pt_kind {
	AHV_PT_X86 = 0,
	AHV_PT_EPT = 1,
};

struct ahv_pt_fmt {
	uint8_t kind;      /* enum ahv_pt_kind */
	uint8_t levels;    /* 4 or 5 */
	bool page_1g;      /* PS=1 allowed in level-3 entries */
	bool nxe;          /* X86: bit 63 is XD/NX (else reserved) */
	bool amd;          /* X86: AMD reserved-bit set (PML4E/PML5E bit 8) */
	bool physical;     /* input is a physical address (bits above the walk
			      width must be 0) rather than a canonical VA */
	uint8_t phys_bits; /* MAXPHYADDR */
};

/* Access being checked. */
#define AHV_ACC_WRITE (1u << 0) /* R/W (X86) or W (EPT) at every level */
#define AHV_ACC_USER (1u << 1)  /* X86: U/S=1 at every level */

/* Outcome of a walk, finer than the wire statuses (xlate.c maps them). */
enum ahv_walk_res {
	AHV_WALK_OK = 0,
	AHV_WALK_NOT_PRESENT, /* X86 P=0; EPT bits 2:0 = 0 (EPT violation) */
	AHV_WALK_RSVD,        /* reserved bit set (X86 #PF RSVD; EPT
				 misconfiguration, SDM §28.2.3.1) */
	AHV_WALK_NOT_USER,    /* USER asked, U/S=0 at some level */
	AHV_WALK_NOT_WRITABLE,/* WRITE asked, R/W (W) = 0 at some level */
	AHV_WALK_NOT_READABLE,/* EPT: R=0 at some level (violation) */
	AHV_WALK_ADDR,        /* input outside the walk's address width */
	AHV_WALK_TABLE,       /* the entry reader failed: see table_status */
};

/* Read entry `index` (0..511) of the table at physical address `table`.
 * Returns 0 (AHV_OK) and the entry, or a wire status explaining why the
 * table could not be read. */
typedef uint32_t (*ahv_pt_read_fn)(void *arg, uint64_t table, unsigned index,
				   uint64_t *entry);

/* Permission bits ANDed over the levels walked (AHV_PERM_*). */
#define AHV_PERM_USER (1u << 0)
#define AHV_PERM_WRITE (1u << 1)
#define AHV_PERM_READ (1u << 2)
#define AHV_PERM_ALL (AHV_PERM_USER | AHV_PERM_WRITE | AHV_PERM_READ)

struct ahv_walk_out {
	uint64_t pa;     /* translated address of the input */
	uint64_t span;   /* bytes from pa to the end of the leaf mapping */
	uint8_t level;   /* level of the leaf (1: 4 KiB, 2: 2 MiB, 3: 1 GiB)
			    or of the failing entry */
	uint32_t table_status; /* AHV_WALK_TABLE: the reader's status */
	/* When the walk reached level 1: the page table's address and the
	 * permissions of the levels above it, so a caller may cache them like
	 * the CPU's paging-structure caches do (SDM Vol. 3A §4.10.3) and
	 * resume with ahv_walk_from() for the other pages of that 2 MiB. */
	bool l1_valid;
	uint8_t l1_perm;
	uint64_t l1_table;
	/* X86 format, AHV_WALK_OK: the leaf's protection key, bits 62:59
	 * (SDM Vol. 3A §4.6.2 and Tables 4-18..4-20; APM Vol. 2 §5.6.7),
	 * meaningful only when the caller's CR4.PKE = 1. */
	uint8_t pkey;
	/* Physical address (in the walk's input space for its tables) of
	 * every entry read, in walk order: the start level's first, the leaf
	 * last. For a caller that sets Accessed/Dirty flags (SDM Vol. 3A
	 * §4.8). */
	uint8_t n_path;
	uint64_t path[5];
};

enum ahv_walk_res ahv_walk(const struct ahv_pt_fmt *f, uint64_t root,
			   uint64_t va, unsigned acc, ahv_pt_read_fn rd,
			   void *arg, struct ahv_walk_out *out);
/* The same walk started at `level` with the table at `table`, the levels
 * above having granted `perm` (AHV_PERM_*). */
enum ahv_walk_res ahv_walk_from(const struct ahv_pt_fmt *f, uint64_t table,
				unsigned level, unsigned perm, uint64_t va,
				unsigned acc, ahv_pt_read_fn rd, void *arg,
				struct ahv_walk_out *out);

/* Bits 51:12 of a root/table pointer (physical-address field). */
#define AHV_PT_ADDR_MASK UINT64_C(0x000ffffffffff000)

#endif
