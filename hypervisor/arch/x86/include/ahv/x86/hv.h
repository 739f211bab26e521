/*
 * ahv/x86/hv.h - what the x86 hypervisor host knows: the loader's handoff,
 * the virtual CPU, and the back-end ops table that SVM and VT-x both fill
 * (compare bhyve's struct vmm_ops), and the exit work both back ends share
 * (vcpu.c). Nothing outside arch/x86/svm and arch/x86/vmx includes their
 * headers; the rest of the hypervisor talks to a back end only here.
 */
#ifndef AHV_X86_HV_H
#define AHV_X86_HV_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/crypto.h"
#include "ahv/platform.h"
#include "ahv/x86/apic_guard.h"
#include "ahv/x86/desc.h"
#include "ahv/x86/mem.h"

/* ---- loader -> hypervisor handoff ---------------------------------------- */
#define AHV_HANDOFF_MAGIC 0x46464F48564841ull /* "AHVHOFF" */
#define AHV_MAX_MEMMAP 512
#define AHV_MAX_GUEST_KEYS 16
#define AHV_MAX_HIDDEN 8

/* One UEFI memory-map range at hypervisor start (type: EFI_MEMORY_TYPE). */
struct ahv_mem_range {
	uint64_t start, end; /* [start, end) */
	uint32_t type, pad;
};

/* Policy bits from the ESP configuration (ahv_handoff.policy). */
#define AHV_HO_ALLOW_CPL3 (1u << 0)     /* CPL3 callers may attest (GVA only) */
#define AHV_HO_ALLOW_GPA (1u << 1)      /* CPL0 callers may name GPA ranges */
#define AHV_HO_HIDE_LOG_PORT (1u << 2)  /* guest sees no UART at log port */
#define AHV_HO_SMP (1u << 3)            /* smp = on: every CPU (docs/smp.md) */
#define AHV_HO_DMA_REQUIRED (1u << 4)   /* dma_protection = on (docs/iommu.md) */

#define AHV_MAX_CPUS 64
/* AHV_XAPIC_BASE, the MSI range and the I/O APIC page: ahv/x86/apic_guard.h */

struct ahv_handoff {
	uint64_t magic;
	uint64_t pool_base, pool_size, pool_used; /* runtime-services-data pool */
	uint64_t image_base, image_size;          /* resident copy of the image */
	uint16_t log_port;
	uint16_t pad0;
	uint32_t policy;
	uint32_t n_memmap;
	uint32_t n_guest_keys;
	struct ahv_mem_range memmap[AHV_MAX_MEMMAP];
	ahv_ec_pub guest_keys[AHV_MAX_GUEST_KEYS];
	uint8_t guest_key_ids[AHV_MAX_GUEST_KEYS][32];
	uint8_t image_digest[32];  /* SHA-256 of the loader/hypervisor file */
	uint8_t config_digest[32]; /* SHA-256 of the configuration file */
	uint64_t rtc_unix_ns;      /* RTC at boot (UTC), 0 if unreadable */
	uint64_t tsc_at_rtc;
	uint64_t tsc_hz;           /* calibrated by the loader against Stall() */
	uint16_t pm1a_cnt_port;    /* ACPI FADT PM1a_CNT_BLK (I/O), 0 if none */
	uint16_t pad1[3];
	char error[160];           /* why ahv_hv_main failed, for the loader */
	/* Signing key chosen by the loader (boot/tpm_boot.c, docs/tpm.md). */
	uint32_t key_mode;         /* AHV_HO_KEY_* */
	uint32_t pad2;
	uint8_t key_d[32];         /* AHV_HO_KEY_SEALED: the unsealed P-256
	                            * scalar; wiped by ahv_hv_prepare */
	/* ACPI tables that describe IOMMUs, found by the loader through the
	 * XSDT (0: none); the hypervisor takes the units (docs/iommu.md). */
	uint64_t acpi_dmar, acpi_ivrs;
};
#define AHV_HO_KEY_DEV 0u    /* ephemeral development key (AHV_PLAT_DEV_KEY) */
#define AHV_HO_KEY_SEALED 1u /* key_d, unsealed from the TPM */
#define AHV_HO_KEY_NONE 2u   /* no key: attestation answers AHV_E_NO_KEY */

/* ---- virtual CPU ---------------------------------------------------------- */
/* Guest GPRs the back end saves around VMRUN/VMRESUME. RSP (both) and RAX
 * (SVM) live in the VMCB/VMCS; the back end copies them here after every
 * exit and back before every entry, so exit handlers and the core read and
 * write this array only. Offsets are used by assembly: keep the order. */
