/*
 * vmx/vmx.h - Intel VT-x architecture for the VT-x back end (private to
 * arch/x86/vmx). References: Intel 64 and IA-32 Architectures Software
 * Developer's Manual, combined volumes, order no. 325462-080 (June 2023) or
 * later, where Vol. 3C numbers the chapters: 24 Introduction to VMX, 25 VMCS,
 * 26 VMX non-root operation, 27 VM entries, 28 VM exits, 29 VMX support for
 * address translation (EPT), 31 VMX instruction reference; Vol. 3D holds
 * Appendix A (VMX capability reporting), B (VMCS field encodings) and
 * C (VMX basic exit reasons).
 */
#ifndef AHV_VMX_H
#define AHV_VMX_H

#include <stdint.h>
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/mem.h"

/* ---- MSRs (SDM Vol. 4 Table 2-2; Vol. 3D Appendix A) ------------------- */
#define MSR_IA32_FEATURE_CONTROL 0x03Au  /* Vol. 3C §24.7 "Enabling and Entering VMX Operation" */
#define FEATURE_CONTROL_LOCK (1ull << 0)
#define FEATURE_CONTROL_VMX_IN_SMX (1ull << 1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)
#define MSR_IA32_SYSENTER_CS 0x174u
#define MSR_IA32_SYSENTER_ESP 0x175u
#define MSR_IA32_SYSENTER_EIP 0x176u
#define MSR_IA32_DEBUGCTL 0x1D9u
#define MSR_IA32_MTRRCAP 0x0FEu          /* Vol. 3A §12.11.2.1 */
#define MSR_IA32_MTRR_PHYSBASE0 0x200u   /* §12.11.2.3: base 0x200+2n, mask 0x201+2n */
#define MSR_IA32_MTRR_DEF_TYPE 0x2FFu    /* §12.11.2.1 */
#define MSR_IA32_MTRR_FIX64K_00000 0x250u /* §12.11.2.2 fixed-range MTRRs */
#define MSR_IA32_MTRR_FIX16K_80000 0x258u
#define MSR_IA32_MTRR_FIX4K_C0000 0x268u
#define MSR_IA32_VMX_BASIC 0x480u        /* A.1 */
#define MSR_IA32_VMX_PINBASED_CTLS 0x481u /* A.3.1 */
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482u /* A.3.2 */
#define MSR_IA32_VMX_EXIT_CTLS 0x483u    /* A.4 */
#define MSR_IA32_VMX_ENTRY_CTLS 0x484u   /* A.5 */
#define MSR_IA32_VMX_MISC 0x485u         /* A.6 */
#define MSR_IA32_VMX_CR0_FIXED0 0x486u   /* A.7 */
#define MSR_IA32_VMX_CR0_FIXED1 0x487u
#define MSR_IA32_VMX_CR4_FIXED0 0x488u   /* A.8 */
#define MSR_IA32_VMX_CR4_FIXED1 0x489u
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48Bu /* A.3.3 */
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48Cu /* A.10 */
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48Du /* A.3.1, when BASIC bit 55 */
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48Eu
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x48Fu
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x490u
#define MSR_IA32_VMX_FIRST 0x480u        /* the VMX capability MSRs: 0x480..0x493 */
#define MSR_IA32_VMX_LAST 0x493u

/* IA32_VMX_BASIC (A.1). */
#define VMX_BASIC_REVISION(b) ((uint32_t)(b) & 0x7fffffffu)
#define VMX_BASIC_SIZE(b) ((uint32_t)((b) >> 32) & 0x1fff)
#define VMX_BASIC_32BIT_PA (1ull << 48)
#define VMX_BASIC_MEMTYPE(b) ((unsigned)((b) >> 50) & 0xf) /* 6: WB */
#define VMX_BASIC_TRUE_CTLS (1ull << 55)
/* IA32_VMX_MISC (A.6): bits 8:6 activity states HLT, shutdown, wait-for-SIPI. */
#define VMX_MISC_WAIT_SIPI (1ull << 8)
/* IA32_VMX_EPT_VPID_CAP (A.10). */
#define EPT_CAP_WALK4 (1ull << 6)
#define EPT_CAP_UC (1ull << 8)
#define EPT_CAP_WB (1ull << 14)
#define EPT_CAP_2M (1ull << 16)
#define EPT_CAP_1G (1ull << 17)
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define EPT_CAP_INVEPT_ALL (1ull << 26)
#define VPID_CAP_INVVPID (1ull << 32)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)
#define VPID_CAP_INVVPID_ALL (1ull << 42)

