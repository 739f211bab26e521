/*
 * engine.h - internals of the core shared by its files (not for back ends:
 * they see only ahv/platform.h). Tests and fuzzers include it to reach the
 * pieces directly.
 */
#ifndef AHV_CORE_ENGINE_H
#define AHV_CORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ahv/platform.h"
#include "walk.h"

/* Control-register bits of the caller's paging mode: "64-bit mode with
 * 4/5-level paging" (SDM Vol. 3A §2.5, §4.1.1 Table 4-1, §9.8.5; APM Vol. 2
 * §14.6.1), NX (SDM Vol. 3A §2.2.1; APM §3.1.7). */
#define CR0_PG (UINT64_C(1) << 31)
#define CR4_PAE (UINT64_C(1) << 5)
#define CR4_LA57 (UINT64_C(1) << 12)
#define EFER_LMA (UINT64_C(1) << 10)
#define EFER_NXE (UINT64_C(1) << 11)
/* Protection keys: CR4.PKE (SDM Vol. 3A §2.5; APM Vol. 2 §3.1.3) and the
 * two PKRU bits of key i, AD at bit 2i and WD at bit 2i + 1 (SDM Vol. 3A
 * §4.6.2; APM Vol. 2 §5.6.7). */
#define CR4_PKE (UINT64_C(1) << 22)
#define PKRU_AD 1u
#define PKRU_WD 2u
/* Accessed (every level) and Dirty (leaf) flags of x86 paging entries
 * (SDM Vol. 3A §4.8, Tables 4-14..4-20; APM Vol. 2 §5.4.2). */
#define PTE_A (UINT64_C(1) << 5)
#define PTE_D (UINT64_C(1) << 6)

/* A failure as the caller will see it: RAX, RCX, RDX (protocol.md §3.1). */
struct ahv_fail {
	uint32_t status; /* enum ahv_status */
	uint32_t obj;    /* region index or AHV_OBJ_* */
	uint64_t addr;   /* RCX */
};

static inline uint32_t ahv_fail_set(struct ahv_fail *f, uint32_t status,
				    uint32_t obj, uint64_t addr)
{
	f->status = status;
	f->obj = obj;
	f->addr = addr;
	return status;
}

/* One hypercall in progress: the caller's view of memory. */
struct ahv_call {
	struct ahv_core *core;
	const struct ahv_platform *plat;
	const struct ahv_vcpu_exit *x;
	struct ahv_pt_fmt gfmt; /* caller's paging (x86 format) */
	struct ahv_pt_fmt nfmt; /* nested paging (EPT or NPT) */
	uint64_t groot;         /* caller's CR3 table address */
	uint8_t cpl;            /* 0 or 3 */
	bool fetch;             /* instruction fetches (ahv_guest_fetch):
				   protection keys do not apply to them
				   (SDM Vol. 3A §4.6.2) */
	uint64_t t0;            /* monotonic_ns at entry */
	/* How the back end holds the guest's memory still while it is
	 * measured; NULL: nothing else runs (one vCPU, or the host tests). */
	const struct ahv_quiesce *quiesce;
	/* Translation caches, valid for this call only (emptied by
	 * ahv_call_setup): like the CPU's TLBs and paging-structure caches
	 * (SDM Vol. 3A §4.10) they spare a full guest walk plus five nested
	 * walks per 4 KiB page of a large region. Tags are (address >> 21) + 1
	 * so that 0 means empty. */
	struct {
		uint64_t tag;   /* 2 MiB block of guest-physical space */
		uint64_t hpa;   /* where that block starts */
		bool clean;     /* all of it RAM and no hypervisor memory */
	} ncache[8];            /* nested read translations, by block */
	struct {
		uint64_t tag;   /* 2 MiB block of the caller's GVA space */
		uint64_t table; /* its page table (GPA) */
		uint8_t perm;   /* AHV_PERM_* granted above it */
	} gcache;               /* guest PML4E..PDE results */
	/* A watched-regions request (watch.c): enum ahv_watch_op, the watch
	 * it started or checks, and WATCH_END. */
	uint32_t watch_op;
	bool watch_end;
	struct watch *watch;
	struct {                /* this caller's tables while a CHECK walks */
		uint64_t groot; /* the START caller's (ahv_watch_tables) */
		struct ahv_pt_fmt gfmt;
		uint8_t cpl;
	} watch_saved;
};

/* Largest run handed to map_hpa / ahv_hash_update at once; also how often
 * (at least) the time limit is checked while hashing. */
#define AHV_RUN_MAX (UINT64_C(4) << 20)
#define AHV_PAGE_SIZE UINT64_C(4096)

/* ---- memmap.c: the RAM map and hypervisor ranges ------------------------- */
/* Is [hpa, hpa + *len) RAM and not hypervisor memory? AHV_OK with *len
 * clipped to the longest good prefix (>= 1 byte, ends on a range edge or at
 * the original length), or AHV_E_NOT_RAM / AHV_E_HV_MEMORY for hpa itself. */
uint32_t ahv_frame_check(const struct ahv_platform *p, uint64_t hpa,
			 uint64_t *len);
/* Is [hpa, hpa + len) inside one hypervisor range? */
bool ahv_in_hv_mem(const struct ahv_platform *p, uint64_t hpa, uint64_t len);
/* Sorted, non-overlapping, 4 KiB aligned, non-wrapping, non-empty? */
bool ahv_ranges_valid(const struct ahv_phys_range *r, uint32_t n);

/* ---- xlate.c: caller addresses to host-physical runs ---------------------- */
void ahv_call_setup(struct ahv_call *c, struct ahv_core *core,
		    const struct ahv_vcpu_exit *x);
