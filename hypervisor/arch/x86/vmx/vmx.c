/*
 * vmx.c - the Intel VT-x back end: capabilities from the VMX MSRs, VMXON,
 * a VMCS built from the running state, EPT, VPID, and the exit handlers,
 * dispatched through a table indexed by basic exit reason. Section numbers:
 * see vmx.h (Intel SDM 325462-080 or later; Vol. 3C chapters 24-31, Vol. 3D
 * appendices A-C).
 */
#include <string.h>
#include "attest/wire.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/fixup.h"
#include "ahv/x86/xcr.h"
#include "ahv/x86/crcheck.h"
#include "ahv/x86/msr_policy.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/log.h"
#include "ahv/x86/nested.h"
#include "ahv/x86/smp.h"
#include "vmx.h"

#define CPUID_1_ECX_VMX (1u << 5) /* §24.6 "Discovering Support for VMX" */
#define MSR_BITMAP_SIZE 4096      /* §25.6.9 */
#define IO_BITMAP_SIZE 8192       /* §25.6.4: A (ports 0-7FFF) then B */

static struct vmx_caps caps;
const struct vmx_caps *const vmx_cpu_caps = &caps; /* for vmx_smp.c */
static struct vmx_vcpu vmx_cpu0;
static struct ahv_vcpu vcpu0;

int ahv_vmx_run(struct ahv_gprs *g, int launched, const uint32_t *nmi);
void ahv_vmx_exit(void);

static inline uint64_t pa_of(const void *p) { return (uint64_t)(uintptr_t)p; }

/* ---- capabilities (Appendix A) -------------------------------------------- */
/* A control MSR: bits 31:0 allowed-0 settings (a 1 there: the control must
 * be 1), bits 63:32 allowed-1 settings (a 0 there: must be 0) (A.3-A.5). */
static uint32_t adjust(uint64_t msr_val, uint32_t want)
{
	return (want | (uint32_t)msr_val) & (uint32_t)(msr_val >> 32);
}

static int vmx_probe(char *why, size_t cap)
{
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	if (!(r[2] & CPUID_1_ECX_VMX)) {
		ahv_snprintf(why, cap, "this CPU does not offer Intel VT-x (CPUID.1:ECX[5] is 0)");
		return -1;
	}
	/* IA32_FEATURE_CONTROL (§24.7): locked with VMX-outside-SMX clear means
	 * the firmware turned VT-x off; VMXON would #GP. */
	uint64_t fc = ahv_rdmsr(MSR_IA32_FEATURE_CONTROL);
	if ((fc & FEATURE_CONTROL_LOCK) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
		ahv_snprintf(why, cap, "Intel VT-x is disabled by the firmware (IA32_FEATURE_CONTROL is locked "
				       "with VMX off): enable \"Intel Virtualization Technology\" in the firmware setup");
		return -1;
	}
	caps.basic = ahv_rdmsr(MSR_IA32_VMX_BASIC);
	int t = (caps.basic & VMX_BASIC_TRUE_CTLS) != 0; /* A.2: TRUE controls when bit 55 */
	caps.pin = ahv_rdmsr(t ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS);
	caps.proc = ahv_rdmsr(t ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS);
	caps.exit = ahv_rdmsr(t ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS);
	caps.entry = ahv_rdmsr(t ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS);
	caps.misc = ahv_rdmsr(MSR_IA32_VMX_MISC);
	caps.cr0_fixed0 = ahv_rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	caps.cr0_fixed1 = ahv_rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	caps.cr4_fixed0 = ahv_rdmsr(MSR_IA32_VMX_CR4_FIXED0);
	caps.cr4_fixed1 = ahv_rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	/* Secondary controls and EPT/VPID capabilities exist only when the
	 * primary controls allow "activate secondary controls" (A.3.3, A.10). */
	if (!((caps.proc >> 32) & PROC_SECONDARY)) {
		ahv_snprintf(why, cap, "this CPU's VT-x has no secondary controls, so no EPT");
		return -1;
	}
	caps.proc2 = ahv_rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
	if (!((caps.proc2 >> 32) & PROC2_EPT)) {
		ahv_snprintf(why, cap, "this CPU's VT-x has no EPT (IA32_VMX_PROCBASED_CTLS2 bit 33 is 0)");
		return -1;
	}
	caps.ept_vpid = ahv_rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	const char *miss = NULL;
	if (VMX_BASIC_SIZE(caps.basic) > 4096 || (caps.basic & VMX_BASIC_32BIT_PA))
		miss = "a VMCS region within one page and 64-bit addresses (IA32_VMX_BASIC)";
	else if (VMX_BASIC_MEMTYPE(caps.basic) != MT_WB)
		miss = "write-back VMCS memory (IA32_VMX_BASIC bits 53:50)";
	else if (!(caps.ept_vpid & EPT_CAP_WALK4) || !(caps.ept_vpid & EPT_CAP_WB))
		miss = "4-level EPT with write-back paging structures (IA32_VMX_EPT_VPID_CAP bits 6, 14)";
	else if (!(caps.ept_vpid & EPT_CAP_INVEPT) ||
		 !(caps.ept_vpid & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL)))
		miss = "INVEPT (IA32_VMX_EPT_VPID_CAP bits 20, 25/26)";
	else if ((adjust(caps.proc, PROC_USE_MSR_BITMAPS | PROC_SECONDARY) &
		  (PROC_USE_MSR_BITMAPS | PROC_SECONDARY)) != (PROC_USE_MSR_BITMAPS | PROC_SECONDARY))
		miss = "MSR bitmaps";
	else if ((adjust(caps.exit, EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER) &
		  (EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER)) != (EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER))
		miss = "64-bit hosts with IA32_EFER save/load on VM exit";
	else if ((adjust(caps.entry, ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER) & (ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER)) !=
		 (ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER))
		miss = "64-bit guests with IA32_EFER load on VM entry";
	if (miss) {
		ahv_snprintf(why, cap, "this CPU's VT-x lacks %s", miss);
		return -1;
	}
	return 0;
}

/* ---- guest state from the running CPU (§25.4) ----------------------------- */
static void guest_seg(enum vmx_seg i, uint16_t sel, const struct ahv_dtr *gdt)
{
	struct ahv_seg s;
	ahv_seg_read(&s, sel, gdt);
	/* Access rights: descriptor bits 47:40 in 7:0 and 55:52 in 15:12,
	 * bit 16 unusable (§25.4.1 Table 25-2). */
	uint32_t ar = s.attr ? ((s.attr & 0xffu) | (uint32_t)(s.attr & 0xf00u) << 4) : VMX_AR_UNUSABLE;
	if (i == VSEG_TR && !s.attr) {
		/* The firmware may run without a TSS; VM entry wants a usable
		 * busy 64-bit TSS in TR (§27.3.1.2): an empty one at 0. */
		ar = 0x8B;
		s.limit = 0x67;
	}
	vmwrite(VMCS_GUEST_ES_SEL + 2 * i, sel);
	vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, s.limit);
	vmwrite(VMCS_GUEST_ES_AR + 2 * i, ar);
	vmwrite(VMCS_GUEST_ES_BASE + 2 * i, s.base);
}

