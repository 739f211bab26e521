/*
 * svm.c - the AMD SVM back end: VMCB from the running state, nested paging,
 * intercepts and the exit loop. References are to the AMD64 Architecture
 * Programmer's Manual Vol. 2 (System Programming, rev. 3.42) chapter 15
 * "Secure Virtual Machine" unless another volume is named.
 */
#include <string.h>
#include "attest/wire.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/fixup.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/log.h"
#include "ahv/x86/nested.h"
#include "ahv/x86/smp.h"
#include "svm.h"

/* CPUID Fn8000_0001 ECX[2] SVM (§15.4 "Enabling SVM"); Fn8000_000A EDX
 * feature bits (APM Vol. 3 Appendix E.4.9): [0] NP, [3] NRIPS. */
#define CPUID_8000_0001_ECX_SVM (1u << 2)
#define CPUID_8000_000A_EDX_NP (1u << 0)
#define CPUID_8000_000A_EDX_NRIPS (1u << 3)

/* MSR permission map (§15.11 "MSR Intercepts"): 8 KiB, 2 bits per MSR (even:
 * read, odd: write); 0000_0000-0000_1FFF at byte 0, C000_0000-C000_1FFF at
 * 0x800, C001_0000-C001_1FFF at 0x1000. I/O permission map (§15.10.1): 12 KiB,
 * one bit per port. */
#define MSRPM_SIZE 8192
#define IOPM_SIZE 12288

static struct svm_vcpu svm_cpu0;
static struct ahv_vcpu vcpu0;

void ahv_svm_run(struct ahv_gprs *g, uint64_t guest_vmcb_pa, uint64_t host_vmcb_pa);

static inline uint64_t pa_of(const void *p) { return (uint64_t)(uintptr_t)p; }

/* ---- probe -------------------------------------------------------------- */
static int svm_probe(char *why, size_t cap)
{
	uint32_t r[4];
	ahv_cpuid(0x80000000u, 0, r);
	if (r[0] < 0x8000000Au) {
		ahv_snprintf(why, cap, "this CPU has no AMD SVM (extended CPUID too short)");
		return -1;
	}
	ahv_cpuid(0x80000001u, 0, r);
	if (!(r[2] & CPUID_8000_0001_ECX_SVM)) {
		ahv_snprintf(why, cap, "this CPU does not offer AMD SVM (CPUID 8000_0001 ECX[2] is 0)");
		return -1;
	}
	/* VM_CR.SVMDIS set: SVM disabled by firmware (§15.30.1). */
	if (ahv_rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		ahv_snprintf(why, cap, "AMD SVM is disabled by the firmware (VM_CR.SVMDIS=1): enable SVM/virtualization in the firmware setup");
		return -1;
	}
	ahv_cpuid(0x8000000Au, 0, r);
	if (!(r[3] & CPUID_8000_000A_EDX_NP)) {
		ahv_snprintf(why, cap, "this CPU's SVM has no nested paging (CPUID 8000_000A EDX[0] is 0)");
		return -1;
	}
	if (r[1] < 2) { /* EBX: number of ASIDs; we use ASID 1 (§15.16) */
		ahv_snprintf(why, cap, "SVM reports fewer than 2 ASIDs");
		return -1;
	}
	return 0;
}

/* ---- guest state from the running CPU ------------------------------------ */
static void seg_from_gdt(struct vmcb_seg *s, uint16_t sel, const struct ahv_dtr *gdt)
{
	struct ahv_seg g;
	ahv_seg_read(&g, sel, gdt);
	*s = (struct vmcb_seg){.selector = g.sel, .attrib = g.attr, .limit = g.limit, .base = g.base};
}