struct ahv_gprs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
enum ahv_gpr { AHV_RAX, AHV_RBX, AHV_RCX, AHV_RDX, AHV_RSI, AHV_RDI, AHV_RBP, AHV_RSP,
	       AHV_R8, AHV_R9, AHV_R10, AHV_R11, AHV_R12, AHV_R13, AHV_R14, AHV_R15 };

#define AHV_EXIT_COUNTERS 0x101 /* exit codes 0..0xFF, then "other" */

struct ahv_vcpu {
	struct ahv_gprs gprs; /* offset 0: used by svm_run.S / vmx_run.S */
	void *arch;           /* back-end state (struct svm_vcpu, ...) */
	uint64_t exits;       /* all exits */
	uint64_t exit_count[AHV_EXIT_COUNTERS];
	uint32_t apic_id;
	uint32_t index;       /* 0: boot CPU */
	/* Per-CPU host state (smp = on: each CPU has its own TSS and stacks). */
	struct ahv_host_desc *desc;
	uint64_t host_stack_top;
	/* Emulated INIT/SIPI (docs/smp.md): an INIT sent to this CPU arms
	 * wait_sipi; the first SIPI after it stores the vector and sets
	 * sipi_go, which the CPU, parked in the host, acts on. */
	uint32_t wait_sipi, sipi_go, sipi_vector;
	uint32_t hlt_parks; /* SVM: HLT (IF=0) exits that parked this CPU; VT-x: INIT exits */
	uint32_t nmi_owed;  /* checked in to a stop without taking its kick NMI */
	uint32_t parked;    /* in exit_hlt's wait: a SIPI also sends it an NMI */
	uint32_t init_pending; /* SVM: an emulated INIT, acted on at its NMI exit */
	/* VT-x (docs/smp.md): the guest's activity state is wait-for-SIPI
	 * (after an INIT exit): it runs nothing, a stop does not kick it. */
	uint32_t in_wait_for_sipi;
	uint32_t checked_in; /* waiting in ahv_smp_check_in for a stop to end */
	/* VT-x: an NMI for the guest arrived while this CPU ran in its host
	 * (isr.S records it through the word at ist_top): inject it. */
	uint32_t host_nmi;
	uint64_t ist_top; /* top of this CPU's IST stack; [ist_top, +8): NMI slot */
	/* The guest's TSC = the host's + tsc_offset (msr_emulate.c); the back
	 * end loads the offset before an entry when tsc_dirty. The virtual
	 * IA32_TSC_ADJUST starts at the CPU's value. */
	int64_t tsc_offset;
	uint64_t tsc_adjust;
	uint32_t tsc_adjust_known, tsc_dirty;
	/* No FXSAVE area: the engine uses general registers only and the one
	 * SSE user, SHA-NI in crypto/src/sha256.c, brackets itself with
	 * FXSAVE/FXRSTOR (docs/crypto.md), so guest x87/SSE/AVX state is never
	 * touched by host code. */
};

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
	 * end's one exit_state (svm.c, vmx.c), not through this table. */
	void (*nested_info)(struct ahv_vcpu *v, struct ahv_nested *n);
	/* smp = on (NULL: the back end cannot start application processors
	 * yet). Prepare the calling AP as vCPU v (shared nested tables and
	 * bitmaps from the boot CPU's prepare); probe has passed on this CPU
	 * and v->apic_id is set (hv_main.c). 0 or -1. */
	int (*prepare_ap)(struct ahv_hv *hv, struct ahv_vcpu *v);
	/* Watched regions (docs/watch.md; NULL: none): take away (protect)
	 * or give back write permission for the 4 KiB frame at gpa in the
	 * shared nested tables, for every vCPU (nested_watch.c). 0 or -1
	 * (no pool page for a split). */
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

/* What the loader needs to enter the guest: it calls
 * ahv_x86_launch(arg, entry, host_rsp) from ITS OWN image, so that the guest
 * resumes in loader code, not in the hidden resident copy. */
struct ahv_launch {
	void *arg;
	void (*entry)(void *arg, uint64_t guest_rsp, uint64_t guest_rip);
	uint64_t host_rsp;
};

/* Entry from the loader (called at the resident copy's address): set up
 * everything for the boot CPU. 0 and *out filled, or -1 with h->error. */
int ahv_hv_prepare(struct ahv_handoff *h, struct ahv_launch *out);

