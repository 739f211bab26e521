/*
 * svm_smp.c - smp = on, the SVM back end's part (docs/smp.md): the xAPIC
 * store that exits (INIT/SIPI emulation, initsipi.c), parking an AP in its
 * host until a SIPI and restarting it in real mode, and the NMI intercept
 * that carries the stop protocol's kicks (smp_stop.c). References are to
 * the AMD64 APM Vol. 2 chapter 15 unless another volume is named.
 */
#include <string.h>
#include "ahv/x86/cpu.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/smp.h"
#include "svm.h"

/* The guest wrote to its xAPIC page (write-protected in the shared NPT
 * when smp = on), or, whatever smp says, to a guarded IOMMU function's
 * ECAM page (pcicfg.c): decode the store and do it, step over it. */
int svm_xapic_write(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct svm_vcpu *s = svm_of(v);
	struct vmcb_save *g = &s->vmcb->save;
	/* EXITINFO1 bit 1: a write; EXITINFO2: the guest-physical address
	 * (§15.25.6). */
	uint64_t gpa = s->vmcb->ctl.exitinfo2;
	int ecam = ahv_pcicfg_ecam_trapped(gpa);
	if (!(s->vmcb->ctl.exitinfo1 & 2) ||
	    (!ecam && (!(hv->handoff->policy & AHV_HO_SMP) || !ahv_smp_store_trapped(&hv->handoff->ioapics, gpa))))
		return 0;
	struct ahv_vcpu_exit x;
	unsigned len;
	svm_exit_state(v, &x);
	if ((ecam ? ahv_pcicfg_store : ahv_xapic_store)(hv, v, &x, (x.cs_l ? 0 : g->cs.base) + g->rip, gpa, &len))
		svm_inject(v, AHV_VEC_GP, 1, 0);
	else
		g->rip += len;
	return 1;
}

/* Architectural state after INIT then SIPI (SDM Vol. 3A §9.1.1 Table 9-1,
 * APM Vol. 2 §14.1.3): real mode at vector << 12. */
static void sipi_reset(struct ahv_vcpu *v, struct svm_vcpu *s, uint32_t vec)
{
	struct vmcb_save *g = &s->vmcb->save;
	struct vmcb_seg data = {.selector = 0, .attrib = 0x93, .limit = 0xffff, .base = 0};
	g->es = g->ss = g->ds = g->fs = g->gs = data;
	g->cs = (struct vmcb_seg){.selector = (uint16_t)(vec << 8), .attrib = 0x9b, .limit = 0xffff,
				  .base = (uint64_t)vec << 12};
	g->gdtr = (struct vmcb_seg){.limit = 0xffff};
	g->idtr = (struct vmcb_seg){.limit = 0xffff};
	g->ldtr = (struct vmcb_seg){.attrib = 0x82, .limit = 0xffff};
	g->tr = (struct vmcb_seg){.attrib = 0x8b, .limit = 0xffff};
	g->cpl = 0;
	g->efer = EFER_SVME; /* SVME stays on for VMRUN, hidden from the guest */
	g->cr0 = 0x60000010;
	g->cr2 = g->cr3 = g->cr4 = 0;
	g->dr7 = 0x400;
	g->dr6 = 0xFFFF0FF0;
	g->rflags = 2;
	g->rip = 0;
	g->g_pat = 0x0007040600070406ull;
	g->star = g->lstar = g->cstar = g->sfmask = g->kernel_gs_base = 0;
	g->sysenter_cs = g->sysenter_esp = g->sysenter_eip = 0;
	memset(&v->gprs, 0, sizeof(v->gprs));
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	v->gprs.rdx = r[0]; /* EDX: family/model/stepping */
	s->vmcb->ctl.eventinj = 0;
	s->vmcb->ctl.interrupt_shadow = 0;
	s->vmcb->ctl.tlb_control = VMCB_TLB_FLUSH_ALL;
	s->vmcb->ctl.intercept_misc1 |= VMCB_I1_HLT;
	s->vmcb->ctl.intercept_misc2 |= VMCB_I2_MWAIT;
}

/* Wait in the host for an emulated SIPI, then start at its vector: an AP
 * halted with IF=0, or one that an INIT reached (init_pending). */
static void park_for_sipi(struct ahv_vcpu *v, struct svm_vcpu *s)
{
	/* Wait with GIF=1 (IF=0): the NMI that ends the host HLT must be
	 * taken (APM §15.17). */
	__asm__ volatile("stgi" ::: "memory");
	uint32_t vec = ahv_sipi_wait(v);
	__asm__ volatile("clgi" ::: "memory");
	sipi_reset(v, s, vec);
}

/* HLT on an application processor. With IF=0 nothing but INIT (or NMI/SMI)
 * wakes it - firmware AP loops and an OS's parked CPUs: wait in the host for
 * an emulated INIT-SIPI. With IF=1 it is the OS's idle loop: stop
 * intercepting HLT for this CPU and let it halt natively. */
void svm_exit_hlt(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv;
	struct svm_vcpu *s = svm_of(v);
	if (s->vmcb->save.rflags & RFLAGS_IF) {
		s->vmcb->ctl.intercept_misc1 &= ~VMCB_I1_HLT;
		s->vmcb->ctl.intercept_misc2 &= ~VMCB_I2_MWAIT;
		ahv_log("AHV-HV-SMP: cpu %u idles with IF=1: HLT no longer intercepted\n", v->index);
		return; /* RIP still at the HLT: the guest executes it */
	}
	if (v->hlt_parks < 8)
		ahv_log("AHV-HV-SMP: cpu %u halted with IF=0 at rip %lx: waiting for INIT-SIPI\n", v->index,
			s->vmcb->save.rip);
	park_for_sipi(v, s);
}

/* NMI intercept (smp = on): a stop's kick, an emulated INIT's, or the
 * guest's own NMI. */
void svm_exit_nmi(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv;
	struct svm_vcpu *s = svm_of(v);
	struct vmcb *vmcb = s->vmcb;
	/* Take the pending NMI in the host (an IRET): STGI opens the window,
	 * the jump ends QEMU's translation block so the NMI is taken before
	 * CLGI (APM §15.17). */
	__asm__ volatile("stgi\n\tjmp 1f\n1:\tnop\n\tclgi" ::: "memory");
	if (__atomic_load_n(&v->init_pending, __ATOMIC_SEQ_CST)) {
		/* an emulated INIT reached this CPU: wait for its SIPI (the
		 * park loop also checks in to any stop) */
		if (v->hlt_parks < 8)
			ahv_log("AHV-HV-SMP: cpu %u: INIT: waiting for SIPI\n", v->index);
		park_for_sipi(v, s);
	} else if (ahv_smp_stop_pending())
		ahv_smp_check_in(v); /* a stop: wait it out */
	else if (v->nmi_owed)
		v->nmi_owed = 0; /* the kick of a stop we joined from the host */
	else if (!(vmcb->save.cr0 & 1))
		; /* a late wake-up NMI for a CPU restarted in real mode: dropped */
	else if (!(vmcb->ctl.eventinj & EVENTINJ_VALID))
		vmcb->ctl.eventinj = EVENTINJ_VALID | (2ull << 8) | AHV_VEC_NMI; /* the guest's own NMI (type 2: NMI, §15.20) */
}

/* #SX intercept: an INIT that VM_CR.R_INIT redirected (§15.30.1;
 * EXITINFO1 the error code, 1): the emulated INIT. */
void svm_exit_init_signal(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv;
	if (ahv_init_signal(v))
		park_for_sipi(v, svm_of(v));
}