static void capture_guest(struct svm_vcpu *s, uint64_t rsp, uint64_t rip, uint64_t rflags)
{
	struct vmcb_save *g = &s->vmcb->save;
	struct ahv_dtr gdt, idt;
	ahv_sgdt(&gdt);
	ahv_sidt(&idt);
	seg_from_gdt(&g->es, ahv_read_es(), &gdt);
	seg_from_gdt(&g->cs, ahv_read_cs(), &gdt);
	seg_from_gdt(&g->ss, ahv_read_ss(), &gdt);
	seg_from_gdt(&g->ds, ahv_read_ds(), &gdt);
	g->gdtr.base = gdt.base;
	g->gdtr.limit = gdt.limit;
	g->idtr.base = idt.base;
	g->idtr.limit = idt.limit;
	g->cpl = (g->ss.attrib >> 5) & 3; /* SS.DPL = CPL */
	g->efer = ahv_rdmsr(MSR_EFER);    /* SVME is already set (docs/pitfalls.md 3) */
	g->cr0 = ahv_read_cr0();
	g->cr3 = ahv_read_cr3();
	g->cr4 = ahv_read_cr4();
	g->cr2 = ahv_read_cr2();
	/* Upper halves of DR6/DR7 must be 0 or VMRUN fails (§15.5.1; docs/pitfalls.md 3). */
	g->dr7 = 0x400;
	g->dr6 = 0xFFFF0FF0;
	g->rflags = rflags;
	g->rip = rip;
	g->rsp = rsp;
	g->rax = 0; /* ahv_x86_launch returns 0 in the guest */
	g->g_pat = ahv_rdmsr(MSR_IA32_PAT);
	/* FS, GS, TR, LDTR (hidden parts too), KernelGsBase, STAR, LSTAR, CSTAR,
	 * SFMASK, SYSENTER_*: VMSAVE copies them exactly (APM Vol. 3 "VMSAVE"). */
	__asm__ volatile("vmsave" ::"a"(pa_of(s->vmcb)) : "memory");
}

/* ---- VMCB control area ------------------------------------------------- */
/* MSR permission map layout (§15.11). */
static const struct ahv_msr_bitmap_layout msrpm_layout = {{0, 0x800, 0x1000}, 2, 1};

static void setup_control(struct ahv_hv *hv, struct svm_vcpu *s)
{
	struct vmcb_control *c = &s->vmcb->ctl;
	c->intercept_misc1 = VMCB_I1_CPUID | VMCB_I1_MSR | VMCB_I1_SHUTDOWN | VMCB_I1_INVLPGA;
	c->intercept_exc = 1u << 30; /* #SX: a redirected INIT (§15.12, enter) */
	/* VMRUN must be intercepted or VMRUN fails (§15.5.1; docs/pitfalls.md 3). */
	c->intercept_misc2 = VMCB_I2_VMRUN | VMCB_I2_VMMCALL | VMCB_I2_VMLOAD | VMCB_I2_VMSAVE |
			     VMCB_I2_STGI | VMCB_I2_CLGI | VMCB_I2_SKINIT;
	/* MSRs: the allow-list (msr_policy.c). Among what exits: EFER (the
	 * guest must not clear SVME, §15.5.1, nor see it), VM_CR and
	 * VM_HSAVE_PA (a guest write to the host save area address would let
	 * it forge host state at #VMEXIT), the TSC (the hypervisor's clock). */
	ahv_msr_bitmap_init(s->msrpm, MSRPM_SIZE, &msrpm_layout, AHV_BACKEND_SVM,
			    !!(hv->handoff->policy & AHV_HO_SMP));
	c->msrpm_base_pa = pa_of(s->msrpm);
	if (ahv_io_intercepts(hv, s->iopm)) /* IOPM: one bit per port (§15.10.1) */
		c->intercept_misc1 |= VMCB_I1_IOIO;
	c->iopm_base_pa = pa_of(s->iopm);
	c->guest_asid = 1; /* ASID 0 is the host's; VMRUN fails with 0 (§15.5.1) */
	c->tlb_control = VMCB_TLB_FLUSH_ALL;
	c->np_control = 1; /* NP_ENABLE (§15.25.3 "Enabling Nested Paging") */
	c->n_cr3 = s->npt.root;
	c->clean_bits = 0; /* nothing cached: the CPU reloads every field (§15.15) */
}

/* ---- nested page tables --------------------------------------------------- */
static int build_npt(struct ahv_hv *hv, struct svm_vcpu *s)
{
	/* NPT entries carry U/S=1: nested walks are user accesses (§15.25.5;
	 * pitfall 4). Only page sizes the CPU advertises (docs/pitfalls.md 12). */
	s->npt.pool = &hv->pool;
	s->npt.table_bits = PTE_P | PTE_RW | PTE_US;
	s->npt.leaf_bits = PTE_P | PTE_RW | PTE_US;
	s->npt.max_leaf_level = ahv_has_1g_pages() ? 3 : 2;
	return ahv_nested_build(hv, &s->npt, &s->npt_top);
}

