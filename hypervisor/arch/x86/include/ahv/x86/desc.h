/*
 * ahv/x86/desc.h - the host's own GDT, IDT and TSS (docs/pitfalls.md 5: the
 * host resumes at #VMEXIT with whatever GDTR/IDTR/CR3/RSP were live at
 * VMRUN, so they must be ours, in runtime memory, not the firmware's).
 */
#ifndef AHV_X86_DESC_H
#define AHV_X86_DESC_H

#include <stdint.h>
#include "ahv/x86/cpu.h"
#include "ahv/x86/mem.h"

#define AHV_HOST_CS 0x08
#define AHV_HOST_DS 0x10
#define AHV_HOST_TSS 0x18

/* Exception frame built by isr.S (vector, error code, then the CPU frame). */
struct ahv_exc_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct ahv_host_desc {
	uint64_t gdt[8];
	uint8_t idt[256 * 16];
	uint8_t tss[104];
	uint64_t gdtr_base, idtr_base;
	uint16_t gdtr_limit, idtr_limit;
};

/* Build GDT/IDT/TSS in `d` (in hypervisor memory); ist1 = top of a stack for
 * #DF/NMI/#MC. */
void ahv_desc_build(struct ahv_host_desc *d, uint64_t ist1_top);
/* Load them (lgdt, far return to reload CS, data segments, lidt, ltr). */
void ahv_desc_load(struct ahv_host_desc *d);
/* A segment register as the CPU holds it after loading `sel` from `gdt`:
 * base, limit (scaled by G) and attr = descriptor bits 47:40 in 7:0 and
 * 55:52 in 11:8 (the VMCB's packing, APM Vol. 2 §15.5.1; VMX keeps 11:8 in
 * 15:12, SDM Vol. 3C §25.4.1 Table 25-2). System descriptors (TSS, LDT) are
 * 16 bytes in long mode with base 63:32 in the second half (APM Vol. 2
 * §4.8.3). attr 0: null, LDT-relative or out of the GDT (unusable). */
struct ahv_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t sel, attr;
};
void ahv_seg_read(struct ahv_seg *s, uint16_t sel, const struct ahv_dtr *gdt);

/* Called from isr.S. */
int ahv_x86_exception(struct ahv_exc_frame *f);

#endif