static uint16_t read_ldtr(void)
{
	uint16_t v;
	__asm__ volatile("sldt %0" : "=r"(v));
	return v;
}

static void capture_guest(uint64_t cr0, uint64_t cr4, uint64_t rsp, uint64_t rip, uint64_t rflags)
{
	struct ahv_dtr gdt, idt;
	ahv_sgdt(&gdt);
	ahv_sidt(&idt);
	guest_seg(VSEG_ES, ahv_read_es(), &gdt);
	guest_seg(VSEG_CS, ahv_read_cs(), &gdt);
	guest_seg(VSEG_SS, ahv_read_ss(), &gdt);
	guest_seg(VSEG_DS, ahv_read_ds(), &gdt);
	guest_seg(VSEG_FS, ahv_read_fs(), &gdt);
	guest_seg(VSEG_GS, ahv_read_gs(), &gdt);
	guest_seg(VSEG_LDTR, read_ldtr(), &gdt);
	guest_seg(VSEG_TR, ahv_str(), &gdt);
	/* In 64-bit mode FS/GS bases live in MSRs (Vol. 3A §3.4.4.1). */
	vmwrite(VMCS_GUEST_ES_BASE + 2 * VSEG_FS, ahv_rdmsr(MSR_FS_BASE));
	vmwrite(VMCS_GUEST_ES_BASE + 2 * VSEG_GS, ahv_rdmsr(MSR_GS_BASE));
	vmwrite(VMCS_GUEST_GDTR_BASE, gdt.base);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, gdt.limit);
	vmwrite(VMCS_GUEST_IDTR_BASE, idt.base);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, idt.limit);
	/* CR0/CR4: the firmware's values; the bits VMX fixes are owned by the
	 * host (mask) and the guest reads its own values (shadow) (§25.6.6). */
	cr4 &= ~CR4_VMXE;
	vmwrite(VMCS_CR0_SHADOW, cr0);
	vmwrite(VMCS_CR4_SHADOW, cr4);
	vmwrite(VMCS_GUEST_CR0, (cr0 | caps.cr0_fixed0) & caps.cr0_fixed1);
	vmwrite(VMCS_GUEST_CR3, ahv_read_cr3());
	vmwrite(VMCS_GUEST_CR4, (cr4 | caps.cr4_fixed0) & caps.cr4_fixed1);
	vmwrite(VMCS_GUEST_DR7, 0x400);
	vmwrite(VMCS_GUEST_RSP, rsp);
	vmwrite(VMCS_GUEST_RIP, rip);
	vmwrite(VMCS_GUEST_RFLAGS, rflags);
	vmwrite(VMCS_GUEST_EFER, ahv_rdmsr(MSR_EFER));
	vmwrite(VMCS_GUEST_PAT, ahv_rdmsr(MSR_IA32_PAT));
	vmwrite(VMCS_GUEST_DEBUGCTL, 0);
	vmwrite(VMCS_GUEST_SYSENTER_CS, ahv_rdmsr(MSR_IA32_SYSENTER_CS));
	vmwrite(VMCS_GUEST_SYSENTER_ESP, ahv_rdmsr(MSR_IA32_SYSENTER_ESP));
	vmwrite(VMCS_GUEST_SYSENTER_EIP, ahv_rdmsr(MSR_IA32_SYSENTER_EIP));
	/* §25.4.2: active, no blocking, no pending debug exceptions, and the
	 * VMCS link pointer all ones (§27.3.1.5). */
	vmwrite(VMCS_GUEST_ACTIVITY, VMX_ACTIVITY_ACTIVE);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmwrite(VMCS_GUEST_PENDING_DBG, 0);
	vmwrite(VMCS_LINK_POINTER, ~0ull);
}

/* ---- host state (§25.5): the hypervisor's own tables and stack ----------- */
static void host_state(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct ahv_host_desc *d = v->desc ? v->desc : hv->desc;
	vmwrite(VMCS_HOST_CR0, ahv_read_cr0());
	vmwrite(VMCS_HOST_CR3, hv->host_pt.root);
	vmwrite(VMCS_HOST_CR4, ahv_read_cr4());
	vmwrite(VMCS_HOST_CS_SEL, AHV_HOST_CS);
	vmwrite(VMCS_HOST_SS_SEL, AHV_HOST_DS);
	vmwrite(VMCS_HOST_DS_SEL, AHV_HOST_DS);
	vmwrite(VMCS_HOST_ES_SEL, AHV_HOST_DS);
	vmwrite(VMCS_HOST_FS_SEL, 0);
	vmwrite(VMCS_HOST_GS_SEL, 0);
	vmwrite(VMCS_HOST_TR_SEL, AHV_HOST_TSS);
	vmwrite(VMCS_HOST_FS_BASE, 0);
	vmwrite(VMCS_HOST_GS_BASE, 0);
	vmwrite(VMCS_HOST_TR_BASE, pa_of(d->tss));
	vmwrite(VMCS_HOST_GDTR_BASE, d->gdtr_base);
	vmwrite(VMCS_HOST_IDTR_BASE, d->idtr_base);
	vmwrite(VMCS_HOST_SYSENTER_CS, 0);
	vmwrite(VMCS_HOST_SYSENTER_ESP, 0);
	vmwrite(VMCS_HOST_SYSENTER_EIP, 0);
	vmwrite(VMCS_HOST_EFER, ahv_rdmsr(MSR_EFER));
	vmwrite(VMCS_HOST_PAT, ahv_rdmsr(MSR_IA32_PAT));
	vmwrite(VMCS_HOST_RSP, v->host_stack_top); /* vmx_run.S rewrites it */
	vmwrite(VMCS_HOST_RIP, (uint64_t)(uintptr_t)ahv_vmx_exit);
}

/* ---- controls (§25.6-§25.8) ----------------------------------------------- */
/* MSR bitmap layout (§25.6.9): read-low at 0, read-high at 0x400, the
 * write bitmaps 0x800 bytes later; nothing for C001_xxxx (always exits). */
static const struct ahv_msr_bitmap_layout msr_bitmap_layout = {{0, 0x400, ~0u}, 1, 0x800 * 8};