/* CR4.VMXE (Vol. 3A §2.5), CR4.OSXSAVE; CR0.NE (§2.5). */
#define CR4_VMXE (1ull << 13)
#define CR0_NE (1ull << 5)

/* ---- VM-execution controls (§25.6) ----------------------------------- */
/* Pin-based (§25.6.1 Table 25-5). */
#define PIN_EXT_INT_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
/* Primary processor-based (§25.6.2 Table 25-6). */
#define PROC_TSC_OFFSETTING (1u << 3)
#define PROC_CR3_LOAD_EXITING (1u << 15)
#define PROC_CR3_STORE_EXITING (1u << 16)
#define PROC_NMI_WINDOW (1u << 22)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_SECONDARY (1u << 31)
/* Secondary processor-based (§25.6.2 Table 25-7). */
#define PROC2_EPT (1u << 1)
#define PROC2_RDTSCP (1u << 3)
#define PROC2_VPID (1u << 5)
#define PROC2_UNRESTRICTED (1u << 7)
#define PROC2_INVPCID (1u << 12)
#define PROC2_XSAVES (1u << 20)
/* VM-exit controls (§25.7.1 Table 25-13). */
#define EXIT_SAVE_DEBUG (1u << 2)
#define EXIT_HOST_64 (1u << 9)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
/* VM-entry controls (§25.8.1 Table 25-15). */
#define ENTRY_LOAD_DEBUG (1u << 2)
#define ENTRY_IA32E_GUEST (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* ---- VMCS field encodings (Appendix B) ---------------------------------- */
enum vmcs_field {
	/* B.1.1 16-bit control / B.1.2 guest / B.1.3 host */
	VMCS_VPID = 0x0000,
	VMCS_GUEST_ES_SEL = 0x0800, /* ES CS SS DS FS GS LDTR TR: +2 each */
	VMCS_GUEST_TR_SEL = 0x080E,
	VMCS_HOST_ES_SEL = 0x0C00,
	VMCS_HOST_CS_SEL = 0x0C02,
	VMCS_HOST_SS_SEL = 0x0C04,
	VMCS_HOST_DS_SEL = 0x0C06,
	VMCS_HOST_FS_SEL = 0x0C08,
	VMCS_HOST_GS_SEL = 0x0C0A,
	VMCS_HOST_TR_SEL = 0x0C0C,
	/* B.2.1 64-bit control / B.2.2 read-only / B.2.3 guest / B.2.4 host */
	VMCS_IO_BITMAP_A = 0x2000,
	VMCS_IO_BITMAP_B = 0x2002,
	VMCS_MSR_BITMAP = 0x2004,
	VMCS_TSC_OFFSET = 0x2010, /* Appendix B.2.1 */
	VMCS_EPT_POINTER = 0x201A,
	VMCS_XSS_EXIT_BITMAP = 0x202C,
	VMCS_GUEST_PHYS_ADDR = 0x2400,
	VMCS_LINK_POINTER = 0x2800,
	VMCS_GUEST_DEBUGCTL = 0x2802,
	VMCS_GUEST_PAT = 0x2804,
	VMCS_GUEST_EFER = 0x2806,
	VMCS_HOST_PAT = 0x2C00,
	VMCS_HOST_EFER = 0x2C02,
	/* B.3.1 32-bit control / B.3.2 read-only / B.3.3 guest / B.3.4 host */
	VMCS_PIN_CTLS = 0x4000,
	VMCS_PROC_CTLS = 0x4002,
	VMCS_EXCEPTION_BITMAP = 0x4004,
	VMCS_PF_ERR_MASK = 0x4006,
	VMCS_PF_ERR_MATCH = 0x4008,
	VMCS_CR3_TARGET_COUNT = 0x400A,
	VMCS_EXIT_CTLS = 0x400C,
	VMCS_EXIT_MSR_STORE_COUNT = 0x400E,
	VMCS_EXIT_MSR_LOAD_COUNT = 0x4010,
	VMCS_ENTRY_CTLS = 0x4012,
	VMCS_ENTRY_MSR_LOAD_COUNT = 0x4014,
	VMCS_ENTRY_INTR_INFO = 0x4016,
	VMCS_ENTRY_EXC_ERROR = 0x4018,
	VMCS_ENTRY_INSN_LEN = 0x401A,
	VMCS_PROC_CTLS2 = 0x401E,
	VMCS_VM_INSN_ERROR = 0x4400,
	VMCS_EXIT_REASON = 0x4402,
	VMCS_EXIT_INTR_INFO = 0x4404,
	VMCS_EXIT_INTR_ERROR = 0x4406,
	VMCS_IDT_VECTORING_INFO = 0x4408,
	VMCS_IDT_VECTORING_ERROR = 0x440A,
	VMCS_EXIT_INSN_LEN = 0x440C,
	VMCS_GUEST_ES_LIMIT = 0x4800, /* ES CS SS DS FS GS LDTR TR: +2 each */
	VMCS_GUEST_GDTR_LIMIT = 0x4810,
	VMCS_GUEST_IDTR_LIMIT = 0x4812,
	VMCS_GUEST_ES_AR = 0x4814,    /* ES CS SS DS FS GS LDTR TR: +2 each */
	VMCS_GUEST_INTERRUPTIBILITY = 0x4824,
	VMCS_GUEST_ACTIVITY = 0x4826,
	VMCS_GUEST_SYSENTER_CS = 0x482A,
	VMCS_HOST_SYSENTER_CS = 0x4C00,
	/* B.4.1 natural-width control / B.4.2 read-only / B.4.3 guest / B.4.4 host */
	VMCS_CR0_MASK = 0x6000,
	VMCS_CR4_MASK = 0x6002,
	VMCS_CR0_SHADOW = 0x6004,
	VMCS_CR4_SHADOW = 0x6006,
	VMCS_EXIT_QUALIFICATION = 0x6400,
	VMCS_GUEST_CR0 = 0x6800,
	VMCS_GUEST_CR3 = 0x6802,
	VMCS_GUEST_CR4 = 0x6804,
	VMCS_GUEST_ES_BASE = 0x6806, /* ES CS SS DS FS GS LDTR TR: +2 each */
	VMCS_GUEST_GDTR_BASE = 0x6816,
	VMCS_GUEST_IDTR_BASE = 0x6818,
	VMCS_GUEST_DR7 = 0x681A,
	VMCS_GUEST_RSP = 0x681C,
	VMCS_GUEST_RIP = 0x681E,
	VMCS_GUEST_RFLAGS = 0x6820,
	VMCS_GUEST_PENDING_DBG = 0x6822,
	VMCS_GUEST_SYSENTER_ESP = 0x6824,
	VMCS_GUEST_SYSENTER_EIP = 0x6826,
	VMCS_HOST_CR0 = 0x6C00,
	VMCS_HOST_CR3 = 0x6C02,
	VMCS_HOST_CR4 = 0x6C04,
	VMCS_HOST_FS_BASE = 0x6C06,
	VMCS_HOST_GS_BASE = 0x6C08,
	VMCS_HOST_TR_BASE = 0x6C0A,
	VMCS_HOST_GDTR_BASE = 0x6C0C,
	VMCS_HOST_IDTR_BASE = 0x6C0E,
	VMCS_HOST_SYSENTER_ESP = 0x6C10,
	VMCS_HOST_SYSENTER_EIP = 0x6C12,
	VMCS_HOST_RSP = 0x6C14,
	VMCS_HOST_RIP = 0x6C16,
};
/* Guest segment registers in VMCS order (Appendix B: ES, CS, SS, DS, FS,
 * GS, LDTR, TR), the field = base encoding + 2 * index. */