/* ---- event injection and RIP ---------------------------------------------- */
/* EVENTINJ (§15.20 "Event Injection"). */
void svm_inject(struct ahv_vcpu *v, unsigned vector, int has_err, uint32_t err)
{
	svm_of(v)->vmcb->ctl.eventinj = EVENTINJ_VALID | EVENTINJ_TYPE_EXC | vector |
					(has_err ? EVENTINJ_EV | (uint64_t)err << 32 : 0);
}
#define inject_gp(v) svm_inject((v), AHV_VEC_GP, 1, 0)

/* next_rip where NRIP save exists (§15.7.1), else the known length
 * (docs/pitfalls.md 2: QEMU TCG has no NRIPS). */
void svm_skip(struct ahv_vcpu *v, unsigned len)
{
	struct svm_vcpu *s = svm_of(v);
	if (s->nrips && s->vmcb->ctl.nrip)
		s->vmcb->save.rip = s->vmcb->ctl.nrip;
	else
		s->vmcb->save.rip += len;
}

/* ---- the guest state every consumer reads at an exit ------------------------ */
/* The one place the SVM back end fills struct ahv_vcpu_exit (hypercall,
 * xAPIC trap, and any later consumer): the guest's view, SVME hidden. */
void svm_exit_state(struct ahv_vcpu *v, struct ahv_vcpu_exit *x)
{
	const struct vmcb_save *g = &svm_of(v)->vmcb->save;
	*x = (struct ahv_vcpu_exit){
		.cr0 = g->cr0,
		.cr3 = g->cr3,
		.cr4 = g->cr4,
		.efer = g->efer & ~EFER_SVME, /* SVM is hidden from the guest */
		/* 64-bit mode: EFER.LMA and CS.L, descriptor bit 53 = attrib
		 * bit 9 (§15.5.1 segment attribute format; APM Vol. 2 §4.8.1). */
		.cs_l = (g->efer & EFER_LMA) && (g->cs.attrib & (1u << 9)),
		/* CPL: VMCB state-save offset 0xCB (APM Vol. 2 Appendix B). */
		.cpl = g->cpl,
		.apic_id = v->apic_id,
		/* PKRU is not in the VMCB: the host's is the guest's. */
		.pkru = ahv_guest_pkru(g->cr4),
	};
}

/* ---- exit handlers ------------------------------------------------------------- */
/* EFER bits a guest may write (APM Vol. 2 §3.1.7): the architectural ones,
 * and FFXSR/TCE only where this CPU has them (CPUID Fn8000_0001_EDX[25],
 * Fn8000_0001_ECX[17]; APM Vol. 3 Appendix E): a bit the CPU lacks is
 * reserved, so #GP, never a VMRUN that fails on it. LMSLE is never offered
 * (CPUs since family 19h lack it, Fn8000_0008_EBX[20], and an emulator may
 * not say): docs/threat-model.md lists the difference. */
static uint64_t efer_writable(void)
{
	static uint64_t mask;
	if (!mask) {
		uint32_t r[4];
		mask = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME;
		ahv_cpuid(0x80000001u, 0, r);
		if (r[3] & (1u << 25))
			mask |= EFER_FFXSR;
		if (r[2] & (1u << 17))
			mask |= EFER_TCE;
	}
	return mask;
}

static void exit_msr(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct svm_vcpu *s = svm_of(v);
	uint32_t msr = (uint32_t)v->gprs.rcx;
	int write = s->vmcb->ctl.exitinfo1 == 1; /* EXITINFO1: 0 RDMSR, 1 WRMSR (§15.11) */
	if (msr == MSR_EFER) {
		uint64_t cur = s->vmcb->save.efer;
		if (!write) {
			ahv_gpr_set_edx_eax(v, cur & ~EFER_SVME); /* SVM is hidden */
		} else {
			uint64_t val = ahv_gpr_edx_eax(v);
			/* Reserved bits, or toggling LME while paging is on: #GP
			 * (APM Vol. 2 §3.1.7 and §14.6.1). */
			if ((val & ~efer_writable()) ||
			    ((s->vmcb->save.cr0 & CR0_PG) && ((val ^ cur) & EFER_LME))) {
				inject_gp(v);
				return;
			}
			/* LMA is set by the processor, not by WRMSR; SVME stays on. */
			s->vmcb->save.efer = (val & ~EFER_LMA) | (cur & EFER_LMA) | EFER_SVME;
		}
		svm_skip(v, 2);
		return;
	}
	/* The allow-list (msr_emulate.c): VM_CR and VM_HSAVE_PA do not exist
	 * for a guest without SVM (#GP), the TSC is emulated, ... */
	if (ahv_vcpu_msr(hv, v, msr, write)) {
		inject_gp(v);
		return;
	}
	svm_skip(v, 2);
}

