/*
 * ahv/platform.h - THE interface between the arch-neutral core
 * (hypervisor/core) and whoever runs it: the VT-x and SVM back ends and the
 * UEFI loader in the real hypervisor, a simulated machine in the host tests.
 *
 * Two objects:
 *   struct ahv_platform  - one per machine, filled once (designated
 *                          initializers) before the guest runs, read-only
 *                          afterwards: memory access, the RAM map, the
 *                          nested-paging root and format, time, keys,
 *                          identity and measurements.
 *   struct ahv_vcpu_exit - one per hypercall exit: the caller's registers
 *                          (in and out), its control registers and CPL.
 *
 * A back end does, on every VMCALL/VMMCALL exit:
 *
 *     struct ahv_vcpu_exit x = {
 *             .regs = { .rax = ..., .rbx = ..., .rcx = ..., .rdx = ..., .rsi = ... },
 *             .cr0 = ..., .cr3 = ..., .cr4 = ..., .efer = ...,
 *             .cs_l = ..., .cpl = ..., .apic_id = ..., .pkru = ...,
 *     };
 *     ahv_hypercall(&core, &x);
 *     // copy x.regs.rax/rbx/rcx/rdx back to the guest (RSI is unchanged),
 *     // advance RIP past the 3-byte instruction.
 *
 * and on CPUID exits for leaves 0x40000000..0x400000FF it calls
 * ahv_core_cpuid(). The core never touches the guest's RIP, never injects
 * anything, and never reads guest memory except through ->map_hpa after its
 * own checks.
 *
 * Only <stdint.h>, <stddef.h>, <stdbool.h>, the crypto API and the wire
 * header: the same header compiles in the freestanding and hosted worlds.
 */
#ifndef AHV_PLATFORM_H
#define AHV_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ahv/crypto.h"
#include "attest/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A physical address range [base, base + size), 4 KiB aligned at both ends. */
struct ahv_phys_range {
	uint64_t base;
	uint64_t size;
};

/* Nested paging formats (the one walker in core/walk.c knows both). */
enum ahv_nested_format {
	/* Intel EPT (SDM Vol. 3C §28.2 "The Extended Page Table Mechanism"). */
	AHV_NESTED_EPT = 1,
	/* AMD NPT: standard long-mode entries, walked as user accesses
	 * (APM Vol. 2 §15.25.5 "Nested Table Walk"). */
	AHV_NESTED_NPT = 2,
};

struct ahv_nested {
	uint32_t format; /* enum ahv_nested_format */
	/* EPT: EPTP bits 5:3 + 1 (SDM Vol. 3C §24.6.11 "Extended-Page-Table
	 * Pointer (EPTP)"); NPT: the host paging mode at VMRUN, 5 if host
	 * CR4.LA57 (APM Vol. 2 §15.25.3). 4 or 5. */
	uint8_t levels;
	/* 1 GiB leaves allowed. EPT: IA32_VMX_EPT_VPID_CAP bit 17 (SDM
	 * Vol. 3D Appendix A.10); NPT: CPUID Fn8000_0001 EDX[26] Page1GB. When
	 * false, PS=1 in a PDPTE is reserved (EPT misconfiguration / NPT #PF
	 * with RSV). */
	bool page_1g;
	/* NPT only: host EFER.NXE at VMRUN (bit 63 reserved when clear,
	 * APM Vol. 2 §5.3.3). Ignored for EPT. */
	bool nxe;
	/* EPT: host-physical address of the EPT PML4/PML5 table (EPTP bits
	 * 51:12). NPT: N_CR3 (VMCB offset 0xB0) bits 51:12. */
	uint64_t root;
};

/* An enrolled guest key (configuration on the ESP, measured at boot).
 * Fill with ahv_guest_key_enroll() so that key_id matches pub. */
struct ahv_guest_key {
	uint8_t key_id[AHV_KEY_ID_SIZE]; /* SHA-256 of the SPKI DER */
	ahv_ec_pub pub;
};