enum vmx_seg { VSEG_ES, VSEG_CS, VSEG_SS, VSEG_DS, VSEG_FS, VSEG_GS, VSEG_LDTR, VSEG_TR };
/* Access-rights "unusable" bit (§25.4.1 Table 25-2). */
#define VMX_AR_UNUSABLE (1u << 16)

/* Activity states (§25.4.2 Table 25-3). */
#define VMX_ACTIVITY_ACTIVE 0
#define VMX_ACTIVITY_WAIT_SIPI 3

/* Interruption-information format, VM-entry (§25.8.3 Table 25-17) and
 * VM-exit / IDT-vectoring (§25.9.2, §25.9.3): vector 7:0, type 10:8,
 * deliver error code 11, valid 31. */
#define INTR_INFO_VALID (1u << 31)
#define INTR_INFO_ERR (1u << 11)
#define INTR_TYPE_NMI (2u << 8)
#define INTR_TYPE_HW_EXC (3u << 8)
#define INTR_TYPE_MASK (7u << 8)
#define INTR_TYPE_SW_INT (4u << 8)
#define INTR_TYPE_PRIV_SW_EXC (5u << 8)
#define INTR_TYPE_SW_EXC (6u << 8)

/* Exit reason: basic reason 15:0, VM-entry failure 31 (§25.9.1 Table 25-18). */
#define EXIT_REASON_ENTRY_FAIL (1u << 31)

