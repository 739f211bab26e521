/*
 * sim.h - a simulated machine for the engine: host-physical memory in one
 * mmap'd buffer, guest page tables and EPT or NPT built in it by ONE table
 * builder, the platform callbacks, a controllable clock, keys, and helpers
 * to build, sign and issue requests.
 *
 * Host-physical layout (none of it identity: GPA != HPA on purpose):
 *   [4 GiB, 4 GiB + 8 MiB)        hypervisor memory (RAM, listed in hv_mem):
 *                                 nested tables, a "secret" page
 *   [4 GiB + 8 MiB, 5 GiB)        a hole: inside the buffer but NOT RAM
 *   [5 GiB, 5 GiB + guest_ram)    guest RAM; by default GPA g -> HPA 5G + g
 *
 * The sim also keeps a *model* of every mapping it builds (plain lists of
 * va -> pa ranges). Tests compute expected bytes through the model, never
 * through the tables, so the engine's walker is checked against something
 * independent of it.
 */
#ifndef AHV_TEST_SIM_H
#define AHV_TEST_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ahv/crypto.h"
#include "ahv/platform.h"
#include "attest/wire.h"

#define SIM_HPA_BASE (UINT64_C(4) << 30)
#define SIM_HV_SIZE (UINT64_C(8) << 20)
#define SIM_GUEST_HPA (UINT64_C(5) << 30)
#define SIM_HOLE_HPA (SIM_HPA_BASE + SIM_HV_SIZE + (UINT64_C(1) << 20))
#define SIM_MMIO_HPA UINT64_C(0xfee00000) /* local APIC: outside the buffer */

#define SIM_4K (UINT64_C(1) << 12)
#define SIM_2M (UINT64_C(1) << 21)
#define SIM_1G (UINT64_C(1) << 30)

/* Abstract permissions for the builder (translated per format). */
#define SIM_RD (1u << 0) /* x86: P; EPT: R */
#define SIM_WR (1u << 1) /* x86: R/W; EPT: W */
#define SIM_US (1u << 2) /* x86: U/S; EPT: none */
#define SIM_EX (1u << 3) /* EPT: X; x86: none (no NX set) */
#define SIM_RW (SIM_RD | SIM_WR)
#define SIM_URW (SIM_RD | SIM_WR | SIM_US)
#define SIM_ALL (SIM_RD | SIM_WR | SIM_US | SIM_EX)

enum sim_space { SIM_SPACE_GPA, SIM_SPACE_HPA };

/* One set of page tables plus its model. */
struct sim_pt {
	uint8_t kind;       /* AHV_PT_X86 / AHV_PT_EPT (walk.h) */
	uint8_t levels;     /* 4 or 5 */
	uint8_t table_space; /* where its tables live: enum sim_space */
	uint64_t root;      /* physical address of the top table */
	struct sim_map {
		uint64_t va, pa, size;
	} *map;
	size_t nmap, capmap;
};

struct sim_cfg {
	uint64_t guest_ram;      /* bytes, multiple of 2 MiB (default 32 MiB) */
	uint32_t nested_format;  /* AHV_NESTED_EPT (default) / _NPT */
	uint8_t nested_levels;   /* 4 (default) or 5 */
	uint8_t guest_levels;    /* 4 (default) or 5 */
	uint64_t nested_page;    /* page size of the default GPA map (2M) */
	bool no_1g;              /* CPU without 1 GiB pages (guest and nested) */
	bool cpl0;               /* caller at CPL0 instead of CPL3 */
	bool no_key;             /* hypervisor without a signing key */
	uint32_t hv_curve;       /* AHV_CURVE_P256 (default) or P384 */
	uint32_t policy;         /* default GPA_REGIONS | CPL3 */
	uint32_t plat_flags;     /* default TIME_VALID */
	size_t watch_mem;        /* pool share for watches (default 256 KiB) */
	bool no_watch;           /* platform without the watch hook */
};

struct sim {
	struct sim_cfg cfg;
	uint8_t *mem;
	uint64_t mem_size;
	struct ahv_phys_range ram[2], hv[1];
	struct ahv_platform plat;
	struct ahv_core core;
	struct sim_pt gpt, npt;
	uint64_t hv_next;   /* next free hypervisor frame (HPA) */
	uint64_t gpa_next;  /* next free guest frame (GPA) */
	uint64_t gva_next;  /* next free address for sim_alloc_gva */
	/* clock: each monotonic_ns call returns now += step; after
	 * `jump_after` calls (if nonzero) it jumps by jump_ns once. */
	uint64_t now, step, calls, jump_after, jump_ns;
	/* map_hpa calls so far; `hook` (if set) runs at each, before the
	 * mapping is returned (tests use it to change guest memory while the
	 * engine works, like another vCPU would). */
	uint64_t map_calls;
	void (*hook)(struct sim *s, uint64_t hpa, uint64_t len);
	uint64_t seed;            /* sim_entropy state */
	ahv_drbg drbg;
	ahv_ec_key hv_key;
	ahv_ec_key guest_key[2];  /* [0] P-256, [1] P-384, enrolled */
	ahv_ec_key stranger_key;  /* P-256, NOT enrolled */
	struct ahv_guest_key enrolled[2];
	/* caller state the next sim_call uses */
	uint8_t cpl;
	uint64_t cr3_flags;       /* extra CR3 bits (PCID) */
	uint64_t efer, cr0, cr4;
	uint32_t pkru;            /* the caller's PKRU (with cr4 PKE) */
	bool cs_l;
	/* the stop hooks sim_call hands the core (NULL: none, as one vCPU) */
	const struct ahv_quiesce *quiesce;
	/* watched regions: the pool share, and the watch_protect hook's
	 * counts; protect fails (as with no table page left) once
	 * `protect_budget` protects were done, when it is nonzero */
	void *watch_mem;
	uint64_t protects, unprotects, protect_budget;
};