/* struct ahv_platform.flags */
#define AHV_PLAT_DEV_KEY (1u << 0)   /* sign_key not unsealed from a TPM */
#define AHV_PLAT_DEBUG (1u << 1)     /* debug build / options on */
#define AHV_PLAT_TIME_VALID (1u << 2) /* rtc_boot_ns holds the RTC at boot */
#define AHV_PLAT_DMA_UNPROTECTED (1u << 3) /* no IOMMU taken (docs/iommu.md) */
/* struct ahv_platform.policy */
#define AHV_POLICY_GPA_REGIONS (1u << 0) /* accept AHV_SPACE_GPA (CPL0) */
#define AHV_POLICY_CPL3 (1u << 1)        /* serve CPL3 callers */

struct ahv_platform {
	void *ctx; /* handed back to every callback */

	/* ---- physical memory -------------------------------------------------
	 * Pointer through which the hypervisor reads/writes host-physical
	 * [hpa, hpa + len), or NULL if it has no mapping for all of it. The
	 * core asks only for ranges it has already checked against the RAM
	 * map and the hypervisor ranges (plus nested paging structures), with
	 * len <= 4 MiB. In the real hypervisor host virtual == host physical,
	 * so this returns (void *)hpa; the core does not assume that. */
	void *(*map_hpa)(void *ctx, uint64_t hpa, uint64_t len);
	/* RAM as UEFI reported it at hypervisor start (protocol.md §4.3 rule 6),
	 * sorted by base, non-overlapping. */
	const struct ahv_phys_range *ram;
	uint32_t ram_count;
	/* Memory the hypervisor owns (image, stacks, pool, nested tables):
	 * never measured, never written (rule 7). Sorted, non-overlapping.
	 * The EPT/NPT paging structures MUST lie inside these ranges: the
	 * core reads a nested table only there (a table pointer elsewhere is
	 * a corrupted EPT/NPT and gives AHV_E_NESTED_FAULT). */
	const struct ahv_phys_range *hv_mem;
	uint32_t hv_mem_count;
	/* MAXPHYADDR, CPUID 0x80000008 EAX[7:0] (SDM Vol. 3A §4.1.4; APM
	 * Vol. 3 Fn8000_0008). Bits 51:MAXPHYADDR of paging entries are
	 * reserved. 36..52. */
	uint8_t phys_addr_bits;
	/* The CPU supports 1 GiB guest pages: CPUID 0x80000001 EDX[26]
	 * (SDM Vol. 3A §4.1.4; APM Vol. 3 Fn8000_0001). */
	bool guest_page_1g;

	/* ---- the guest's nested paging -------------------------------------- */
	struct ahv_nested nested;

	/* ---- time -------------------------------------------------------------
	 * Nanoseconds since hypervisor start from the host TSC (CPUID 0x15/0x16
	 * or calibrated), never decreasing; guest TSC writes must not affect
	 * it. Drives the per-request time limit and the timestamp. */
	uint64_t (*monotonic_ns)(void *ctx);
	/* UTC ns since 1970 read from the RTC at start, valid when flags has
	 * AHV_PLAT_TIME_VALID (protocol.md §9.1). */
	uint64_t rtc_boot_ns;

	/* ---- keys ------------------------------------------------------------ */
	/* Hypervisor signing key; NULL: no key (AHV_E_NO_KEY, GET_INFO only). */
	const ahv_ec_key *sign_key;
	/* DRBG for ECDSA nonces/blinding; used only under the engine lock. */
	ahv_drbg *drbg;
	const struct ahv_guest_key *guest_keys;
	uint32_t guest_key_count;

