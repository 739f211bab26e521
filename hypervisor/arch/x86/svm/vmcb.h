/*
 * svm/vmcb.h - the AMD Virtual Machine Control Block.
 * Layout: AMD APM Vol. 2 Appendix B "Layout of VMCB": Table B-1 (control
 * area, offsets 0x000-0x3FF) and Table B-2 (state save area, at 0x400).
 * Exit codes: APM Vol. 2 Appendix C "SVM Intercept Exit Codes".
 */
#ifndef AHV_SVM_VMCB_H
#define AHV_SVM_VMCB_H

#include <stddef.h>
#include <stdint.h>

/* Segment register image in the save area (APM Table B-2; attrib packs
 * descriptor bits 47:40 into 7:0 and 55:52 into 11:8, §15.5.1). */
struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib;
	uint32_t limit;
	uint64_t base;
};

struct vmcb_control {
	uint32_t intercept_cr;      /* 0x000: 15:0 CR reads, 31:16 CR writes */
	uint32_t intercept_dr;      /* 0x004 */
	uint32_t intercept_exc;     /* 0x008: exception vectors */
	uint32_t intercept_misc1;   /* 0x00C: VMCB_I1_* */
	uint32_t intercept_misc2;   /* 0x010: VMCB_I2_* */
	uint32_t intercept_misc3;   /* 0x014 */
	uint8_t rsvd0[0x03C - 0x018];
	uint16_t pause_filter_thresh; /* 0x03C */
	uint16_t pause_filter_count;  /* 0x03E */
	uint64_t iopm_base_pa;      /* 0x040 */
	uint64_t msrpm_base_pa;     /* 0x048 */
	uint64_t tsc_offset;        /* 0x050 */
	uint32_t guest_asid;        /* 0x058 */
	uint8_t tlb_control;        /* 0x05C */
	uint8_t rsvd1[3];
	uint64_t vintr;             /* 0x060 */
	uint64_t interrupt_shadow;  /* 0x068 */
	uint64_t exitcode;          /* 0x070 */
	uint64_t exitinfo1;         /* 0x078 */
	uint64_t exitinfo2;         /* 0x080 */
	uint64_t exitintinfo;       /* 0x088 */
	uint64_t np_control;        /* 0x090: bit 0 NP_ENABLE */
	uint64_t avic_apic_bar;     /* 0x098 */
	uint64_t ghcb_pa;           /* 0x0A0 */
	uint64_t eventinj;          /* 0x0A8 */
	uint64_t n_cr3;             /* 0x0B0: nested page table root */
	uint64_t virt_ext;          /* 0x0B8: LBR virt, virtual VMLOAD/VMSAVE */
	uint32_t clean_bits;        /* 0x0C0 */
	uint32_t rsvd2;
	uint64_t nrip;              /* 0x0C8: next RIP (NRIP save) */
	uint8_t insn_len;           /* 0x0D0: bytes fetched (decode assists) */
	uint8_t insn_bytes[15];     /* 0x0D1 */
	uint8_t rsvd3[0x400 - 0x0E0];
};

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs; /* 0x400 .. 0x45F */
	struct vmcb_seg gdtr, ldtr, idtr, tr;   /* 0x460 .. 0x49F */
	uint8_t rsvd0[0x4CB - 0x4A0];
	uint8_t cpl;                /* 0x4CB */
	uint32_t rsvd1;
	uint64_t efer;              /* 0x4D0 */
	uint8_t rsvd2[0x548 - 0x4D8];
	uint64_t cr4;               /* 0x548 */
	uint64_t cr3;               /* 0x550 */
	uint64_t cr0;               /* 0x558 */
	uint64_t dr7;               /* 0x560 */
	uint64_t dr6;               /* 0x568 */
	uint64_t rflags;            /* 0x570 */
	uint64_t rip;               /* 0x578 */
	uint8_t rsvd3[0x5D8 - 0x580];
	uint64_t rsp;               /* 0x5D8 */
	uint64_t s_cet, ssp, isst_addr; /* 0x5E0 */
	uint64_t rax;               /* 0x5F8 */
	uint64_t star;              /* 0x600 */
	uint64_t lstar;             /* 0x608 */
	uint64_t cstar;             /* 0x610 */
	uint64_t sfmask;            /* 0x618 */
	uint64_t kernel_gs_base;    /* 0x620 */
	uint64_t sysenter_cs;       /* 0x628 */
	uint64_t sysenter_esp;      /* 0x630 */
	uint64_t sysenter_eip;      /* 0x638 */
	uint64_t cr2;               /* 0x640 */
	uint8_t rsvd4[0x668 - 0x648];
	uint64_t g_pat;             /* 0x668 */
	uint64_t dbgctl;            /* 0x670 */
	uint64_t br_from, br_to, lastexcpfrom, lastexcpto; /* 0x678 */
};