/* Basic exit reasons (Vol. 3D Appendix C Table C-1). */
enum vmx_exit {
	VMX_EXIT_EXCEPTION_NMI = 0,
	VMX_EXIT_EXT_INT = 1,
	VMX_EXIT_TRIPLE_FAULT = 2,
	VMX_EXIT_INIT = 3,
	VMX_EXIT_SIPI = 4,
	VMX_EXIT_NMI_WINDOW = 8,
	VMX_EXIT_TASK_SWITCH = 9,
	VMX_EXIT_CPUID = 10,
	VMX_EXIT_GETSEC = 11,
	VMX_EXIT_HLT = 12,
	VMX_EXIT_INVD = 13,
	VMX_EXIT_VMCALL = 18,
	VMX_EXIT_VMCLEAR = 19,
	VMX_EXIT_VMLAUNCH = 20,
	VMX_EXIT_VMPTRLD = 21,
	VMX_EXIT_VMPTRST = 22,
	VMX_EXIT_VMREAD = 23,
	VMX_EXIT_VMRESUME = 24,
	VMX_EXIT_VMWRITE = 25,
	VMX_EXIT_VMXOFF = 26,
	VMX_EXIT_VMXON = 27,
	VMX_EXIT_CR_ACCESS = 28,
	VMX_EXIT_IO = 30,
	VMX_EXIT_RDMSR = 31,
	VMX_EXIT_WRMSR = 32,
	VMX_EXIT_INVALID_GUEST = 33,
	VMX_EXIT_MSR_LOADING = 34,
	VMX_EXIT_MACHINE_CHECK = 41,
	VMX_EXIT_EPT_VIOLATION = 48,
	VMX_EXIT_EPT_MISCONFIG = 49,
	VMX_EXIT_INVEPT = 50,
	VMX_EXIT_INVVPID = 53,
	VMX_EXIT_WBINVD = 54,
	VMX_EXIT_XSETBV = 55,
	VMX_EXIT_VMFUNC = 59,
	VMX_EXIT_MAX = 70,
};

/* EPT entries (§29.3.2 Tables 29-1..29-6): R/W/X bits 2:0, memory type
 * bits 5:3 of a leaf (§29.3.7: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB), bit 7 large
 * leaf. EPTP (§25.6.11 Table 25-9): paging-structure memory type 2:0 (6 WB),
 * page-walk length - 1 in 5:3. */
#define EPT_R (1ull << 0)
#define EPT_W (1ull << 1)
#define EPT_X (1ull << 2)
#define EPT_MT_SHIFT 3
#define MT_UC 0
#define MT_WC 1
#define MT_WT 4
#define MT_WP 5
#define MT_WB 6
#define EPTP_WB 6ull
#define EPTP_WALK4 (3ull << 3)

/* INVEPT / INVVPID types (§31.3 "INVEPT", "INVVPID"). */
#define INVEPT_SINGLE 1
#define INVEPT_ALL 2
#define INVVPID_SINGLE 1
#define INVVPID_ALL 2

/* ---- instructions ----------------------------------------------------------
 * VMX instructions report VMfailInvalid with CF=1 and VMfailValid with
 * ZF=1 (§31.2 "Conventions"): these return 0, or -1 on either. */
#define VMX_PA_INSN(name, insn)                                                  \
	static inline int name(uint64_t pa)                                      \
	{                                                                        \
		uint8_t bad;                                                     \
		__asm__ volatile(insn " %1; setbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory"); \
		return bad ? -1 : 0;                                             \
	}
