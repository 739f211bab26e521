/*
 * vmx_smp.c - smp = on and INIT/SIPI, the VT-x back end's part
 * (docs/smp.md): the INIT and SIPI exits (wait-for-SIPI), the emulated
 * INIT's park in the host and real-mode restart, the NMI exits that carry
 * the stop protocol's kicks (smp_stop.c) and the guest's own NMIs, and the
 * xAPIC store that exits (initsipi.c). Section numbers: see vmx.h.
 */
#include <string.h>
#include "ahv/x86/cpu.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/smp.h"
#include "vmx.h"

void ahv_iret_to_self(void);

/* The state of SDM Vol. 3A §9.1.1 Table 9-1 (after INIT); needs
 * unrestricted guest for the real-mode start. */
static void load_init_state(struct ahv_vcpu *v, struct vmx_vcpu *x)
{
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	memset(&v->gprs, 0, sizeof(v->gprs));
	v->gprs.rdx = r[0]; /* family/model/stepping */
	vmx_write_cr0(x, 0x60000010ull); /* CD, NW, ET */
	vmwrite(VMCS_CR4_SHADOW, 0);
	vmwrite(VMCS_GUEST_CR4, (vmx_cpu_caps->cr4_fixed0 | CR4_VMXE) & vmx_cpu_caps->cr4_fixed1);
	vmwrite(VMCS_GUEST_CR3, 0);
	vmwrite(VMCS_GUEST_EFER, 0);
	x->entry &= ~ENTRY_IA32E_GUEST;
	vmwrite(VMCS_ENTRY_CTLS, x->entry);
	for (int i = VSEG_ES; i <= VSEG_GS; i++) {
		vmwrite(VMCS_GUEST_ES_SEL + 2 * i, 0);
		vmwrite(VMCS_GUEST_ES_BASE + 2 * i, 0);
		vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, 0xffff);
		vmwrite(VMCS_GUEST_ES_AR + 2 * i, i == VSEG_CS ? 0x9b : 0x93);
	}
	vmwrite(VMCS_GUEST_ES_SEL + 2 * VSEG_CS, 0xf000);
	vmwrite(VMCS_GUEST_ES_BASE + 2 * VSEG_CS, 0xffff0000ull);
	vmwrite(VMCS_GUEST_ES_AR + 2 * VSEG_LDTR, 0x82);
	vmwrite(VMCS_GUEST_ES_AR + 2 * VSEG_TR, 0x8b);
	vmwrite(VMCS_GUEST_ES_SEL + 2 * VSEG_LDTR, 0);
	vmwrite(VMCS_GUEST_ES_SEL + 2 * VSEG_TR, 0);
	vmwrite(VMCS_GUEST_ES_BASE + 2 * VSEG_LDTR, 0);
	vmwrite(VMCS_GUEST_ES_BASE + 2 * VSEG_TR, 0);
	vmwrite(VMCS_GUEST_ES_LIMIT + 2 * VSEG_LDTR, 0xffff);
	vmwrite(VMCS_GUEST_ES_LIMIT + 2 * VSEG_TR, 0xffff);
	vmwrite(VMCS_GUEST_GDTR_BASE, 0);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_IDTR_BASE, 0);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_RIP, 0xfff0);
	vmwrite(VMCS_GUEST_RFLAGS, 2);
	vmwrite(VMCS_GUEST_DR7, 0x400);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
}

/* SIPI: real mode at vector << 12 (Vol. 3A §9.4.4.1 "MP initialization":
 * CS = vector << 8, IP = 0), active, no blocking (Bochs saves
 * wait-for-SIPI's SMI masking as blocking by SMI, which VM entry outside
 * SMM refuses, §26.3.1.5). */
static void start_at_vector(uint64_t vec)
{
	vmwrite(VMCS_GUEST_ES_SEL + 2 * VSEG_CS, vec << 8);
	vmwrite(VMCS_GUEST_ES_BASE + 2 * VSEG_CS, vec << 12);
	vmwrite(VMCS_GUEST_RIP, 0);
	vmwrite(VMCS_GUEST_ACTIVITY, VMX_ACTIVITY_ACTIVE);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
}