	/* ---- identity and policy -------------------------------------------- */
	uint32_t backend;    /* AHV_BACKEND_VMX / AHV_BACKEND_SVM */
	/* CPUs under the hypervisor, read at each GET_INFO (smp = on: grows
	 * while the APs start); NULL: 1. */
	const uint32_t *vcpu_count;
	uint32_t hv_version; /* AHV_HV_VERSION(major, minor, patch) */
	uint32_t flags;      /* AHV_PLAT_* */
	uint32_t policy;     /* AHV_POLICY_* */
	uint8_t boot_id[AHV_BOOT_ID_SIZE];
	uint8_t build_id[AHV_BUILD_ID_SIZE];
	uint8_t hv_image_digest[AHV_MEASUREMENT_SIZE];
	uint8_t hv_config_digest[AHV_MEASUREMENT_SIZE];

	/* ---- watched regions (docs/watch.md); either NULL: no watches ------
	 * The pool share the watches may use (the core keeps its watch table
	 * and per-page entries there; AHV_WATCH_MEM_MIN bytes at least), and
	 * the one nested-table hook: take away (protect) or give back write
	 * permission for the 4 KiB guest-physical frame at gpa, for every
	 * vCPU. Protect is called only while no other vCPU runs guest code
	 * (the quiesce stop, or one vCPU): it may split a large leaf and
	 * must make every vCPU flush its nested translations before it next
	 * runs the guest; 0, or -1 when no table page is left (nothing
	 * changed). Unprotect may be called on any CPU at any time; another
	 * vCPU that still holds the read-only translation takes one more
	 * write fault, which the back end retries (the leaf is writable). */
	void *watch_mem;
	size_t watch_mem_size;
	int (*watch_protect)(void *ctx, uint64_t gpa, bool protect);
};

/* Smallest watch pool share: the watch table (< 64 KiB, asserted in
 * core/watch.c) and at least 4096 page entries of 16 bytes. */
#define AHV_WATCH_MEM_MIN ((size_t)128 << 10)

/* The five argument/result registers of the hypercall ABI (protocol.md
 * §3.1). In: as the guest left them. Out: what the back end writes back
 * (RSI is never changed). */
struct ahv_hc_regs {
	uint64_t rax, rbx, rcx, rdx, rsi;
};

/* Caller state at the hypercall exit (VMCS guest-state area / VMCB
 * state-save area). */
struct ahv_vcpu_exit {
	struct ahv_hc_regs regs;
	uint64_t cr0;  /* CR0.PG (bit 31) */
	uint64_t cr3;  /* guest CR3: bits 51:12 root; PCID / flags ignored */
	uint64_t cr4;  /* CR4.PAE (bit 5), CR4.LA57 (bit 12) */
	uint64_t efer; /* IA32_EFER.LMA (bit 10), NXE (bit 11) */
	bool cs_l;     /* CS.L: 64-bit code segment */
	uint8_t cpl;   /* VMX: SS.DPL (SDM Vol. 3C §24.4.1); SVM: VMCB CPL */
	uint32_t apic_id; /* initial APIC id of this CPU */
	/* The guest's PKRU when cr4 has PKE (bit 22), else 0: neither VM exit
	 * nor #VMEXIT switches PKRU, so the back end reads it in the host
	 * (RDPKRU; SDM Vol. 3A §4.6.2, APM Vol. 2 §5.6.7). CPL3 accesses obey
	 * it (protocol.md §4.3). */
	uint32_t pkru;
};

/* The core's state: the platform plus what it derives and counts. One per
 * machine, shared by all CPUs; holds the engine's scratch (no large
 * buffers on hypervisor stacks), which the engine lock protects. */
struct ahv_core {
	const struct ahv_platform *plat;
	uint32_t features; /* AHV_FEAT_*, CPUID 0x40000001 EBX */
	uint16_t sig_alg;  /* hypervisor key's AHV_SIG_*, 0 without a key */
	uint16_t spki_len;
	uint8_t hv_key_id[AHV_KEY_ID_SIZE];
	uint8_t hv_spki[AHV_SPKI_FIELD_SIZE];
	uint64_t counter;  /* last report counter issued (atomic) */
	uint32_t busy;     /* engine lock (atomic) */
	uint32_t pad_;
	/* scratch, valid only under the lock */
	_Alignas(16) uint8_t req[AHV_REQUEST_MAX_SIZE];
	_Alignas(16) uint8_t report[AHV_REPORT_MAX_SIZE];
};

