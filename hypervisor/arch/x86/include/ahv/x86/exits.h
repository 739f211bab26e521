/*
 * ahv/x86/exits.h - the exit work both back ends share. Each back end
 * dispatches its exits through one table indexed by its exit code
 * (svm.c svm_exits[], vmx.c vmx_exits[]); an entry is either a vendor
 * handler, which decodes the VMCB/VMCS itself, or one of the vendor-neutral
 * handlers here (exits.c), which reach the back end only through struct
 * ahv_exit_ops (compare KVM's kvm_x86_ops under its shared x86.c handlers).
 * Below them, the vendor-neutral work a vendor handler calls once it has
 * decoded the exit: CPUID policy (cpuid.c), the hypercall into the engine
 * (exits.c), intercepted ports (port_io.c), MSRs (msr_emulate.c,
 * msr_bitmap.c) and the exit counters (exit_count.c).
 */
#ifndef AHV_X86_EXITS_H
#define AHV_X86_EXITS_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/platform.h"
#include "ahv/x86/vcpu.h"

struct ahv_hv;

/* One exit handler: the vCPU's exit information is in its VMCB/VMCS. */
typedef void (*ahv_exit_fn)(struct ahv_hv *hv, struct ahv_vcpu *v);

/* What a shared handler needs of the back end (hv->ops->exit). */
struct ahv_exit_ops {
	/* The back end's one exit_state: the guest state every consumer of
	 * an exit reads (hypercall, xAPIC trap, ...). */
	void (*state)(struct ahv_vcpu *v, struct ahv_vcpu_exit *x);
	/* The guest's CR4 as the CPU holds it: all CPUID needs of the state
	 * (OSXSAVE, OSPKE mirror it), without state's PKRU read. */
	uint64_t (*cr4)(struct ahv_vcpu *v);
	/* Past the exiting instruction; len is its architectural length, for
	 * a CPU that does not report it (SVM without NRIP save). */
	void (*skip)(struct ahv_vcpu *v, unsigned len);
	/* Inject a hardware exception at the next entry. */
	void (*inject)(struct ahv_vcpu *v, unsigned vector, int has_err, uint32_t err);
	/* Log the guest state (shutdown and panic paths). */
	void (*dump)(struct ahv_vcpu *v);
};

#define AHV_VEC_UD 6  /* #UD (SDM Vol. 3A §6.15, Table 6-1) */
#define AHV_VEC_GP 13 /* #GP */
#define AHV_VEC_NMI 2 /* NMI */

/* ---- vendor-neutral exit handlers (exits.c) ------------------------------- */
/* CPUID (2 bytes, 0F A2): the policy (ahv_vcpu_cpuid). */
void ahv_exit_cpuid(struct ahv_hv *hv, struct ahv_vcpu *v);
/* VMCALL / VMMCALL (3 bytes): the engine (ahv_vcpu_hypercall). */
void ahv_exit_hypercall(struct ahv_hv *hv, struct ahv_vcpu *v);
/* An instruction of a virtualization extension the guest is not offered
 * (VMX, SVM, SMX): #UD, as on a CPU without it. */
void ahv_exit_ud(struct ahv_hv *hv, struct ahv_vcpu *v);
/* Triple fault / shutdown: the guest CPU stops, its state logged. */
void ahv_exit_shutdown(struct ahv_hv *hv, struct ahv_vcpu *v);
/* Unasked exit or refused VM entry: the guest CPU stops, its state logged. */
__attribute__((noreturn)) void ahv_exit_unasked(struct ahv_hv *hv, struct ahv_vcpu *v, const char *what, uint64_t code);

/* ---- the work below the handlers ----------------------------------------- */
/* Count one exit (code < 0x100 in its own slot, the rest in "other"). */
void ahv_vcpu_count_exit(struct ahv_vcpu *v, uint64_t code);
/* AHV-HV-EXITS line: totals per exit code. */
void ahv_vcpu_print_counters(const struct ahv_vcpu *v);
/* CPUID policy for both vendors: the hypervisor leaves from the core, the
 * hypervisor-present bit set, VMX and SVM hidden. Reads leaf/subleaf from
 * v->gprs.rax/rcx and writes EAX..EDX back; the caller advances RIP.
 * guest_cr4: the guest's CR4 as the CPU holds it, for the bits that mirror
 * it (OSXSAVE, OSPKE): the host's CPUID would show the host's CR4 instead. */
void ahv_vcpu_cpuid(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t guest_cr4);
/* A VMCALL/VMMCALL: x carries the caller's control state (cr0, cr3, cr4,
 * efer, cs_l, cpl) as the back end's exit_state read it; the registers
 * come from and go back to v->gprs. The caller advances RIP. */
void ahv_vcpu_hypercall(struct ahv_hv *hv, struct ahv_vcpu *v, struct ahv_vcpu_exit *x);

/* I/O ports the hypervisor intercepts: its log UART (when hidden) and the
 * ACPI PM1a control block (power-off logs the exit counters first). Sets
 * their bits in a one-bit-per-port bitmap (APM §15.10.1 IOPM; SDM Vol. 3C
 * §25.6.4 I/O bitmaps A and B, contiguous). 1 if any was set. */
int ahv_io_intercepts(const struct ahv_hv *hv, uint8_t *bitmap);
/* IN/OUT of size 1, 2 or 4 bytes on the host, for the intercepted ports
 * that pass through (port_io.c, pcicfg.c). */
uint32_t ahv_port_in(uint16_t port, unsigned size);
void ahv_port_out(uint16_t port, unsigned size, uint32_t val);
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
 * what the policy lets pass (msr_bitmap.c). */
void ahv_msr_bitmap_init(uint8_t *bm, size_t size, const struct ahv_msr_bitmap_layout *l, uint32_t backend, int smp);
/* An RDMSR/WRMSR that exited (the vendor-only MSRs handled by the back
 * end first): 0 done (RDX:RAX set for a read), -1 the guest gets #GP
 * (msr_emulate.c). */
int ahv_vcpu_msr(struct ahv_hv *hv, struct ahv_vcpu *v, uint32_t msr, int write);

#endif