/* smp = on: called on each application processor (in the resident copy,
 * after ahv_hv_prepare on the boot CPU, concurrently): its vCPU, host stack
 * and TSS; *out to enter the guest with ahv_x86_launch. 0 or -1. */
int ahv_hv_prepare_ap(struct ahv_launch *out);
/* The vCPU with this initial APIC id, or NULL. */
struct ahv_vcpu *ahv_vcpu_by_apic_id(struct ahv_hv *hv, uint32_t apic_id);

/* Is [pa, pa+len) inside hypervisor memory? */
int ahv_hv_owns(const struct ahv_hv *hv, uint64_t pa, uint64_t len);
/* Type of the UEFI memory range holding pa, or -1. */
int ahv_hv_mem_type(const struct ahv_hv *hv, uint64_t pa);

/* launch.S: push callee-saved registers, switch to host_rsp and call
 * host_entry(arg, guest_rsp, guest_rip); the guest later resumes at
 * guest_rip with guest_rsp, pops them and returns 0 to the caller. */
int ahv_x86_launch(void *arg, void (*host_entry)(void *arg, uint64_t guest_rsp, uint64_t guest_rip),
		   uint64_t host_rsp);

/* ---- shared by the back ends (vcpu.c) ------------------------------------ */
/* Count one exit (code < 0x100 in its own slot, the rest in "other"). */
void ahv_vcpu_count_exit(struct ahv_vcpu *v, uint64_t code);
/* AHV-HV-EXITS line: totals per exit code. */
void ahv_vcpu_print_counters(const struct ahv_vcpu *v);
/* CPUID policy for both vendors: the hypervisor leaves from the core, the
 * hypervisor-present bit set, VMX and SVM hidden. Reads leaf/subleaf from
 * v->gprs.rax/rcx and writes EAX..EDX back; the caller advances RIP. */
/* CPUID for the guest. guest_cr4: the guest's CR4 as the CPU holds it, for
 * the bits that mirror it (OSXSAVE, OSPKE): the host's CPUID would show the
 * host's CR4 instead. */
void ahv_vcpu_cpuid(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t guest_cr4);
/* A VMCALL/VMMCALL: x carries the caller's control state (cr0, cr3, cr4,
 * efer, cs_l, cpl) as the back end read it; the registers come from and go
 * back to v->gprs. The caller advances RIP. */
void ahv_vcpu_hypercall(struct ahv_hv *hv, struct ahv_vcpu *v, struct ahv_vcpu_exit *x);

/* smp = on: stop every other vCPU (docs/smp.md). A vCPU that is asked
 * to stop (kick NMI, or it sees the request while waiting in its host)
 * calls ahv_smp_check_in, which returns once the stop is over. */
int ahv_smp_stop_pending(void);
/* Non-zero while a stop is in progress (isr.S and vmx_run.S read it). */
extern uint32_t ahv_smp_stop_active;
/* Send an NMI to the CPU with this APIC id, through the xAPIC page or the
 * x2APIC ICR MSR, whichever mode the local APIC is in (apic.c). */
void ahv_apic_send_nmi(uint32_t apic_id);

/* Emulated INIT/SIPI (initsipi.c, docs/smp.md), smp = on. */
/* The guest stored to a trapped page (ahv_smp_store_trapped: write-
 * protected in the nested tables) at guest-physical gpa with the
 * instruction at linear address lin: decode it and do it - INIT/SIPI
 * through the ICR emulated, an I/O APIC redirection entry with INIT
 * delivery and a CPU's write into the MSI range refused (dropped). 0 and
 * the instruction's length, or -1: the guest gets #GP. */
int ahv_xapic_store(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
		    uint64_t gpa, unsigned *len);
/* smp = on: write-protect the pages ahv_smp_store_trapped (apic_guard.h)
 * names in nested tables (clear write_bit). 0 or -1. */
int ahv_smp_protect(struct ahv_pt *pt, uint64_t write_bit);
/* An INIT that reached this CPU as an exception (SVM VM_CR.R_INIT: #SX):
 * 1 if the CPU must now park for its SIPI (an AP), 0 if it is refused
 * (the boot CPU, as for an INIT through the ICR). */
int ahv_init_signal(struct ahv_vcpu *v);
/* The host took #SX (vector 30) with this error code: an INIT redirected
 * while a CPU ran the hypervisor with GIF=1. 1 if handled (resume), 0 if
 * it is not that. */
int ahv_host_init_exception(uint64_t error);
/* Set once a CPU's VM_CR.R_INIT stuck (svm.c): host #SX are INITs. */
extern uint32_t ahv_init_redirected;
/* Park this CPU in its host until a SIPI releases it (checking in to
 * stops meanwhile); returns the SIPI's vector. */