static void exit_ioio(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct svm_vcpu *s = svm_of(v);
	/* EXITINFO1 layout and EXITINFO2 = next RIP: APM §15.10.2. */
	uint64_t info = s->vmcb->ctl.exitinfo1;
	unsigned size = (info >> IOIO_SZ_SHIFT) & 7; /* one-hot 1/2/4 bytes */
	s->vmcb->save.rip = s->vmcb->ctl.exitinfo2;
	ahv_vcpu_io(hv, v, (uint16_t)(info >> IOIO_PORT_SHIFT), size, !!(info & IOIO_TYPE_IN),
		    !!(info & IOIO_STR), !!(info & IOIO_REP));
}

static void exit_npf(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct svm_vcpu *s = svm_of(v);
	if (svm_xapic_write(hv, v))
		return;
	/* EXITINFO1 = #PF-style error code, EXITINFO2 = guest-physical address
	 * (§15.25.6 "Nested versus Guest Page Faults, Fault Ordering"). */
	/* P=1 and W=1 (bits 0, 1): a write to a present read-only frame, a
	 * watched one (docs/watch.md): recorded, writable again, retried. */
	if ((s->vmcb->ctl.exitinfo1 & 3) == 3 &&
	    ahv_nested_watch_fault(hv, s->npt_shared, v, s->vmcb->ctl.exitinfo2, s->vmcb->save.rip, PTE_RW)) {
		s->vmcb->ctl.tlb_control = VMCB_TLB_FLUSH_ALL;
		return;
	}
	/* The nested tables are shared by all CPUs (smp = on): one mapper. */
	static uint32_t lock;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		ahv_pause();
	enum ahv_nested_fault f = ahv_nested_fault(hv, s->npt_shared, &svm_cpu0.npt_top, s->vmcb->ctl.exitinfo2,
						   s->vmcb->save.rip, s->vmcb->ctl.exitinfo1, &v->hv_mem_faults);
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	switch (f) {
	case AHV_NF_MAPPED:
		s->vmcb->ctl.tlb_control = VMCB_TLB_FLUSH_ALL;
		break;
	default:
		inject_gp(v);
	}
}

void svm_dump(struct ahv_vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	struct vmcb_save *g = &s->vmcb->save;
	struct vmcb_control *c = &s->vmcb->ctl;
	ahv_log("guest: exit %lx info1 %lx info2 %lx intinfo %lx\n", c->exitcode, c->exitinfo1,
		c->exitinfo2, c->exitintinfo);
	ahv_log("guest: rip %016lx rsp %016lx rflags %016lx cpl %u\n", g->rip, g->rsp, g->rflags, g->cpl);
	ahv_log("guest: cr0 %016lx cr3 %016lx cr4 %016lx efer %lx cr2 %lx\n", g->cr0, g->cr3, g->cr4,
		g->efer, g->cr2);
	ahv_log("guest: cs %04x/%03x ss %04x/%03x gdtr %lx/%x idtr %lx/%x\n", g->cs.selector,
		g->cs.attrib, g->ss.selector, g->ss.attrib, g->gdtr.base, g->gdtr.limit, g->idtr.base,
		g->idtr.limit);
	ahv_log("guest: rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", g->rax, v->gprs.rbx,
		v->gprs.rcx, v->gprs.rdx);
	ahv_log("guest: rsi %016lx rdi %016lx rbp %016lx\n", v->gprs.rsi, v->gprs.rdi, v->gprs.rbp);
	ahv_log("host: cr3 %016lx rsp %p nrips %d npt %lx\n", ahv_read_cr3(), (void *)&s, s->nrips,
		s->npt.root);
	ahv_vcpu_print_counters(v);
}

static void panic_dump(void) { svm_dump(&vcpu0); }