/* Forget the translation caches (the guest may have changed its tables
 * since they were filled). */
void ahv_call_flush(struct ahv_call *c);
/* Host-physical addresses of the caller's paging-structure entries that map
 * one page, root first, leaf last: where a write sets the Accessed flags and
 * the leaf's Dirty flag (SDM Vol. 3A §4.8). */
struct ahv_pt_marks {
	uint32_t n;
	uint64_t hpa[5];
};
/* Translate `addr` in `space` (AHV_SPACE_GVA through the caller's tables at
 * its CPL, AHV_SPACE_GPA through the nested tables only) for a read, or a
 * write if `write`. On AHV_OK: *hpa, and *len reduced to the bytes (>= 1)
 * that continue contiguously in host-physical RAM from *hpa within one
 * leaf mapping of each level. Otherwise the wire status (the failing
 * address is `addr`). *len must be > 0 on entry. With `marks` (GVA only):
 * a full walk, and the entries' host-physical addresses in *marks, each
 * checked like a write to guest memory (nested write permission, RAM, not
 * hypervisor memory). */
uint32_t ahv_xlate(struct ahv_call *c, uint32_t space, uint64_t addr,
		   bool write, uint64_t *hpa, uint64_t *len,
		   struct ahv_pt_marks *marks);
/* Just the guest step: GVA -> GPA through the caller's tables (c->groot,
 * c->gfmt) for a read at c->cpl. */
uint32_t ahv_xlate_gva_gpa(struct ahv_call *c, uint64_t gva, uint64_t *gpa);
/* Just the nested step: GPA -> HPA (+ bytes to the end of the leaf). */
uint32_t ahv_xlate_gpa(struct ahv_call *c, uint64_t gpa, bool write,
		       uint64_t *hpa, uint64_t *span);
/* RANGE_WRAP, then NONCANONICAL (GVA only, for the caller's paging mode)
 * for [addr, addr + size) (protocol.md §4.3 rules 1-2); AHV_OK if fine.
 * A zero-size range passes. */
uint32_t ahv_range_check(const struct ahv_call *c, uint32_t space,
			 uint64_t addr, uint64_t size);

/* ---- buffer.c: the request and output buffers (protocol.md §4.4) -------- */
/* Host-physical pieces of an output buffer, resolved before anything is
 * written (at most 3 pages: 6176 bytes). */
struct ahv_out_buf {
	uint32_t n;
	struct {
		uint64_t hpa;
		uint64_t len;
		struct ahv_pt_marks marks; /* A/D flags to set for its page */
	} piece[3];
};
uint32_t ahv_buf_copy_in(struct ahv_call *c, uint64_t gva, uint64_t len,
			 uint8_t *dst, struct ahv_fail *f);
uint32_t ahv_buf_resolve_out(struct ahv_call *c, uint64_t gva, uint64_t len,
			     struct ahv_out_buf *ob, struct ahv_fail *f);
/* Write `src` (the length given to resolve) into the resolved pieces, after
 * setting the Accessed and Dirty flags of their guest paging entries as the
 * CPU's own write would (protocol.md §4.4); false (nothing written) if the
 * platform cannot map one of them. */
bool ahv_buf_write_out(struct ahv_call *c, const struct ahv_out_buf *ob,
		       const uint8_t *src);

/* ---- request.c: parsing, validation, authentication -------------------- */
/* Steps 6 of protocol.md §5.2 on the copied request of `len` bytes. */
uint32_t ahv_request_parse(const struct ahv_core *core, const uint8_t *req,
			   uint64_t len, struct ahv_fail *f);
/* Step 8: key lookup, curve, signature. */
#ifdef AHV_FUZZ_NO_ECDSA
extern bool ahv_fuzz_no_ecdsa; /* fuzz builds only: request.c */
#endif
uint32_t ahv_request_authenticate(const struct ahv_core *core,
				  const uint8_t *req, struct ahv_fail *f);
/* Step 9: per-region range, byte-limit and privilege checks. */
uint32_t ahv_request_check_regions(const struct ahv_call *c,
				   const uint8_t *req, struct ahv_fail *f);

/* ---- measure.c: hashing regions straight from host-physical frames ----- */
/* Digest of region `index` (`hash_size` bytes into out). */
uint32_t ahv_measure_region(struct ahv_call *c, uint32_t alg, uint32_t index,
			    uint32_t space, uint64_t addr, uint64_t size,
			    uint8_t *out, struct ahv_fail *f);
/* Composite digest (protocol.md §7.3) of a report being built. */
int ahv_composite_digest(const uint8_t *report, uint8_t *out);

/* ---- attest.c / info.c: the two functions ------------------------------ *
 * A handler returns the status; on failure *f says RCX/RDX; *rbx is RBX for
 * AHV_OK and AHV_E_BUFFER_TOO_SMALL. */
typedef uint32_t (*ahv_hc_handler)(struct ahv_call *c,
				   const struct ahv_hc_regs *in,
				   struct ahv_fail *f, uint64_t *rbx);
uint32_t ahv_hc_attest(struct ahv_call *c, const struct ahv_hc_regs *in,
		       struct ahv_fail *f, uint64_t *rbx);
uint32_t ahv_hc_get_info(struct ahv_call *c, const struct ahv_hc_regs *in,
			 struct ahv_fail *f, uint64_t *rbx);
/* The info block as GET_INFO would write it now. */
void ahv_info_build(const struct ahv_core *core, struct ahv_hv_info *info);
/* Timestamp and flags a report made now would carry. */
uint64_t ahv_timestamp_ns(const struct ahv_platform *p, uint32_t *flags);

#endif