static void setup_controls(struct ahv_hv *hv, struct vmx_vcpu *x)
{
	/* Pin-based: no external-interrupt exiting: interrupts go straight to
	 * the guest (§26.2; the host runs with IF=0). NMI exiting only with
	 * smp = on: a stop kicks the other CPUs with an NMI (docs/smp.md);
	 * vmx_exit_nmi (vmx_smp.c) hands the guest's own NMIs back. */
	/* With NMI exiting the guest's IRET no longer lifts NMI blocking
	 * (§26.3 "Changes to Instruction Behavior"): virtual NMIs, where the
	 * CPU offers them, let it lift the guest's own (virtual) blocking, and
	 * NMI-window exiting says when a held NMI can be injected. */
	uint32_t pin = (hv->handoff->policy & AHV_HO_SMP) ? PIN_NMI_EXITING | PIN_VIRTUAL_NMIS : 0;
	x->pin = adjust(caps.pin, pin);
	if ((x->pin & PIN_VIRTUAL_NMIS) && !((caps.proc >> 32) & PROC_NMI_WINDOW))
		x->pin &= ~PIN_VIRTUAL_NMIS; /* both or neither (§26.2.1.1) */
	vmwrite(VMCS_PIN_CTLS, x->pin);
	/* Primary: MSR bitmaps, secondary controls, I/O bitmaps when a port
	 * is intercepted. CR3 exiting off (EPT needs none); a CPU without TRUE
	 * controls may force them on: exit_cr handles CR3 too. */
	uint32_t want = PROC_USE_MSR_BITMAPS | PROC_SECONDARY | PROC_TSC_OFFSETTING;
	if (ahv_io_intercepts(hv, x->io_bitmap))
		want |= PROC_USE_IO_BITMAPS;
	x->proc = adjust(caps.proc, want);
	vmwrite(VMCS_PROC_CTLS, x->proc);
	/* Secondary: EPT, VPID, unrestricted guest (real mode after INIT/SIPI),
	 * and the instructions that would #UD in the guest without their
	 * control: RDTSCP, INVPCID, XSAVES (§25.6.2 Table 25-7). */
	want = PROC2_EPT | PROC2_UNRESTRICTED | PROC2_RDTSCP | PROC2_INVPCID | PROC2_XSAVES;
	/* VPID only with an INVVPID to flush it (A.10 bits 32, 41/42). */
	if ((caps.ept_vpid & VPID_CAP_INVVPID) && (caps.ept_vpid & (VPID_CAP_INVVPID_SINGLE | VPID_CAP_INVVPID_ALL)))
		want |= PROC2_VPID;
	x->proc2 = adjust(caps.proc2, want);
	vmwrite(VMCS_PROC_CTLS2, x->proc2);
	if (x->proc2 & PROC2_XSAVES)
		vmwrite(VMCS_XSS_EXIT_BITMAP, 0);
	uint32_t exit = adjust(caps.exit, EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT |
						  EXIT_LOAD_PAT | EXIT_SAVE_DEBUG);
	vmwrite(VMCS_EXIT_CTLS, exit);
	x->entry = adjust(caps.entry, ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER | ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG);
	vmwrite(VMCS_ENTRY_CTLS, x->entry);
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_EXCEPTION_BITMAP, 0);
	vmwrite(VMCS_PF_ERR_MASK, 0);
	vmwrite(VMCS_PF_ERR_MATCH, 0);
	vmwrite(VMCS_CR3_TARGET_COUNT, 0);
	/* CR0/CR4 bits fixed in VMX operation (A.7, A.8) belong to the host:
	 * fixed-1 bits and fixed-0 bits, minus PE/PG with unrestricted guest
	 * (§27.3.1.1); CR4.VMXE too. A guest write that changes one exits. */
	uint64_t cr0_fixed = caps.cr0_fixed0 | ~caps.cr0_fixed1;
	if (x->proc2 & PROC2_UNRESTRICTED)
		cr0_fixed &= ~(CR0_PE | CR0_PG);
	x->cr0_mask = cr0_fixed;
	x->cr4_mask = caps.cr4_fixed0 | ~caps.cr4_fixed1 | CR4_VMXE;
	vmwrite(VMCS_CR0_MASK, x->cr0_mask);
	vmwrite(VMCS_CR4_MASK, x->cr4_mask);
	/* MSRs: the allow-list (msr_policy.c): IA32_FEATURE_CONTROL and the
	 * VMX capability MSRs (VT-x is not offered to the guest), the TSC,
	 * tracing, APIC base and every MSR the policy does not name exit;
	 * EFER, PAT, FS/GS base etc. are switched by the VMCS and pass. */
	ahv_msr_bitmap_init(x->msr_bitmap, MSR_BITMAP_SIZE, &msr_bitmap_layout, AHV_BACKEND_VMX,
			    !!(hv->handoff->policy & AHV_HO_SMP));
	vmwrite(VMCS_TSC_OFFSET, 0);
	vmwrite(VMCS_MSR_BITMAP, pa_of(x->msr_bitmap));
	vmwrite(VMCS_IO_BITMAP_A, pa_of(x->io_bitmap));
	vmwrite(VMCS_IO_BITMAP_B, pa_of(x->io_bitmap) + 4096);
	vmwrite(VMCS_EPT_POINTER, x->eptp);
	if (x->proc2 & PROC2_VPID)
		vmwrite(VMCS_VPID, x->vpid); /* VPID 0 is the host's (§25.6.12) */
}

/* ---- EPT (§29.3) ------------------------------------------------------------- */
static int build_ept(struct ahv_hv *hv, struct vmx_vcpu *x)
{
	/* Only the leaf sizes IA32_VMX_EPT_VPID_CAP reports (A.10): a 1 GiB
	 * leaf without bit 17 is an EPT misconfiguration (docs/pitfalls.md B7). */
	x->ept.pool = &hv->pool;
	x->ept.table_bits = EPT_R | EPT_W | EPT_X;
	x->ept.leaf_bits = EPT_R | EPT_W | EPT_X;
	x->ept.max_leaf_level = (caps.ept_vpid & EPT_CAP_1G) ? 3 : (caps.ept_vpid & EPT_CAP_2M) ? 2 : 1;
	x->ept.leaf_attr = vmx_ept_leaf_attr;
	vmx_mtrr_init();
	if (ahv_nested_build(hv, &x->ept, &x->ept_top))
		return -1;
	x->eptp = x->ept.root | EPTP_WALK4 | EPTP_WB;
	return 0;
}

static void flush_ept(struct vmx_vcpu *x)
{
	if (caps.ept_vpid & EPT_CAP_INVEPT_SINGLE)
		vmx_invept(INVEPT_SINGLE, x->eptp);
	else
		vmx_invept(INVEPT_ALL, 0);
}

/* ---- events and RIP ------------------------------------------------------------ */
/* VM-entry interruption information (§25.8.3). */
void vmx_inject(struct ahv_vcpu *v, unsigned vector, int has_err, uint32_t err)
{
	(void)v;
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HW_EXC | vector | (has_err ? INTR_INFO_ERR : 0));
	if (has_err)
		vmwrite(VMCS_ENTRY_EXC_ERROR, err);
}
#define inject_ud() vmx_inject(NULL, AHV_VEC_UD, 0, 0)
#define inject_gp() vmx_inject(NULL, AHV_VEC_GP, 1, 0)