/* INIT exit (§26.2 "Other Causes of VM Exits"): Table 9-1 state, then wait
 * for a SIPI in the wait-for-SIPI activity state (§25.4.2 Table 25-3).
 * With smp = on the guest's own INITs are emulated (initsipi.c) and never
 * get here; this serves an INIT from elsewhere. */
void vmx_exit_init(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = vmx_of(v);
	(void)hv;
	if (!(vmx_cpu_caps->misc & VMX_MISC_WAIT_SIPI) || !(x->proc2 & PROC2_UNRESTRICTED)) {
		ahv_log("\nAHV-GUEST-SHUTDOWN: INIT for cpu %u, but VT-x cannot park it in wait-for-SIPI here\n",
			v->index);
		ahv_halt_forever();
	}
	load_init_state(v, x);
	vmwrite(VMCS_GUEST_ACTIVITY, VMX_ACTIVITY_WAIT_SIPI);
	x->host_nmi = 0; /* an NMI for the old context has no one to go to */
	/* From now on a stop does not kick this CPU (smp_stop.c; the store is
	 * ordered before vmx_run.S's look at the stop flag). */
	__atomic_store_n(&v->in_wait_for_sipi, 1, __ATOMIC_SEQ_CST);
	/* No log line here: a SIPI that arrives while this CPU is still in VMX
	 * root operation is lost (SIPIs are blocked there, §33.2), and senders
	 * leave as little as 10 ms (EDK2) or less (Linux) after the INIT. */
	v->hlt_parks++;
}

/* SIPI in wait-for-SIPI (§26.2): start in real mode at vector << 12
 * (Vol. 3A §9.4.4.1 "MP initialization": CS = vector << 8, IP = 0). */
void vmx_exit_sipi(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv;
	uint64_t vec = vmread(VMCS_EXIT_QUALIFICATION) & 0xff;
	start_at_vector(vec);
	/* Runs guest code again: kicked by the next stop; if one is on now,
	 * vmx_run.S sees it before the entry and this CPU checks in. */
	__atomic_store_n(&v->in_wait_for_sipi, 0, __ATOMIC_SEQ_CST);
	if (v->hlt_parks <= 8)
		ahv_log("AHV-HV-SMP: cpu %u: INIT, then SIPI: starts at %lx:0000\n", v->index, vec << 8);
}

/* smp = on: an emulated INIT reached this CPU (initsipi.c): wait in the
 * host for the SIPI, then start in real mode at its vector with the state
 * of Table 9-1 (no wait-for-SIPI activity state, so no SIPI VM exit:
 * docs/vmx.md). Called before each VM entry while init_pending is set. */
void vmx_start_after_sipi(struct ahv_vcpu *v, struct vmx_vcpu *x)
{
	uint64_t vec = ahv_sipi_wait(v);
	load_init_state(v, x);
	start_at_vector(vec);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	__atomic_store_n(&x->host_nmi, 0, __ATOMIC_SEQ_CST);
}

/* NMI exit (smp = on: NMI exiting, §26.2; the exit interruption
 * information says NMI, type 2, §25.9.2). While a stop is on it is the
 * stop's kick: wait it out. Otherwise it was the guest's own: the loop
 * injects it (x->host_nmi). */
void vmx_exit_nmi(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = vmx_of(v);
	(void)hv;
	uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
	if ((info & INTR_TYPE_MASK) != INTR_TYPE_NMI) {
		/* No exception is asked for (bitmap 0): not the guest's doing
		 * to act on; stop it with its state logged, not a panic. */
		ahv_log("\nAHV-GUEST-SHUTDOWN: exception exit (interruption information %x) without an exception "
			"bitmap; CPU halted\n", info);
		vmx_dump(v);
		ahv_halt_forever();
	}
	ahv_iret_to_self(); /* lift the NMI blocking the exit left (isr.S) */
	/* Without virtual NMIs the guest was not blocking NMIs (else there
	 * would have been no exit) and did not get this one: no blocking by
	 * NMI in its state either (Bochs saves it as set, and keeps the next
	 * kicks out). With virtual NMIs the bit is the guest's own virtual
	 * blocking (its NMI handler is running): it stays (§25.4.2). */
	if (!(x->pin & PIN_VIRTUAL_NMIS))
		vmwrite(VMCS_GUEST_INTERRUPTIBILITY, vmread(VMCS_GUEST_INTERRUPTIBILITY) & ~8ull);
	if (ahv_smp_stop_pending())
		ahv_smp_check_in(v);
	else if (!__atomic_load_n(&v->init_pending, __ATOMIC_SEQ_CST))
		__atomic_store_n(&x->host_nmi, 1, __ATOMIC_SEQ_CST);
	/* else: an emulated INIT's NMI; vmx_loop parks before the entry. */
}