uint32_t ahv_sipi_wait(struct ahv_vcpu *v);
/* Can INIT/SIPI be trapped (xAPIC mode at its default address)? 0, or -1
 * with the reason. */
int ahv_smp_xapic_usable(char *why, size_t cap);
/* isr.S: return if *a or *b is set, else HLT until an NMI. */
void ahv_park_wait(const uint32_t *a, const uint32_t *b);
void ahv_smp_check_in(struct ahv_vcpu *v);

/* I/O ports the hypervisor intercepts: its log UART (when hidden) and the
 * ACPI PM1a control block (power-off logs the exit counters first). Sets
 * their bits in a one-bit-per-port bitmap (APM §15.10.1 IOPM; SDM Vol. 3C
 * §25.6.4 I/O bitmaps A and B, contiguous). 1 if any was set. */
int ahv_io_intercepts(const struct ahv_hv *hv, uint8_t *bitmap);
/* One intercepted IN/OUT (string forms ignored, REP consumes RCX) on one
 * of those ports; size 1, 2 or 4. The caller advances RIP. */
void ahv_vcpu_io(struct ahv_hv *hv, struct ahv_vcpu *v, uint16_t port, unsigned size, int in, int str,
		 int rep);

/* MSR intercept bitmaps. Both vendors split the MSR space into ranges
 * (0000_0000-0000_1FFF, C000_0000-C000_1FFF, and on AMD C001_0000-
 * C001_1FFF) with a byte offset each, `stride` bits per MSR, and the write
 * bit `write_bit` bits after the read bit: AMD MSRPM 2 bits per MSR, write
 * next to read (APM §15.11); Intel 1 bit, write bitmaps 0x800 bytes on
 * (SDM Vol. 3C §25.6.9). An MSR outside the ranges always exits. */
struct ahv_msr_bitmap_layout {
	uint32_t range_off[3]; /* byte offset per range; ~0u: range absent */
	uint32_t stride;
	uint32_t write_bit;
};
/* The bitmap from the MSR allow-list (msr_policy.h): everything exits but
 * what the policy lets pass (msr_emulate.c). */
void ahv_msr_bitmap_init(uint8_t *bm, size_t size, const struct ahv_msr_bitmap_layout *l, uint32_t backend, int smp);
/* An RDMSR/WRMSR that exited (the vendor-only MSRs handled by the back
 * end first): 0 done (RDX:RAX set for a read), -1 the guest gets #GP. */
int ahv_vcpu_msr(struct ahv_hv *hv, struct ahv_vcpu *v, uint32_t msr, int write);

/* Nested tables (NPT or EPT, one builder: pt.c, the format in pt's bits):
 * identity map of all RAM and the MMIO holes, the hypervisor's frames
 * absent. *top: the end of what is mapped now. 0 or -1 (pool empty). */
int ahv_nested_build(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top);
enum ahv_nested_fault {
	AHV_NF_HV_MEMORY,  /* the guest touched hypervisor memory: inject #GP */
	AHV_NF_MAPPED,     /* beyond the pre-built window: mapped now, retry */
	AHV_NF_UNEXPECTED, /* a hole that should not fault: logged, #GP */
};
/* A nested fault (NPF / EPT violation) at gpa: classify, log, map. */
enum ahv_nested_fault ahv_nested_fault(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top, uint64_t gpa,
				       uint64_t rip, uint64_t info, uint64_t *faults);

/* Watched regions (nested_watch.c, docs/watch.md). Bumped by every
 * protect: a vCPU whose last seen value differs flushes its nested
 * translations before its next entry. */
extern uint32_t ahv_nested_gen;
/* Clear (protect) or set write_bit (PTE_RW, EPT W) in the 4 KiB leaf of
 * gpa, splitting a large leaf for a protect. Protect only while no other
 * vCPU runs guest code. 0 or -1 (pool empty). */
int ahv_nested_wp(struct ahv_pt *pt, uint64_t gpa, int protect, uint64_t write_bit);
/* A guest write refused by a present nested leaf: 1 if it was a watched
 * frame (recorded, writable again) or one given back since this vCPU
 * cached it: flush this vCPU's nested translations and retry. 0: not
 * ours (the usual nested-fault handling). */
int ahv_nested_watch_fault(struct ahv_hv *hv, struct ahv_pt *pt, struct ahv_vcpu *v, uint64_t gpa, uint64_t rip,
			   uint64_t write_bit);

#endif