/* Past the exiting instruction: VM-exit instruction length (§25.9.4), and
 * blocking by STI / MOV SS ends with it (§25.4.2 Table 25-3). */
void vmx_advance_rip(uint64_t len)
{
	vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + len);
	uint64_t irq = vmread(VMCS_GUEST_INTERRUPTIBILITY);
	if (irq & 3)
		vmwrite(VMCS_GUEST_INTERRUPTIBILITY, irq & ~3ull);
}

static void skip_insn(void) { vmx_advance_rip(vmread(VMCS_EXIT_INSN_LEN)); }

/* The ops' skip: the CPU reports every exiting instruction's length. */
static void vmx_skip(struct ahv_vcpu *v, unsigned len)
{
	(void)v, (void)len;
	skip_insn();
}

/* ---- the guest state every consumer reads at an exit ------------------------ */
/* CPL = SS.DPL, access-rights bits 6:5 (§25.4.1, Table 25-2 note). */
static unsigned guest_cpl(void)
{
	return (unsigned)(vmread(VMCS_GUEST_ES_AR + 2 * VSEG_SS) >> 5) & 3;
}

/* CS.L, access-rights bit 13 (§25.4.1). */
static int guest_cs_l(void)
{
	return (vmread(VMCS_GUEST_ES_AR + 2 * VSEG_CS) >> 13) & 1;
}

/* The one place the VT-x back end fills struct ahv_vcpu_exit (hypercall,
 * xAPIC trap, and any later consumer): the guest's view, VMXE hidden. */
void vmx_exit_state(struct ahv_vcpu *v, struct ahv_vcpu_exit *e)
{
	*e = (struct ahv_vcpu_exit){
		.cr0 = vmread(VMCS_GUEST_CR0),
		.cr3 = vmread(VMCS_GUEST_CR3),
		.cr4 = vmread(VMCS_GUEST_CR4) & ~CR4_VMXE,
		.efer = vmread(VMCS_GUEST_EFER),
		/* 64-bit mode: IA32_EFER.LMA and CS.L (Vol. 3A §5.2.1). */
		.cs_l = (vmread(VMCS_GUEST_EFER) & EFER_LMA) && guest_cs_l(),
		.cpl = (uint8_t)guest_cpl(),
		.apic_id = v->apic_id,
	};
	/* PKRU is not in the VMCS: the host's is the guest's. */
	e->pkru = ahv_guest_pkru(e->cr4);
}

/* ---- exit handlers ----------------------------------------------------------------- */
static void exit_msr(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	uint32_t msr = (uint32_t)v->gprs.rcx;
	int write = (vmread(VMCS_EXIT_REASON) & 0xffff) == VMX_EXIT_WRMSR;
	uint64_t val = ahv_gpr_edx_eax(v);
	if (msr == MSR_IA32_FEATURE_CONTROL) {
		/* Locked, VMX off: what a guest without VT-x should see; a
		 * write to the locked MSR is #GP (§24.7). */
		if (write) {
			inject_gp();
			return;
		}
		v->gprs.rax = FEATURE_CONTROL_LOCK;
		v->gprs.rdx = 0;
	} else if (msr == MSR_IA32_DEBUGCTL) {
		/* The guest's IA32_DEBUGCTL lives in the VMCS (load/save debug
		 * controls, §25.4.1); no branch trace stores (msr_policy.h). */
		if (write && (val & ~AHV_DEBUGCTL_ALLOWED)) {
			inject_gp();
			return;
		}
		if (write) {
			vmwrite(VMCS_GUEST_DEBUGCTL, val);
		} else {
			ahv_gpr_set_edx_eax(v, vmread(VMCS_GUEST_DEBUGCTL));
		}
	} else if (ahv_vcpu_msr(hv, v, msr, write)) {
		/* The allow-list (msr_emulate.c): the VMX capability MSRs (no
		 * VT-x for the guest), tracing, unnamed writes: #GP. */
		inject_gp();
		return;
	}
	skip_insn();
}

/* XSETBV always exits (§26.1.2). The CPU's own rules decide (xcr.h); a
 * value the host CPU still refuses faults under the fixup (fixup.S) and
 * becomes the guest's #GP, never a host panic. */
static void exit_xsetbv(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv;
	uint32_t r[4];
	uint64_t val = ahv_gpr_edx_eax(v);
	ahv_cpuid(0xD, 0, r); /* XCR0 bits the CPU supports (Vol. 1 §13.2) */
	unsigned cpl = guest_cpl();
	/* CR4.OSXSAVE is guest-owned (not in the CR4 guest/host mask): the
	 * guest CR4 field holds it, the read shadow may be stale (§25.6.6). */
	int osxsave = (vmread(VMCS_GUEST_CR4) & CR4_OSXSAVE) != 0;
	enum ahv_xsetbv_fault f =
		ahv_xsetbv_check(osxsave, cpl, (uint32_t)v->gprs.rcx, val, (uint64_t)r[3] << 32 | r[0]);
	if (f == AHV_XSETBV_UD) {
		inject_ud();
		return;
	}
	if (f != AHV_XSETBV_OK) {
		inject_gp();
		return;
	}
	uint64_t cr4 = ahv_read_cr4();
	if (!(cr4 & CR4_OSXSAVE)) { /* the host needs OSXSAVE to execute it */
		__asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | CR4_OSXSAVE));
		vmwrite(VMCS_HOST_CR4, cr4 | CR4_OSXSAVE);
	}
	if (ahv_safe_xsetbv(0, val)) {
		ahv_log("ahv: vmx: guest XSETBV %lx refused by the CPU: #GP to the guest\n", val);
		inject_gp();
		return;
	}
	skip_insn();
}

static void exit_invd(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv, (void)v;
	/* INVD would drop the hypervisor's own dirty lines too: write back
	 * instead (INVD always exits in VMX non-root, §26.1.2). */
	__asm__ volatile("wbinvd" ::: "memory");
	skip_insn();
}

static void exit_io(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	/* Exit qualification for I/O (§28.2.1 Table 28-5): size - 1 in 2:0,
	 * IN bit 3, string bit 4, REP bit 5, port 31:16. */
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
	ahv_vcpu_io(hv, v, (uint16_t)(q >> 16), (unsigned)(q & 7) + 1, (q >> 3) & 1, (q >> 4) & 1, (q >> 5) & 1);
	skip_insn();
}

/* Guest CR0 write: the shadow gets what the guest wrote, the CPU the value
 * with the fixed bits applied; EFER.LMA and "IA-32e mode guest" follow
 * CR0.PG with EFER.LME (Vol. 3A §10.8.5). */
