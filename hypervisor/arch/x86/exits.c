/*
 * exits.c - the exit handlers both back ends put in their exit tables
 * (svm.c svm_exits[], vmx.c vmx_exits[]): what an exit means does not
 * depend on the vendor, only how its state is read and the instruction
 * skipped (struct ahv_exit_ops). And the hypercall into the engine.
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/smp.h"

void ahv_exit_cpuid(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	ahv_vcpu_cpuid(hv, v, hv->ops->exit->cr4(v));
	hv->ops->exit->skip(v, 2); /* CPUID is 0F A2 */
}

void ahv_exit_hypercall(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct ahv_vcpu_exit x;
	hv->ops->exit->state(v, &x);
	ahv_vcpu_hypercall(hv, v, &x);
	hv->ops->exit->skip(v, 3); /* VMCALL 0F 01 C1, VMMCALL 0F 01 D9 */
}

/* Each such instruction's exceptions: #UD where the extension is absent
 * (SDM Vol. 3C §31.3 "VMX Instructions", APM Vol. 3 VMRUN etc.). */
void ahv_exit_ud(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	hv->ops->exit->inject(v, AHV_VEC_UD, 0, 0);
}

/* Triple fault or shutdown condition in the guest (SDM Vol. 3C §26.2,
 * APM Vol. 2 §15.9 SHUTDOWN intercept). */
void ahv_exit_shutdown(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	ahv_log("\nAHV-GUEST-SHUTDOWN: the guest triple-faulted; CPU halted\n");
	hv->ops->exit->dump(v);
	ahv_halt_forever();
}

/* An exit this back end never asked for, or a VM entry the CPU refused:
 * this guest CPU stops with its state logged; nothing a guest causes
 * reaches the hypervisor's panic path (docs/threat-model.md). `what` names
 * the code and where the architecture lists it. */
void ahv_exit_unasked(struct ahv_hv *hv, struct ahv_vcpu *v, const char *what, uint64_t code)
{
	ahv_log("\nAHV-GUEST-SHUTDOWN: unexpected %s 0x%lx; CPU halted\n", what, (unsigned long)code);
	hv->ops->exit->dump(v);
	ahv_halt_forever();
}

/* The engine, on this vCPU's hypercall registers. No FXSAVE here: the
 * engine is general-registers-only, and SHA-NI saves and restores the SSE
 * state itself (crypto/src/sha256.c). */
void ahv_vcpu_hypercall(struct ahv_hv *hv, struct ahv_vcpu *v, struct ahv_vcpu_exit *x)
{
	struct ahv_smp_stop_ctx sc;
	struct ahv_quiesce q;
	const struct ahv_quiesce *stop = ahv_smp_quiesce(hv, v, &sc, &q);

	ahv_iommu_poll(); /* DMA faults since the last hypercall (docs/iommu.md) */

	x->regs = (struct ahv_hc_regs){.rax = v->gprs.rax, .rbx = v->gprs.rbx, .rcx = v->gprs.rcx,
				       .rdx = v->gprs.rdx, .rsi = v->gprs.rsi};
	x->apic_id = v->apic_id;
	ahv_hypercall_quiesced(hv->core, x, stop);
	v->gprs.rax = x->regs.rax;
	v->gprs.rbx = x->regs.rbx;
	v->gprs.rcx = x->regs.rcx;
	v->gprs.rdx = x->regs.rdx;
}