VMX_PA_INSN(vmx_on, "vmxon")     /* §31.3 "VMXON" */
VMX_PA_INSN(vmx_clear, "vmclear") /* §31.3 "VMCLEAR" */
VMX_PA_INSN(vmx_ptrld, "vmptrld") /* §31.3 "VMPTRLD" */
#undef VMX_PA_INSN
static inline uint64_t vmread(enum vmcs_field f)
{
	uint64_t v;
	__asm__ volatile("vmread %1, %0" : "=r"(v) : "r"((uint64_t)f) : "cc");
	return v;
}
static inline int vmwrite(enum vmcs_field f, uint64_t v)
{
	uint8_t bad;
	__asm__ volatile("vmwrite %1, %2; setbe %0" : "=qm"(bad) : "r"(v), "r"((uint64_t)f) : "cc", "memory");
	return bad ? -1 : 0;
}
struct vmx_inv_desc {
	uint64_t a, b;
};
/* INVEPT / INVVPID: the type in a register, a 128-bit descriptor in
 * memory (§31.3 "INVEPT", "INVVPID"). */
#define VMX_INV_INSN(name, insn)                                                        \
	static inline void name(uint64_t type, uint64_t a)                             \
	{                                                                              \
		struct vmx_inv_desc d = {a, 0};                                        \
		__asm__ volatile(insn " %0, %1" ::"m"(d), "r"(type) : "cc", "memory"); \
	}
VMX_INV_INSN(vmx_invept, "invept")   /* descriptor: EPTP, 0 */
VMX_INV_INSN(vmx_invvpid, "invvpid") /* descriptor: VPID, linear address 0 */
#undef VMX_INV_INSN

/* ept.c: EPT leaf memory type for [base, base+size) from the MTRRs (EPT
 * replaces the MTRRs in VMX non-root operation, §29.3.7.2), or AHV_PT_MIXED. */
void vmx_mtrr_init(void);
uint64_t vmx_ept_leaf_attr(uint64_t base, uint64_t size);

/* ---- the VT-x vCPU, shared by vmx.c and vmx_smp.c ------------------------- */
/* What the CPU offers, read once by vmx_probe (Appendix A). */
struct vmx_caps {
	uint64_t basic, misc, ept_vpid;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t pin, proc, proc2, exit, entry; /* allowed-0 low, allowed-1 high */
};

struct vmx_vcpu {
	uint64_t vmxon_pa, vmcs_pa;
	uint8_t *msr_bitmap, *io_bitmap;
	struct ahv_pt ept;
	uint64_t ept_top, eptp;
	uint32_t nested_gen; /* ahv_nested_gen at the last INVEPT */
	uint32_t pin, proc, proc2, entry;
	uint64_t cr0_mask, cr4_mask;
	uint16_t vpid;
	int launched;
	/* An NMI for the guest arrived while this CPU ran in its host (isr.S
	 * records it through the word at ist_top, vmx_exit_nmi when NMI exiting
	 * took it): injected before the next entry (vmx_smp.c). */
	uint32_t host_nmi;
};

extern const struct vmx_caps *const vmx_cpu_caps; /* what vmx_probe read */

static inline struct vmx_vcpu *vmx_of(struct ahv_vcpu *v) { return v->arch; }

/* vmx.c: the back end's part of struct ahv_exit_ops, and what vmx_smp.c
 * needs of it. */
void vmx_exit_state(struct ahv_vcpu *v, struct ahv_vcpu_exit *e);
void vmx_inject(struct ahv_vcpu *v, unsigned vector, int has_err, uint32_t err);
void vmx_dump(struct ahv_vcpu *v);
/* Guest RIP += len; blocking by STI / MOV SS ends with the instruction
 * (§25.4.2 Table 25-3). */
void vmx_advance_rip(uint64_t len);
/* A guest CR0 value: shadow and fixed bits, EFER.LMA and IA-32e mode. */
void vmx_write_cr0(struct vmx_vcpu *x, uint64_t val);

/* vmx_smp.c: exit handlers and what the loop calls before an entry. */
void vmx_exit_init(struct ahv_hv *hv, struct ahv_vcpu *v);
void vmx_exit_sipi(struct ahv_hv *hv, struct ahv_vcpu *v);
void vmx_exit_nmi(struct ahv_hv *hv, struct ahv_vcpu *v);
void vmx_exit_nmi_window(struct ahv_hv *hv, struct ahv_vcpu *v);
void vmx_start_after_sipi(struct ahv_vcpu *v, struct vmx_vcpu *x);
const uint32_t *vmx_host_nmi_entry(struct vmx_vcpu *x);
int vmx_xapic_write(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t gpa);

#endif