void vmx_write_cr0(struct vmx_vcpu *x, uint64_t val)
{
	uint64_t old = vmread(VMCS_GUEST_CR0);
	uint64_t fixed0 = caps.cr0_fixed0;
	if (x->proc2 & PROC2_UNRESTRICTED)
		fixed0 &= ~(CR0_PE | CR0_PG);
	vmwrite(VMCS_CR0_SHADOW, val);
	vmwrite(VMCS_GUEST_CR0, (val | fixed0) & caps.cr0_fixed1);
	if ((old ^ val) & CR0_PG) {
		uint64_t efer = vmread(VMCS_GUEST_EFER);
		int lma = (val & CR0_PG) && (efer & EFER_LME);
		vmwrite(VMCS_GUEST_EFER, lma ? efer | EFER_LMA : efer & ~EFER_LMA);
		x->entry = lma ? x->entry | ENTRY_IA32E_GUEST : x->entry & ~ENTRY_IA32E_GUEST;
		vmwrite(VMCS_ENTRY_CTLS, x->entry);
	}
}

/* The guest state a MOV to CR0/CR4 that exited is judged against
 * (crcheck.h): CR0/CR4 as the guest sees them (shadow for host-owned bits,
 * the VMCS field for the rest, §25.6.6). */
static void cr_ctx(struct vmx_vcpu *x, struct ahv_cr_ctx *c)
{
	c->cr0 = (vmread(VMCS_GUEST_CR0) & ~x->cr0_mask) | (vmread(VMCS_CR0_SHADOW) & x->cr0_mask);
	c->cr4 = (vmread(VMCS_GUEST_CR4) & ~x->cr4_mask) | (vmread(VMCS_CR4_SHADOW) & x->cr4_mask);
	c->cr3 = vmread(VMCS_GUEST_CR3);
	c->efer = vmread(VMCS_GUEST_EFER);
	c->cs_l = guest_cs_l();
}

static void exit_cr(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = vmx_of(v);
	(void)hv;
	/* Exit qualification for control-register accesses (§28.2.1 Table
	 * 28-3): CR number 3:0, access type 5:4 (0 MOV to CR, 1 MOV from CR,
	 * 2 CLTS, 3 LMSW), GPR 11:8, LMSW source 31:16. A write that exits was
	 * not checked by the CPU: crcheck.h applies the instruction's #GP
	 * rules before the VMCS takes it (a value VM entry refuses would
	 * otherwise stop the CPU). */
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	struct ahv_cr_ctx c;
	cr_ctx(x, &c);
	if (type == 0 && cr == 0) {
		uint64_t val = *ahv_gpr(v, reg);
		if (ahv_cr0_write_faults(&c, val)) {
			inject_gp();
			return;
		}
		vmx_write_cr0(x, val);
	} else if (type == 0 && cr == 4) {
		uint64_t val = *ahv_gpr(v, reg);
		/* VT-x is hidden: CR4.VMXE is reserved to the guest. */
		if (ahv_cr4_write_faults(&c, val, caps.cr4_fixed1 & ~CR4_VMXE)) {
			inject_gp();
			return;
		}
		vmwrite(VMCS_CR4_SHADOW, val);
		vmwrite(VMCS_GUEST_CR4, (val | caps.cr4_fixed0 | CR4_VMXE) & caps.cr4_fixed1);
		if (x->proc2 & PROC2_VPID) /* CR4.PCIDE/PGE changes flush (Vol. 3A §4.10.4.1) */
			vmx_invvpid((caps.ept_vpid & VPID_CAP_INVVPID_SINGLE) ? INVVPID_SINGLE : INVVPID_ALL, x->vpid);
	} else if (type == 0 && cr == 3) {
		vmwrite(VMCS_GUEST_CR3, *ahv_gpr(v, reg));
	} else if (type == 1 && cr == 3) {
		*ahv_gpr(v, reg) = vmread(VMCS_GUEST_CR3);
	} else if (type == 2) {
		vmx_write_cr0(x, c.cr0 & ~CR0_TS);
	} else if (type == 3) {
		/* LMSW loads CR0 bits 3:0 but cannot clear PE (Vol. 2A "LMSW"). */
		uint64_t src = (q >> 16) & 0xf;
		vmx_write_cr0(x, (c.cr0 & ~0xeull) | (src & 0xf) | (c.cr0 & CR0_PE));
	} else {
		/* MOV from CR0/CR4 never exits, CR8 is not intercepted: a CPU
		 * that reports it anyway gets a logged guest shutdown, not a
		 * hypervisor panic. */
		ahv_log("\nAHV-GUEST-SHUTDOWN: unexpected control-register exit, qualification %lx\n", q);
		vmx_dump(v);
		ahv_halt_forever();
	}
	skip_insn();
}

static void exit_ept_violation(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = vmx_of(v);
	/* Guest-physical address (§28.2.1, §25.9.1) and the exit qualification
	 * for EPT violations (§28.2.1 Table 28-7). */
	uint64_t gpa = vmread(VMCS_GUEST_PHYS_ADDR);
	if (vmx_xapic_write(hv, v, gpa)) /* smp = on: vmx_smp.c */
		return;
	/* A data write (qualification bit 1) to a frame the translation lets
	 * be read (bit 3; Table 28-7): a watched frame (docs/watch.md) is
	 * recorded, made writable and the write retried. */
	if ((vmread(VMCS_EXIT_QUALIFICATION) & 0xa) == 0xa &&
	    ahv_nested_watch_fault(hv, &vmx_cpu0.ept, v, gpa, vmread(VMCS_GUEST_RIP), EPT_W)) {
		flush_ept(x);
		return;
	}
	/* One EPT for all CPUs (smp = on), one mapper at a time. A mapping
	 * only ever appears here, and not-present entries are not cached
	 * (§29.4.2), so the other CPUs need no invalidation. */
	static uint32_t lock;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		ahv_pause();
	enum ahv_nested_fault f = ahv_nested_fault(hv, &vmx_cpu0.ept, &vmx_cpu0.ept_top, gpa, vmread(VMCS_GUEST_RIP),
						   vmread(VMCS_EXIT_QUALIFICATION), &v->hv_mem_faults);
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	switch (f) {
	case AHV_NF_MAPPED:
		flush_ept(x);
		break;
	default:
		inject_gp();
	}
}


static void exit_ept_misconfig(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = vmx_of(v);
	(void)hv;
	/* An EPT misconfiguration is a bug in our EPT (§29.3.3.1): log the
	 * address and the leaf, stop this CPU cleanly. */
	uint64_t gpa = vmread(VMCS_GUEST_PHYS_ADDR);
	int level = 0;
	uint64_t e = ahv_pt_lookup(&x->ept, gpa, &level);
	ahv_log("\nAHV-PANIC: EPT misconfiguration at gpa %lx (entry %lx, level %d, 1G leaves %d)\n", gpa, e,
		level, x->ept.max_leaf_level == 3);
	vmx_dump(v);
	ahv_halt_forever();
}