/* Set up a machine (cfg may be NULL for defaults). 0 on success. */
int sim_init(struct sim *s, const struct sim_cfg *cfg);
void sim_free(struct sim *s);
/* The same on the heap: NULL if it could not be set up; sim_delete frees. */
struct sim *sim_new(const struct sim_cfg *cfg);
void sim_delete(struct sim *s);

/* Pointer into the buffer for host-physical hpa (NULL outside). */
void *sim_hpa_ptr(struct sim *s, uint64_t hpa);

/* THE builder: map [va, va + size) -> [pa, pa + size) in pt with leaves of
 * `page` bytes (4K/2M/1G; va, pa, size aligned to it) and permissions
 * `perm` (SIM_*); intermediate entries get every permission. Creates
 * tables as needed; refuses (-1) to replace an existing leaf or to split a
 * large page. Records the mapping in the model. */
int sim_map(struct sim *s, struct sim_pt *pt, uint64_t va, uint64_t pa,
	    uint64_t size, uint64_t page, unsigned perm);
/* The entry at `level` (1..levels) on the way to va, or NULL if the walk
 * does not get there (for tests that poke bits). */
uint64_t *sim_entry(struct sim *s, struct sim_pt *pt, uint64_t va,
		    unsigned level);
/* Model translation (the mapping lists, not the tables). */
bool sim_model_xlate(const struct sim_pt *pt, uint64_t va, uint64_t *pa);

/* A fresh zeroed guest frame (GPA), default-mapped in the nested tables. */
uint64_t sim_alloc_gpa(struct sim *s, uint64_t size, uint64_t align);
/* A fresh zeroed hypervisor frame (HPA). */
uint64_t sim_alloc_hv(struct sim *s);
/* Map `size` bytes of fresh guest frames at a fresh GVA (4 KiB pages,
 * `perm`), at `offset` into the first page. Returns the GVA. */
uint64_t sim_alloc_gva(struct sim *s, uint64_t size, uint64_t offset,
		       unsigned perm);

/* Copy through the MODEL (GVA -> GPA -> HPA); false if any byte is not
 * mapped. */
bool sim_read(struct sim *s, uint32_t space, uint64_t addr, void *out,
	      uint64_t len);
bool sim_write(struct sim *s, uint32_t space, uint64_t addr, const void *in,
	       uint64_t len);

/* Requests. */
struct sim_region {
	uint64_t address, size;
	uint32_t space, flags;
	const uint8_t *claim; /* NULL: no claim */
};
/* Build a request (AHV_REQUEST_SIZE(n) bytes into buf) signed by `key`. */
size_t sim_request(uint8_t *buf, uint32_t hash_alg, const uint8_t *nonce,
		   uint32_t nonce_len, const struct sim_region *r, uint32_t n,
		   const ahv_ec_key *key, ahv_drbg *drbg);
/* Re-sign a request in place (after a test changed a field). */
int sim_resign(uint8_t *buf, const ahv_ec_key *key, ahv_drbg *drbg);

/* Issue a hypercall as the current caller. */
struct ahv_hc_regs sim_call(struct sim *s, uint64_t rax, uint64_t rbx,
			    uint64_t rcx, uint64_t rdx, uint64_t rsi);
/* Place `req` at a fresh GVA (at `offset` into its first page), allocate a
 * report buffer, call ATTEST. The report (if OK) is copied to `report`. */
struct ahv_hc_regs sim_attest(struct sim *s, const uint8_t *req, size_t len,
			      uint64_t offset, uint8_t *report);

/* Watched regions (docs/watch.md). The nested leaf that maps guest-physical
 * gpa (split to 4 KiB by the watch hook, or as built), or NULL. */
uint64_t *sim_nested_leaf(struct sim *s, uint64_t gpa, unsigned *level);
/* May the guest write the frame at gpa (nested W / R/W at the leaf)? */
bool sim_nested_writable(struct sim *s, uint64_t gpa);
/* A vCPU's write of len bytes at addr, as the CPU does it: each page whose
 * nested leaf refuses the write exits to ahv_watch_write_fault (with `rip`
 * and `apic_id`), and the write goes on once the frame is writable again.
 * Returns the number of such exits, or -1 if one was not a watch fault
 * (nothing written from that page on). */
int sim_vcpu_write(struct sim *s, uint32_t space, uint64_t addr,
		   const void *in, uint64_t len, uint64_t rip, uint32_t apic_id);

/* Deterministic entropy for the DRBG (tests must not depend on RDRAND). */
int sim_entropy(void *arg, uint8_t *out, size_t len);

#endif
