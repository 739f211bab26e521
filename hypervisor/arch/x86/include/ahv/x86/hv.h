/*
 * ahv/x86/hv.h - the x86 hypervisor host as a whole: the back-end ops table
 * that SVM and VT-x each fill (compare bhyve's struct vmm_ops; exactly what
 * hv_main.c and the shared exit handlers call) and struct ahv_hv, the one
 * instance in the resident copy. The pieces live in their own headers:
 *   handoff.h  the loader hand-off ABI (all that boot/ includes)
 *   vcpu.h     the virtual CPU and its registers
 *   exits.h    the exit work both back ends share (exit table handlers,
 *              CPUID, hypercall, port I/O, MSRs, counters)
 *   smp.h      smp = on: the stop protocol, emulated INIT/SIPI, kicks
 *   nested.h   the nested tables (NPT or EPT) and their faults
 * Nothing outside arch/x86/svm and arch/x86/vmx includes their headers;
 * the rest of the hypervisor talks to a back end only through this table.
 */
#ifndef AHV_X86_HV_H
#define AHV_X86_HV_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/crypto.h"
#include "ahv/platform.h"
#include "ahv/x86/desc.h"
#include "ahv/x86/handoff.h"
#include "ahv/x86/mem.h"
#include "ahv/x86/vcpu.h"

#define AHV_MAX_CPUS 64

struct ahv_exit_ops;
struct ahv_hv;

/* ---- the back-end ops table ------------------------------------------------ */
struct ahv_vmm_ops {
	const char *name;
	uint32_t backend; /* AHV_BACKEND_SVM / AHV_BACKEND_VMX (wire.h) */
	/* Can this CPU run the back end? 0, or -1 with a reason in why. */
	int (*probe)(char *why, size_t cap);
	/* Prepare the calling CPU: VMCB/VMCS, nested tables, enable the
	 * extension. 0, or -1 (reason in hv->handoff->error). */
	int (*prepare)(struct ahv_hv *hv);
	/* Called by ahv_x86_launch() on the host stack: capture the running
	 * state as the guest's (resuming at guest_rip/guest_rsp), switch to the
	 * host's tables and enter the guest. Never returns. */
	void (*host_entry)(void *vcpu, uint64_t guest_rsp, uint64_t guest_rip);
	/* The guest's nested paging as the core walks it: format, levels,
	 * 1 GiB leaves, root (ahv/platform.h struct ahv_nested); hv_main.c
	 * hands it to the core once (setup_core). The guest state the core
	 * reads at an exit travels in struct ahv_vcpu_exit, filled by the back
	 * end's one exit_state (svm_exit_state, vmx_exit_state), not through
	 * this table. */
	void (*nested_info)(struct ahv_vcpu *v, struct ahv_nested *n);
	/* What the shared exit handlers (exits.c) need of this back end:
	 * its exit_state, RIP advance, event injection and state dump. */
	const struct ahv_exit_ops *exit;
	/* smp = on (NULL: the back end cannot start application processors
	 * yet). Prepare the calling AP as vCPU v (shared nested tables and
	 * bitmaps from the boot CPU's prepare); probe has passed on this CPU
	 * and v->apic_id is set (hv_main.c). 0 or -1. */
	int (*prepare_ap)(struct ahv_hv *hv, struct ahv_vcpu *v);
	/* Watched regions (docs/watch.md; NULL: none): take away (protect)
	 * or give back write permission for the 4 KiB frame at gpa in the
	 * shared nested tables, for every vCPU (nested_watch.c). 0 or -1
	 * (no pool page for a split). Called by hv_main.c's watch_protect,
	 * the core's platform hook. */
	int (*nested_protect)(struct ahv_hv *hv, uint64_t gpa, int protect);
};

extern const struct ahv_vmm_ops ahv_svm_ops;
extern const struct ahv_vmm_ops ahv_vmx_ops;


struct ahv_hv {
	struct ahv_handoff *handoff;
	const struct ahv_vmm_ops *ops;
	struct ahv_pool pool;
	struct ahv_pt host_pt;
	struct ahv_host_desc *desc;
	uint64_t host_stack_top;
	struct ahv_vcpu *vcpu; /* boot CPU */
	/* smp = on: every vCPU, [0] the boot CPU; n_vcpus counts those started. */
	struct ahv_vcpu *vcpus[AHV_MAX_CPUS];
	uint32_t n_vcpus;
	struct ahv_mem_range hidden[AHV_MAX_HIDDEN]; /* never mapped in the guest */
	uint32_t n_hidden;
	/* The arch-neutral core (attestation engine) and what it is told. */
	struct ahv_core *core;
	struct ahv_platform plat;
	struct ahv_phys_range ram[AHV_MAX_MEMMAP];
	struct ahv_phys_range hv_mem[AHV_MAX_HIDDEN];
	struct ahv_guest_key guest_keys[AHV_MAX_GUEST_KEYS];
	/* Signing key: a development key made at start (no TPM yet). */
	ahv_drbg drbg;
	ahv_ec_key hv_key;
	uint8_t hv_key_id[32];
	uint8_t hv_spki[AHV_SPKI_MAX_DER];
	size_t hv_spki_len;
};

extern struct ahv_hv ahv_hv_g; /* in the resident copy */

/* The vCPU with this initial APIC id, or NULL. */
struct ahv_vcpu *ahv_vcpu_by_apic_id(struct ahv_hv *hv, uint32_t apic_id);

/* Is [pa, pa+len) inside hypervisor memory? */
int ahv_hv_owns(const struct ahv_hv *hv, uint64_t pa, uint64_t len);
/* Type of the UEFI memory range holding pa, or -1. */
int ahv_hv_mem_type(const struct ahv_hv *hv, uint64_t pa);

#endif