/* Task switch (§26.1.2: task switches always exit, whatever the
 * controls). Only a guest in legacy protected mode can switch tasks (IA-32e
 * mode refuses with #GP before any exit, Vol. 3A §8.7); the hypervisor does
 * not emulate the switch: the guest is stopped with a logged shutdown, the
 * outcome a guest could also reach by triple-faulting, never a hypervisor
 * panic. docs/conformance.md lists this difference. */
static void exit_task_switch(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	(void)hv;
	/* Exit qualification (§28.2.1 Table 28-6): selector 15:0, source 31:30
	 * (0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT). */
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
	ahv_log("\nAHV-GUEST-SHUTDOWN: the guest switched tasks (selector %lx, source %lu): task switches are not "
		"emulated; CPU halted\n", q & 0xffff, (q >> 30) & 3);
	vmx_dump(v);
	ahv_halt_forever();
}

/* Indexed by basic exit reason (Vol. 3D Appendix C). An exit without a
 * handler here was not asked for: panic with its number. */
static const ahv_exit_fn vmx_exits[VMX_EXIT_MAX] = {
	[VMX_EXIT_EXCEPTION_NMI] = vmx_exit_nmi,       /* vmx_smp.c */
	[VMX_EXIT_NMI_WINDOW] = vmx_exit_nmi_window,   /* vmx_smp.c */
	[VMX_EXIT_TRIPLE_FAULT] = ahv_exit_shutdown,
	[VMX_EXIT_TASK_SWITCH] = exit_task_switch,
	[VMX_EXIT_INIT] = vmx_exit_init,               /* vmx_smp.c */
	[VMX_EXIT_SIPI] = vmx_exit_sipi,               /* vmx_smp.c */
	[VMX_EXIT_CPUID] = ahv_exit_cpuid,
	[VMX_EXIT_GETSEC] = ahv_exit_ud, /* SMX is not offered either */
	[VMX_EXIT_INVD] = exit_invd,
	[VMX_EXIT_WBINVD] = exit_invd,
	[VMX_EXIT_VMCALL] = ahv_exit_hypercall,
	/* VT-x is not offered to the guest: its instructions are undefined
	 * there (each instruction's "Protected Mode Exceptions": #UD outside
	 * VMX). */
	[VMX_EXIT_VMCLEAR] = ahv_exit_ud,
	[VMX_EXIT_VMLAUNCH] = ahv_exit_ud,
	[VMX_EXIT_VMPTRLD] = ahv_exit_ud,
	[VMX_EXIT_VMPTRST] = ahv_exit_ud,
	[VMX_EXIT_VMREAD] = ahv_exit_ud,
	[VMX_EXIT_VMRESUME] = ahv_exit_ud,
	[VMX_EXIT_VMWRITE] = ahv_exit_ud,
	[VMX_EXIT_VMXOFF] = ahv_exit_ud,
	[VMX_EXIT_VMXON] = ahv_exit_ud,
	[VMX_EXIT_INVEPT] = ahv_exit_ud,
	[VMX_EXIT_INVVPID] = ahv_exit_ud,
	[VMX_EXIT_VMFUNC] = ahv_exit_ud,
	[VMX_EXIT_CR_ACCESS] = exit_cr,
	[VMX_EXIT_IO] = exit_io,
	[VMX_EXIT_RDMSR] = exit_msr,
	[VMX_EXIT_WRMSR] = exit_msr,
	[VMX_EXIT_XSETBV] = exit_xsetbv,
	[VMX_EXIT_EPT_VIOLATION] = exit_ept_violation,
	[VMX_EXIT_EPT_MISCONFIG] = exit_ept_misconfig,
};

void vmx_dump(struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = v->arch;
	ahv_log("guest: exit reason %lx qual %lx gpa %lx intinfo %lx idtvec %lx insn-error %lu\n",
		vmread(VMCS_EXIT_REASON), vmread(VMCS_EXIT_QUALIFICATION), vmread(VMCS_GUEST_PHYS_ADDR),
		vmread(VMCS_EXIT_INTR_INFO), vmread(VMCS_IDT_VECTORING_INFO), vmread(VMCS_VM_INSN_ERROR));
	ahv_log("guest: rip %016lx rsp %016lx rflags %016lx cpl %u\n", vmread(VMCS_GUEST_RIP),
		vmread(VMCS_GUEST_RSP), vmread(VMCS_GUEST_RFLAGS), guest_cpl());
	ahv_log("guest: cr0 %016lx cr3 %016lx cr4 %016lx efer %lx (shadows %lx %lx)\n", vmread(VMCS_GUEST_CR0),
		vmread(VMCS_GUEST_CR3), vmread(VMCS_GUEST_CR4), vmread(VMCS_GUEST_EFER), vmread(VMCS_CR0_SHADOW),
		vmread(VMCS_CR4_SHADOW));
	ahv_log("guest: cs %04lx/%05lx ss %04lx/%05lx tr %04lx/%05lx gdtr %lx/%lx idtr %lx/%lx\n",
		vmread(VMCS_GUEST_ES_SEL + 2 * VSEG_CS), vmread(VMCS_GUEST_ES_AR + 2 * VSEG_CS),
		vmread(VMCS_GUEST_ES_SEL + 2 * VSEG_SS), vmread(VMCS_GUEST_ES_AR + 2 * VSEG_SS),
		vmread(VMCS_GUEST_TR_SEL), vmread(VMCS_GUEST_ES_AR + 2 * VSEG_TR), vmread(VMCS_GUEST_GDTR_BASE),
		vmread(VMCS_GUEST_GDTR_LIMIT), vmread(VMCS_GUEST_IDTR_BASE), vmread(VMCS_GUEST_IDTR_LIMIT));
	ahv_log("guest: rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", v->gprs.rax, v->gprs.rbx, v->gprs.rcx,
		v->gprs.rdx);
	ahv_log("guest: rsi %016lx rdi %016lx rbp %016lx\n", v->gprs.rsi, v->gprs.rdi, v->gprs.rbp);
	ahv_log("host: cr3 %016lx eptp %lx proc %x proc2 %x entry %x vpid %u\n", ahv_read_cr3(), x->eptp,
		x->proc, x->proc2, x->entry, x->vpid);
	ahv_vcpu_print_counters(v);
}

static uint64_t vmx_cr4(struct ahv_vcpu *v)
{
	(void)v;
	return vmread(VMCS_GUEST_CR4);
}

static const struct ahv_exit_ops vmx_exit_ops = {
	.state = vmx_exit_state, .cr4 = vmx_cr4, .skip = vmx_skip, .inject = vmx_inject, .dump = vmx_dump,
};

/* The panicking CPU's vCPU: the VMCS vmread sees is this CPU's own. */
static void panic_dump(void)
{
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	struct ahv_vcpu *v = ahv_vcpu_by_apic_id(&ahv_hv_g, r[1] >> 24);
	vmx_dump(v ? v : &vcpu0);
}