/* NMI-window exit (§26.2; asked for while an NMI waits for the guest):
 * the loop injects it now. */
void vmx_exit_nmi_window(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = vmx_of(v);
	(void)hv;
	x->proc &= ~PROC_NMI_WINDOW;
	vmwrite(VMCS_PROC_CTLS, x->proc);
}

/* Can an NMI be injected at the next entry? Not while another event is
 * being injected, nor with blocking by STI, MOV SS or NMI (§26.3.1.5; some
 * CPUs refuse it under STI blocking: FreeBSD's vmm checks all three). */
static int nmi_injectable(void)
{
	return !(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) &&
	       !(vmread(VMCS_GUEST_INTERRUPTIBILITY) & 0xb) &&
	       vmread(VMCS_GUEST_ACTIVITY) == VMX_ACTIVITY_ACTIVE;
}

/* An NMI for the guest that reached the host (isr.S, vmx_exit_nmi):
 * injected when the guest can take one. Returns the word vmx_run.S
 * watches to turn back before the entry for a new one: none while one
 * waits for the guest. */
const uint32_t *vmx_host_nmi_entry(struct vmx_vcpu *x)
{
	static const uint32_t no_nmi;
	if (!__atomic_load_n(&x->host_nmi, __ATOMIC_SEQ_CST))
		return &x->host_nmi;
	if (nmi_injectable()) {
		__atomic_store_n(&x->host_nmi, 0, __ATOMIC_SEQ_CST);
		vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | AHV_VEC_NMI);
		return &x->host_nmi;
	}
	/* Exit as soon as the guest can take it (virtual NMIs: after its
	 * handler's IRET). */
	if ((x->pin & PIN_VIRTUAL_NMIS) && !(x->proc & PROC_NMI_WINDOW)) {
		x->proc |= PROC_NMI_WINDOW;
		vmwrite(VMCS_PROC_CTLS, x->proc);
	}
	return &no_nmi;
}

/* smp = on: a store to the write-protected xAPIC page, MSI range or I/O
 * APIC page (bit 1 of the EPT violation's qualification: a data write,
 * §28.2.1 Table 28-7): emulated (initsipi.c; an INIT there is refused);
 * whatever smp says, a store to a guarded IOMMU function's ECAM page
 * (pcicfg.c): done or refused; 1. Anything else 0. The instruction length is not
 * reported for EPT violations (§28.2.5): the decoder's is used. */
int vmx_xapic_write(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t gpa)
{
	int ecam = ahv_pcicfg_ecam_trapped(gpa);
	if (!(vmread(VMCS_EXIT_QUALIFICATION) & 2) ||
	    (!ecam && (!ahv_smp_store_trapped(&hv->handoff->ioapics, gpa) || !(hv->handoff->policy & AHV_HO_SMP))))
		return 0;
	struct ahv_vcpu_exit e;
	unsigned len;
	vmx_exit_state(v, &e);
	uint64_t lin = (e.cs_l ? 0 : vmread(VMCS_GUEST_ES_BASE + 2 * VSEG_CS)) + vmread(VMCS_GUEST_RIP);
	if ((ecam ? ahv_pcicfg_store : ahv_xapic_store)(hv, v, &e, lin, gpa, &len))
		vmx_inject(v, AHV_VEC_GP, 1, 0);
	else
		vmx_advance_rip(len);
	return 1;
}
