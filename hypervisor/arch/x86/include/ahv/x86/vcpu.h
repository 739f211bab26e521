/*
 * ahv/x86/vcpu.h - the virtual CPU both back ends run: its general
 * registers (and the one way to reach them by number), its exit counters,
 * its host stacks, and the smp = on state the shared SMP code (smp_stop.c,
 * initsipi.c) keeps for it. What only one vendor needs lives in that
 * vendor's own struct (struct svm_vcpu in svm/svm.h, struct vmx_vcpu in
 * vmx/vmx.h), reached through arch.
 */
#ifndef AHV_X86_VCPU_H
#define AHV_X86_VCPU_H

#include <stdint.h>

struct ahv_host_desc;

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
	void *arch;           /* back-end state (struct svm_vcpu, struct vmx_vcpu) */
	uint64_t exits;       /* all exits */
	uint64_t exit_count[AHV_EXIT_COUNTERS];
	uint64_t hv_mem_faults; /* nested faults on hypervisor memory (log limit) */
	uint32_t apic_id;
	uint32_t index;       /* 0: boot CPU */
	/* Per-CPU host state (smp = on: each CPU has its own TSS and stacks). */
	struct ahv_host_desc *desc;
	uint64_t host_stack_top;
	uint64_t ist_top; /* top of this CPU's IST stack; [ist_top, +8): NMI slot (isr.S) */
	/* smp = on, emulated INIT/SIPI (initsipi.c, docs/smp.md): an INIT
	 * sent to this CPU arms wait_sipi and sets init_pending (the back end
	 * parks the CPU at its next exit); the first SIPI after it stores the
	 * vector and sets sipi_go, which the CPU, parked in its host
	 * (ahv_sipi_wait), acts on. */
	uint32_t wait_sipi, sipi_go, sipi_vector;
	uint32_t init_pending;
	uint32_t parked;    /* in ahv_sipi_wait: a SIPI also sends it an NMI */
	uint32_t hlt_parks; /* times this CPU was parked for a SIPI (log limit) */
	/* smp = on, the stop protocol (smp_stop.c): */
	uint32_t checked_in; /* waiting in ahv_smp_check_in for a stop to end */
	uint32_t nmi_owed;   /* checked in to a stop without taking its kick NMI */
	/* The guest runs nothing (VT-x wait-for-SIPI activity state, after an
	 * INIT exit): a stop does not kick it (docs/smp.md). */
	uint32_t in_wait_for_sipi;
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

/* ---- GPR access ----------------------------------------------------------- */
/* Register number n (enum ahv_gpr order) of the saved guest state. */
static inline uint64_t *ahv_gpr(struct ahv_vcpu *v, unsigned n)
{
	return &((uint64_t *)&v->gprs)[n & 15];
}

/* EDX:EAX, the 64-bit operand of WRMSR and XSETBV (SDM Vol. 2B "WRMSR"). */
static inline uint64_t ahv_gpr_edx_eax(const struct ahv_vcpu *v)
{
	return (v->gprs.rdx & 0xffffffffu) << 32 | (v->gprs.rax & 0xffffffffu);
}

/* EDX:EAX <- val, as RDMSR loads it (the upper halves cleared). */
static inline void ahv_gpr_set_edx_eax(struct ahv_vcpu *v, uint64_t val)
{
	v->gprs.rax = (uint32_t)val;
	v->gprs.rdx = val >> 32;
}

#endif