/* VM-instruction error numbers (§31.4 Table 31-1), the ones entry gives. */
static const char *insn_error(uint64_t n)
{
	switch (n) {
	case 4: return "VMLAUNCH with non-clear VMCS";
	case 5: return "VMRESUME with non-launched VMCS";
	case 7: return "VM entry with invalid control field(s)";
	case 8: return "VM entry with invalid host-state field(s)";
	case 26: return "VM entry with events blocked by MOV SS";
	default: return "see SDM §31.4";
	}
}

static __attribute__((noreturn)) void vmx_loop(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	struct vmx_vcpu *x = v->arch;
	for (;;) {
		if (__atomic_load_n(&v->init_pending, __ATOMIC_SEQ_CST))
			vmx_start_after_sipi(v, x); /* vmx_smp.c */
		if (v->tsc_dirty) { /* a guest TSC write (msr_emulate.c) */
			vmwrite(VMCS_TSC_OFFSET, (uint64_t)v->tsc_offset);
			v->tsc_dirty = 0;
		}
		vmwrite(VMCS_GUEST_RSP, v->gprs.rsp);
		/* A frame was write-protected (nested_watch.c): this CPU's EPT
		 * translations go before it runs the guest again. */
		uint32_t gen = __atomic_load_n(&ahv_nested_gen, __ATOMIC_SEQ_CST);
		if (gen != x->nested_gen) {
			flush_ept(x);
			x->nested_gen = gen;
		}
		const uint32_t *nmi = vmx_host_nmi_entry(x); /* vmx_smp.c */
		int rc = ahv_vmx_run(&v->gprs, x->launched, nmi);
		if (rc == 3) { /* not entered: a stop is on, or an NMI to inject */
			ahv_smp_check_in(v);
			continue;
		}
		if (rc == 1) {
			uint64_t e = vmread(VMCS_VM_INSN_ERROR);
			ahv_panic("%s failed: VM-instruction error %lu (%s)", x->launched ? "VMRESUME" : "VMLAUNCH",
				  e, insn_error(e));
		} else if (rc) {
			ahv_panic("%s failed: VMfailInvalid (no current VMCS)", x->launched ? "VMRESUME" : "VMLAUNCH");
		}
		x->launched = 1;
		v->gprs.rsp = vmread(VMCS_GUEST_RSP);
		uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);
		uint32_t basic = reason & 0xffff;
		ahv_vcpu_count_exit(v, basic);
		if (reason & EXIT_REASON_ENTRY_FAIL) {
			/* §27.8: 33 invalid guest state, 34 MSR loading, 41 #MC. */
			ahv_log("\nAHV-PANIC: VM entry failed: exit reason %u (%s), qualification %lx\n", basic,
				basic == VMX_EXIT_INVALID_GUEST ? "invalid guest state"
				: basic == VMX_EXIT_MSR_LOADING ? "MSR loading" : "machine check",
				vmread(VMCS_EXIT_QUALIFICATION));
			vmx_dump(v);
			ahv_halt_forever();
		}
		/* An exit during event delivery leaves the event in the
		 * IDT-vectoring information; deliver it again unless a handler
		 * injects something else (§28.2.4, §27.6.1.1). */
		uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
		if (idt & INTR_INFO_VALID) {
			vmwrite(VMCS_ENTRY_INTR_INFO, idt & ~(1u << 12)); /* bit 12 reserved on entry */
			if (idt & INTR_INFO_ERR)
				vmwrite(VMCS_ENTRY_EXC_ERROR, vmread(VMCS_IDT_VECTORING_ERROR));
			uint32_t type = idt & INTR_TYPE_MASK;
			if (type == INTR_TYPE_SW_INT || type == INTR_TYPE_PRIV_SW_EXC || type == INTR_TYPE_SW_EXC)
				vmwrite(VMCS_ENTRY_INSN_LEN, vmread(VMCS_EXIT_INSN_LEN));
		} else {
			vmwrite(VMCS_ENTRY_INTR_INFO, 0);
		}
		ahv_exit_fn h = basic < VMX_EXIT_MAX ? vmx_exits[basic] : NULL;
		if (!h) {
			/* Not asked for: stop this guest CPU with its state logged. */
			ahv_exit_unasked(hv, v, "VM exit, basic reason (SDM Vol. 3D Appendix C)", basic);
		}
		h(hv, v);
	}
}

/* Runs on the host stack, still on the firmware's CR3/GDT/IDT. */
static __attribute__((noreturn)) void enter(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t guest_rsp,
					   uint64_t guest_rip)
{
	struct vmx_vcpu *x = v->arch;
	uint64_t rflags = ahv_read_rflags(), fw_cr0 = ahv_read_cr0(), fw_cr4 = ahv_read_cr4();
	ahv_cli();
	/* Enter VMX operation (§24.7): CR0/CR4 with the fixed bits (A.7,
	 * A.8, CR4.VMXE among them), then VMXON, VMCLEAR and VMPTRLD. */
	uint64_t cr0 = (fw_cr0 | caps.cr0_fixed0) & caps.cr0_fixed1;
	uint64_t cr4 = (fw_cr4 | caps.cr4_fixed0 | CR4_VMXE) & caps.cr4_fixed1;
	__asm__ volatile("mov %0, %%cr0" ::"r"(cr0) : "memory");
	__asm__ volatile("mov %0, %%cr4" ::"r"(cr4) : "memory");
	if (vmx_on(x->vmxon_pa))
		ahv_panic("VMXON failed (IA32_FEATURE_CONTROL %lx)", ahv_rdmsr(MSR_IA32_FEATURE_CONTROL));
	if (vmx_clear(x->vmcs_pa) || vmx_ptrld(x->vmcs_pa))
		ahv_panic("VMCLEAR/VMPTRLD of the VMCS failed");
	/* Guest: the firmware's live state, resuming in the loader. */
	capture_guest(fw_cr0, fw_cr4, guest_rsp, guest_rip, rflags);
	v->gprs.rsp = guest_rsp;
	v->gprs.rax = 0; /* ahv_x86_launch returns 0 in the guest */
	setup_controls(hv, x);
	/* Our own page tables, GDT, IDT, TSS in runtime memory (docs/pitfalls.md 5). */
	ahv_write_cr3(hv->host_pt.root);
	ahv_desc_load(v->desc ? v->desc : hv->desc);
	/* isr.S records an NMI for the guest that reaches the host through the
	 * slot at the top of this CPU's IST stack. */
	if (v->ist_top)
		*(uint32_t *volatile *)(uintptr_t)v->ist_top = &x->host_nmi;
	host_state(hv, v);
	if (v->index == 0)
		ahv_panic_hook = panic_dump;
	ahv_log("ahv: cpu %u: entering the guest at rip %lx rsp %lx (cr3 %lx)\n", v->index, guest_rip, guest_rsp,
		vmread(VMCS_GUEST_CR3));
	vmx_loop(hv, v);
}