/* ---- the exit table ---------------------------------------------------------- */
static uint64_t svm_cr4(struct ahv_vcpu *v) { return svm_of(v)->vmcb->save.cr4; }

static const struct ahv_exit_ops svm_exit_ops = {
	.state = svm_exit_state, .cr4 = svm_cr4, .skip = svm_skip, .inject = svm_inject, .dump = svm_dump,
};

/* Exit codes (APM Vol. 2 Appendix C, Table C-1) below 0x100 index the table
 * directly; VMEXIT_NPF (0x400) takes the slot after them. */
#define SLOT_NPF 0x100
static unsigned exit_slot(uint64_t code) { return code < 0x100 ? (unsigned)code : code == VMEXIT_NPF ? SLOT_NPF : ~0u; }

/* An exit code without a handler here was not asked for. */
static const ahv_exit_fn svm_exits[SLOT_NPF + 1] = {
	[VMEXIT_CPUID] = ahv_exit_cpuid,
	[VMEXIT_MSR] = exit_msr,
	[VMEXIT_IOIO] = exit_ioio,
	[VMEXIT_VMMCALL] = ahv_exit_hypercall,
	/* SVM is not offered to the guest: these are undefined for it (#UD,
	 * APM Vol. 3 each instruction's exceptions). */
	[VMEXIT_VMRUN] = ahv_exit_ud,
	[VMEXIT_VMLOAD] = ahv_exit_ud,
	[VMEXIT_VMSAVE] = ahv_exit_ud,
	[VMEXIT_STGI] = ahv_exit_ud,
	[VMEXIT_CLGI] = ahv_exit_ud,
	[VMEXIT_SKINIT] = ahv_exit_ud,
	[VMEXIT_INVLPGA] = ahv_exit_ud,
	[SLOT_NPF] = exit_npf,
	[VMEXIT_NMI] = svm_exit_nmi,    /* svm_smp.c */
	/* #SX (exception 30): an INIT that VM_CR.R_INIT redirected (§15.30.1) */
	[VMEXIT_EXCP_BASE + 30] = svm_exit_init_signal, /* svm_smp.c */
	[VMEXIT_HLT] = svm_exit_hlt,    /* svm_smp.c */
	[VMEXIT_MWAIT] = svm_exit_hlt,  /* MWAIT with IF=0 waits like HLT here (EDK2's AP loop) */
	/* Triple fault or shutdown condition in the guest (§15.9). */
	[VMEXIT_SHUTDOWN] = ahv_exit_shutdown,
};

static __attribute__((noreturn)) void svm_loop(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	struct vmcb *vmcb = s->vmcb;
	for (;;) {
		vmcb->save.rax = v->gprs.rax;
		vmcb->save.rsp = v->gprs.rsp;
		vmcb->ctl.tsc_offset = (uint64_t)v->tsc_offset; /* msr_emulate.c; clean bits are 0 */
		uint32_t gen = __atomic_load_n(&ahv_nested_gen, __ATOMIC_SEQ_CST);
		if (gen != s->nested_gen) { /* a frame was write-protected (nested_watch.c) */
			vmcb->ctl.tlb_control = VMCB_TLB_FLUSH_ALL;
			s->nested_gen = gen;
		}
		ahv_svm_run(&v->gprs, pa_of(vmcb), pa_of(s->host_vmcb));
		v->gprs.rax = vmcb->save.rax;
		v->gprs.rsp = vmcb->save.rsp;
		vmcb->ctl.tlb_control = 0;
		/* An exit during event delivery leaves the event in EXITINTINFO;
		 * deliver it again unless a handler injects something else
		 * (APM §15.7.2 "Intercepts During IDT Interrupt Delivery"). */
		vmcb->ctl.eventinj = (vmcb->ctl.exitintinfo & EVENTINJ_VALID) ? vmcb->ctl.exitintinfo : 0;
		uint64_t code = vmcb->ctl.exitcode;
		ahv_vcpu_count_exit(v, code);
		unsigned slot = exit_slot(code);
		ahv_exit_fn h = slot <= SLOT_NPF ? svm_exits[slot] : NULL;
		if (!h) {
			/* VMEXIT_INVALID: VMRUN refused the guest state (APM Vol. 2
			 * §15.5.1); any other code was never intercepted (§15.9,
			 * Appendix C). Either way a logged guest shutdown. */
			ahv_exit_unasked(hv, v, code == VMEXIT_INVALID ? "VMRUN failure (VMEXIT_INVALID, APM Vol. 2 §15.5.1)"
								: "#VMEXIT code (APM Vol. 2 Appendix C)",
					 code);
		}
		h(hv, v);
	}
}