/* Checks the platform (sorted 4 KiB-aligned ranges, callbacks present,
 * levels 4/5, formats), derives the hypervisor key id/SPKI and features.
 * 0 on success, -1 if the platform is unusable (the back end must then not
 * start the guest with attestation: fail closed). */
int ahv_core_init(struct ahv_core *core, const struct ahv_platform *plat);

/* Serve one hypercall: reads x->regs and the caller state, writes
 * x->regs.rax/rbx/rcx/rdx. Never fails in any other way. */
void ahv_hypercall(struct ahv_core *core, struct ahv_vcpu_exit *x);

/* smp = on: how the back end holds the guest's memory still for one
 * measurement (docs/smp.md). stop() returns 0 once no other vCPU runs guest
 * code, nonzero if that could not be had (the call then answers AHV_E_BUSY,
 * protocol.md §3.4); resume() ends a successful stop. */
struct ahv_quiesce {
	int (*stop)(void *arg);
	void (*resume)(void *arg);
	void *arg;
};
/* ahv_hypercall, with q->stop() called only after every check that can
 * refuse the call without measuring (function, mode and CPL, request copy,
 * fields, signature, regions, report buffer: protocol.md §5.2 steps 1-10)
 * and q->resume() after the report is written: a refused caller stops
 * nobody, and no other vCPU runs while regions are read. q may be NULL. */
void ahv_hypercall_quiesced(struct ahv_core *core, struct ahv_vcpu_exit *x,
			    const struct ahv_quiesce *q);

/* Copy up to n bytes the guest reads at linear address va in the state x
 * (no paging: va is a guest-physical address; 4/5-level long-mode paging
 * through the guest's tables; then the nested tables) into buf, by the
 * engine's one walker with its checks: hypervisor memory and non-RAM are
 * refused; the bytes are read through ->map_hpa like every other guest read.
 * Returns the bytes copied (fewer than n where a check or
 * translation failed; 0 under legacy 32-bit/PAE paging). For a back end
 * that must fetch a guest instruction (the xAPIC write emulation). Uses
 * no engine scratch: any CPU, any time; one walk per page. */
size_t ahv_guest_fetch(struct ahv_core *core, const struct ahv_vcpu_exit *x, uint64_t va, uint8_t *buf, size_t n);

/* CPUID for the hypervisor leaves (protocol.md §2). Returns true and fills
 * r[0..3] = EAX, EBX, ECX, EDX for leaf 0x40000000..0x400000FF (leaves above
 * AHV_CPUID_MAX_LEAF return zeros); false for any other leaf. */
bool ahv_core_cpuid(const struct ahv_core *core, uint32_t leaf, uint32_t r[4]);

/* A guest write that the nested tables refused (NPF with a write to a
 * present frame / EPT violation on a write), on any CPU: if the frame at
 * gpa is watched, the write is recorded for every watch that holds it
 * (time, the writer's apic_id and rip, gpa), the frame is given back its
 * write permission (platform watch_protect) and true is returned: the back
 * end flushes this vCPU's nested translations and lets the instruction run
 * again. false: not a watched frame; the back end handles the fault as
 * before. */
bool ahv_watch_write_fault(struct ahv_core *core, uint64_t gpa, uint64_t rip,
			   uint32_t apic_id);

/* Fill an enrolled guest key from its public point (computes key_id). */
int ahv_guest_key_enroll(struct ahv_guest_key *k, const ahv_ec_pub *pub);

#ifdef __cplusplus
}
#endif
#endif /* AHV_PLATFORM_H */