struct vmcb {
	struct vmcb_control ctl;
	struct vmcb_save save;
	uint8_t rsvd[4096 - 0x400 - sizeof(struct vmcb_save)];
};

#define VMCB_OFF(f, off) _Static_assert(offsetof(struct vmcb, f) == (off), "vmcb " #f)
VMCB_OFF(ctl.intercept_misc1, 0x00C);
VMCB_OFF(ctl.iopm_base_pa, 0x040);
VMCB_OFF(ctl.guest_asid, 0x058);
VMCB_OFF(ctl.exitcode, 0x070);
VMCB_OFF(ctl.np_control, 0x090);
VMCB_OFF(ctl.eventinj, 0x0A8);
VMCB_OFF(ctl.n_cr3, 0x0B0);
VMCB_OFF(ctl.nrip, 0x0C8);
VMCB_OFF(save.es, 0x400);
VMCB_OFF(save.tr, 0x490);
VMCB_OFF(save.cpl, 0x4CB);
VMCB_OFF(save.efer, 0x4D0);
VMCB_OFF(save.cr4, 0x548);
VMCB_OFF(save.rip, 0x578);
VMCB_OFF(save.rsp, 0x5D8);
VMCB_OFF(save.rax, 0x5F8);
VMCB_OFF(save.cr2, 0x640);
VMCB_OFF(save.g_pat, 0x668);
_Static_assert(sizeof(struct vmcb) == 4096, "vmcb is one page");
#undef VMCB_OFF

/* Intercept vector 3 (offset 0x00C), APM Table B-1. */
#define VMCB_I1_INTR (1u << 0)
#define VMCB_I1_NMI (1u << 1)
#define VMCB_I1_INIT (1u << 3)
#define VMCB_I1_CPUID (1u << 18)
#define VMCB_I1_HLT (1u << 24)
#define VMCB_I1_INVLPGA (1u << 26)
#define VMCB_I1_IOIO (1u << 27)
#define VMCB_I1_MSR (1u << 28)
#define VMCB_I1_SHUTDOWN (1u << 31)
/* Intercept vector 4 (offset 0x010), APM Table B-1. */
#define VMCB_I2_VMRUN (1u << 0)
#define VMCB_I2_VMMCALL (1u << 1)
#define VMCB_I2_VMLOAD (1u << 2)
#define VMCB_I2_VMSAVE (1u << 3)
#define VMCB_I2_STGI (1u << 4)
#define VMCB_I2_CLGI (1u << 5)
#define VMCB_I2_SKINIT (1u << 6)
#define VMCB_I2_MWAIT (1u << 11) /* MWAIT, unconditionally (APM Vol. 2 Table B-1) */

/* TLB_CONTROL (APM §15.16.1 "TLB Flush"). */
#define VMCB_TLB_FLUSH_ALL 1u

/* EVENTINJ (APM §15.20 "Event Injection"). */
#define EVENTINJ_VALID (1ull << 31)
#define EVENTINJ_EV (1ull << 11)
#define EVENTINJ_TYPE_EXC (3ull << 8)

/* Exit codes (APM Appendix C, Table C-1). */
#define VMEXIT_EXCP_BASE 0x040
#define VMEXIT_NMI 0x061
#define VMEXIT_CPUID 0x072
#define VMEXIT_HLT 0x078
#define VMEXIT_MWAIT 0x08B
#define VMEXIT_INVLPGA 0x07A
#define VMEXIT_IOIO 0x07B
#define VMEXIT_MSR 0x07C
#define VMEXIT_SHUTDOWN 0x07F
#define VMEXIT_VMRUN 0x080
#define VMEXIT_VMMCALL 0x081
#define VMEXIT_VMLOAD 0x082
#define VMEXIT_VMSAVE 0x083
#define VMEXIT_STGI 0x084
#define VMEXIT_CLGI 0x085
#define VMEXIT_SKINIT 0x086
#define VMEXIT_NPF 0x400
#define VMEXIT_INVALID ((uint64_t)-1)

/* IOIO EXITINFO1 (APM §15.10.2 "IN and OUT Behavior", Figure 15-2). */
#define IOIO_TYPE_IN (1u << 0)
#define IOIO_STR (1u << 2)
#define IOIO_REP (1u << 3)
#define IOIO_SZ_SHIFT 4
#define IOIO_PORT_SHIFT 16

#endif