/* INIT would reset this CPU out of the hypervisor (APM §15.13.3: an
 * intercepted INIT stays pending). VM_CR.R_INIT turns it into #SX
 * (§15.30.1), intercepted in the guest (setup_control) and handled by the
 * host IDT (desc.c): an emulated INIT. Set with GIF=0 and the host IDT
 * loaded. QEMU TCG has no VM_CR (reads 0, drops writes): logged. */
static void redirect_init(struct ahv_vcpu *v)
{
	ahv_wrmsr(MSR_VM_CR, ahv_rdmsr(MSR_VM_CR) | VM_CR_R_INIT);
	uint64_t cr = ahv_rdmsr(MSR_VM_CR);
	if (cr & VM_CR_R_INIT)
		__atomic_store_n(&ahv_init_redirected, 1, __ATOMIC_RELEASE);
	else
		ahv_log("ahv: cpu %u: VM_CR.R_INIT does not stick (VM_CR reads %lx): an INIT that is not "
			"trapped at its source resets this CPU (docs/hostile.md)\n", v->index, cr);
}

/* Runs on the host stack, still on the firmware's CR3/GDT/IDT. */
static __attribute__((noreturn)) void enter(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t guest_rsp,
					   uint64_t guest_rip)
{
	struct svm_vcpu *s = v->arch;
	uint64_t rflags = ahv_read_rflags();
	capture_guest(s, guest_rsp, guest_rip, rflags);
	v->gprs.rsp = guest_rsp;
	v->gprs.rax = 0;
	/* From here on no interrupt reaches the host: GIF=0, and VMRUN/#VMEXIT
	 * keep it so in the host (§15.17; docs/pitfalls.md 8). */
	ahv_clgi();
	ahv_cli();
	/* Our own page tables, GDT, IDT, TSS in runtime memory (docs/pitfalls.md 5). */
	ahv_write_cr3(hv->host_pt.root);
	ahv_desc_load(v->desc ? v->desc : hv->desc);
	redirect_init(v);
	if (v->index == 0)
		ahv_panic_hook = panic_dump;
	ahv_log("ahv: cpu %u: entering the guest at rip %lx rsp %lx (cr3 %lx)\n", v->index, guest_rip,
		guest_rsp, s->vmcb->save.cr3);
	svm_loop(hv, v);
}

/* The ops table's host_entry, on the boot CPU and on each AP: arg is the
 * CPU's struct ahv_vcpu (ahv_x86_launch; the resident copy's ahv_hv_g). */
static void svm_host_entry(void *arg, uint64_t guest_rsp, uint64_t guest_rip)
{
	enter(&ahv_hv_g, arg, guest_rsp, guest_rip);
}