/* The ops table's host_entry, on the boot CPU and on each AP: arg is the
 * CPU's struct ahv_vcpu (ahv_x86_launch; the resident copy's ahv_hv_g). */
static void vmx_host_entry(void *arg, uint64_t guest_rsp, uint64_t guest_rip)
{
	enter(&ahv_hv_g, arg, guest_rsp, guest_rip);
}

/* What each CPU needs of its own (§24.7, §25.2): VT-x allowed in
 * IA32_FEATURE_CONTROL, a VMXON region and a VMCS. */
static int this_cpu_vmx(struct ahv_hv *hv, struct vmx_vcpu *x)
{
	/* IA32_FEATURE_CONTROL unlocked (Bochs, some firmware): allow VMX
	 * outside SMX and lock it (§24.7); probe refused the locked-off case. */
	uint64_t fc = ahv_rdmsr(MSR_IA32_FEATURE_CONTROL);
	if (!(fc & FEATURE_CONTROL_LOCK)) {
		ahv_wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_LOCK);
		ahv_log("ahv: vmx: IA32_FEATURE_CONTROL was unlocked: VMX enabled and locked\n");
	}
	x->vmxon_pa = ahv_pool_pages(&hv->pool, 1);
	x->vmcs_pa = ahv_pool_pages(&hv->pool, 1);
	if (!x->vmxon_pa || !x->vmcs_pa)
		return -1;
	/* VMXON region and VMCS start with the revision identifier (§25.2,
	 * §25.11.5), bit 31 clear. */
	uint32_t rev = VMX_BASIC_REVISION(caps.basic);
	memcpy((void *)(uintptr_t)x->vmxon_pa, &rev, 4);
	memcpy((void *)(uintptr_t)x->vmcs_pa, &rev, 4);
	x->launched = 0;
	return 0;
}

static int vmx_prepare(struct ahv_hv *hv)
{
	struct vmx_vcpu *x = &vmx_cpu0;
	struct ahv_vcpu *v = &vcpu0;
	char *err = hv->handoff->error;
	size_t cap = sizeof(hv->handoff->error);
	uint32_t r[4];

	v->arch = x;
	hv->vcpu = v;
	ahv_cpuid(1, 0, r);
	v->apic_id = r[1] >> 24;
	x->msr_bitmap = ahv_pool_ptr(&hv->pool, MSR_BITMAP_SIZE / 4096);
	x->io_bitmap = ahv_pool_ptr(&hv->pool, IO_BITMAP_SIZE / 4096);
	if (!x->msr_bitmap || !x->io_bitmap || this_cpu_vmx(hv, x)) {
		ahv_snprintf(err, cap, "hypervisor memory pool too small for the VMCS");
		return -1;
	}
	x->vpid = 1;
	if (build_ept(hv, x)) {
		ahv_snprintf(err, cap, "hypervisor memory pool too small for the EPT");
		return -1;
	}
	/* smp = on: guest writes to the xAPIC page exit, INIT/SIPI are
	 * emulated (initsipi.c; docs/vmx.md: Bochs's SIPI VM exit). */
	if (hv->handoff->policy & AHV_HO_SMP) {
		if (ahv_smp_xapic_usable(err, cap))
			return -1;
		if (ahv_smp_protect(hv, &x->ept, EPT_W, err, cap))
			return -1;
	}
	ahv_log("ahv: vmx: basic %lx ept/vpid cap %lx (1G %d, 2M %d), misc %lx, true controls %d\n", caps.basic,
		caps.ept_vpid, !!(caps.ept_vpid & EPT_CAP_1G), !!(caps.ept_vpid & EPT_CAP_2M), caps.misc,
		!!(caps.basic & VMX_BASIC_TRUE_CTLS));
	ahv_log("ahv: vmx: ept %s leaves up to %lx, eptp %lx, %lu KiB of pool used\n",
		x->ept.max_leaf_level == 3 ? "1G" : x->ept.max_leaf_level == 2 ? "2M" : "4K", x->ept_top, x->eptp,
		hv->pool.used / 1024);
	return 0;
}

/* smp = on: an application processor, on that processor. It shares the
 * boot CPU's EPT, MSR and I/O bitmaps and VPID (VPIDs tag one CPU's TLB);
 * it has its own VMXON region and VMCS. INIT and SIPI need no emulation
 * under VT-x: INIT is blocked in VMX root operation and exits in non-root
 * operation, SIPI exits in wait-for-SIPI (§26.2; Vol. 3C §33.2),
 * so exit_init and exit_sipi do what the SDM's reset tables say. */
static int vmx_prepare_ap(struct ahv_hv *hv, struct ahv_vcpu *v)
{
	if (!(caps.misc & VMX_MISC_WAIT_SIPI) || !((caps.proc2 >> 32) & PROC2_UNRESTRICTED)) {
		ahv_log("AHV-HV: ERROR: smp = on needs VT-x with the wait-for-SIPI activity state "
			"(IA32_VMX_MISC bit 8) and unrestricted guest: OS bring-up of this CPU is not possible\n");
		return -1;
	}
	struct vmx_vcpu *x = ahv_pool_ptr(&hv->pool, (sizeof(*x) + 4095) / 4096);
	if (!x)
		return -1;
	*x = vmx_cpu0;
	x->host_nmi = 0;
	if (this_cpu_vmx(hv, x))
		return -1;
	v->arch = x;
	return 0;
}

/* ---- for hv_main.c ------------------------------------------------------- */
/* Watched regions: W (bit 1) of the frame's 4 KiB leaf in the shared EPT
 * (SDM Vol. 3C §29.3.2 Table 29-6). */
static int vmx_nested_protect(struct ahv_hv *hv, uint64_t gpa, int protect)
{
	(void)hv;
	return ahv_nested_wp(&vmx_cpu0.ept, gpa, protect, EPT_W);
}

static void vmx_nested_info(struct ahv_vcpu *v, struct ahv_nested *n)
{
	struct vmx_vcpu *x = v->arch;
	n->format = AHV_NESTED_EPT;
	n->levels = 4;                          /* EPTP bits 5:3 + 1 */
	n->page_1g = x->ept.max_leaf_level == 3; /* IA32_VMX_EPT_VPID_CAP bit 17 */
	n->nxe = false;
	n->root = x->ept.root;
}

const struct ahv_vmm_ops ahv_vmx_ops = {
	.name = "Intel VT-x",
	.backend = AHV_BACKEND_VMX,
	.probe = vmx_probe,
	.prepare = vmx_prepare,
	.host_entry = vmx_host_entry,
	.nested_info = vmx_nested_info,
	.exit = &vmx_exit_ops,
	.prepare_ap = vmx_prepare_ap,
	.nested_protect = vmx_nested_protect,
};