static int svm_prepare(struct ahv_hv *hv)
{
	struct svm_vcpu *s = &svm_cpu0;
	struct ahv_vcpu *v = &vcpu0;
	char *err = hv->handoff->error;
	uint32_t r[4];

	v->arch = s;
	hv->vcpu = v;
	ahv_cpuid(0x8000000Au, 0, r);
	s->nrips = (r[3] & CPUID_8000_000A_EDX_NRIPS) != 0;
	ahv_cpuid(1, 0, r);
	v->apic_id = r[1] >> 24;
	s->vmcb = ahv_pool_ptr(&hv->pool, 1);
	s->host_vmcb = ahv_pool_ptr(&hv->pool, 1);
	s->hsave_pa = ahv_pool_pages(&hv->pool, 1);
	s->msrpm = ahv_pool_ptr(&hv->pool, MSRPM_SIZE / 4096);
	s->iopm = ahv_pool_ptr(&hv->pool, IOPM_SIZE / 4096);
	if (!s->vmcb || !s->host_vmcb || !s->hsave_pa || !s->msrpm || !s->iopm) {
		ahv_snprintf(err, sizeof(hv->handoff->error), "hypervisor memory pool too small for the VMCB");
		return -1;
	}
	if (build_npt(hv, s)) {
		ahv_snprintf(err, sizeof(hv->handoff->error), "hypervisor memory pool too small for the nested page tables");
		return -1;
	}
	s->npt_shared = &s->npt;
	if (hv->handoff->policy & AHV_HO_SMP) {
		if (ahv_smp_xapic_usable(err, sizeof(hv->handoff->error)))
			return -1;
		/* Writes to the xAPIC page exit: INIT/SIPI are emulated (docs/smp.md);
		 * to the I/O APICs and the MSI range too (INIT refused there). */
		if (ahv_smp_protect(hv, &s->npt, PTE_RW, err, sizeof(hv->handoff->error)))
			return -1;
	}
	setup_control(hv, s);
	/* smp = on: stops for snapshot consistency kick with an NMI (docs/smp.md). */
	if (hv->handoff->policy & AHV_HO_SMP)
		s->vmcb->ctl.intercept_misc1 |= VMCB_I1_NMI;
	ahv_log("ahv: svm: nrips %d, npt %s pages up to %lx, %lu KiB of pool used\n", s->nrips,
		s->npt.max_leaf_level == 3 ? "1G" : "2M", s->npt_top, hv->pool.used / 1024);
	/* Enable SVM (§15.4) and name the host save area (§15.30.4). */
	ahv_wrmsr(MSR_EFER, ahv_rdmsr(MSR_EFER) | EFER_SVME);
	ahv_wrmsr(MSR_VM_HSAVE_PA, s->hsave_pa);
	return 0;
}

/* smp = on: an application processor, on that processor. It shares the
 * boot CPU's NPT, MSR and I/O permission maps; it has its own VMCBs and
 * host save area. HLT is intercepted (svm_exit_hlt, svm_smp.c). */
static int svm_prepare_ap(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct svm_vcpu *s = ahv_pool_ptr(&hv->pool, (sizeof(*s) + 4095) / 4096);
	if (!s)
		return -1;
	*s = svm_cpu0;
	s->vmcb = ahv_pool_ptr(&hv->pool, 1);
	s->host_vmcb = ahv_pool_ptr(&hv->pool, 1);
	s->hsave_pa = ahv_pool_pages(&hv->pool, 1);
	if (!s->vmcb || !s->host_vmcb || !s->hsave_pa)
		return -1;
	v->arch = s;
	setup_control(hv, s);
	s->vmcb->ctl.n_cr3 = svm_cpu0.npt.root;
	s->vmcb->ctl.intercept_misc1 |= VMCB_I1_HLT | VMCB_I1_NMI;
	s->vmcb->ctl.intercept_misc2 |= VMCB_I2_MWAIT;
	ahv_wrmsr(MSR_EFER, ahv_rdmsr(MSR_EFER) | EFER_SVME);
	ahv_wrmsr(MSR_VM_HSAVE_PA, s->hsave_pa);
	return 0;
}

/* ---- for hv_main.c ------------------------------------------------------- */
/* Watched regions: R/W of the frame's 4 KiB leaf in the shared NPT
 * (APM Vol. 2 §5.4.1; NPT entries are long-mode entries, §15.25.5). */
static int svm_nested_protect(struct ahv_hv *hv, uint64_t gpa, int protect)
{
	(void)hv;
	return ahv_nested_wp(svm_cpu0.npt_shared, gpa, protect, PTE_RW);
}

static void svm_nested_info(struct ahv_vcpu *v, struct ahv_nested *n)
{
	struct svm_vcpu *s = v->arch;
	n->format = AHV_NESTED_NPT;
	/* NPT walks use the host's paging mode at VMRUN (§15.25.3). */
	n->levels = (ahv_read_cr4() & CR4_LA57) ? 5 : 4;
	n->page_1g = s->npt.max_leaf_level == 3;
	n->nxe = (ahv_rdmsr(MSR_EFER) & EFER_NXE) != 0;
	n->root = s->vmcb->ctl.n_cr3;
}

const struct ahv_vmm_ops ahv_svm_ops = {
	.name = "AMD SVM",
	.backend = AHV_BACKEND_SVM,
	.probe = svm_probe,
	.prepare = svm_prepare,
	.host_entry = svm_host_entry,
	.nested_info = svm_nested_info,
	.exit = &svm_exit_ops,
	.prepare_ap = svm_prepare_ap,
	.nested_protect = svm_nested_protect,
};
