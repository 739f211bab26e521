/*
 * desc.c - host GDT, IDT and 64-bit TSS.
 * Descriptor formats: APM Vol. 2 §4.8 "Long-Mode Segment Descriptors"
 * (code: L=1, D=0, §4.8.1; system TSS descriptor 16 bytes, type 9, §4.8.3;
 * 64-bit interrupt gate type 0xE, §4.8.4) and §12.2.5 "64-Bit Task State
 * Segment" (IST pointers at offset 0x24).
 */
#include "ahv/x86/desc.h"
#include "ahv/x86/fixup.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/smp.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/log.h"
#include <string.h>

extern const uint64_t ahv_isr_table[32]; /* isr.S */
extern const char ahv_nmi_absorb[];        /* isr.S: IRETQ */

void ahv_desc_build(struct ahv_host_desc *d, uint64_t ist1_top)
{
	memset(d, 0, sizeof(*d));
	d->gdt[1] = 0x00209A0000000000ull; /* code: P, DPL0, S, type exec/read, L */
	d->gdt[2] = 0x0000920000000000ull; /* data: P, DPL0, S, type read/write */
	uint64_t tss = (uint64_t)(uintptr_t)d->tss;
	uint64_t lim = sizeof(d->tss) - 1;
	d->gdt[3] = (lim & 0xffff) | (tss & 0xffffff) << 16 | 0x89ull << 40 |
		    ((lim >> 16) & 0xf) << 48 | ((tss >> 24) & 0xff) << 56;
	d->gdt[4] = tss >> 32;
	/* TSS: IST1 at offset 0x24; I/O map base beyond the limit (no bitmap). */
	memcpy(d->tss + 0x24, &ist1_top, 8);
	uint16_t iomap = sizeof(d->tss);
	memcpy(d->tss + 0x66, &iomap, 2);
	for (int v = 0; v < 32; v++) {
		uint64_t h = v == 2 ? (uint64_t)(uintptr_t)ahv_nmi_absorb : ahv_isr_table[v];
		uint8_t *g = d->idt + 16 * v;
		uint8_t ist = (v == 2 || v == 8 || v == 18) ? 1 : 0; /* NMI, #DF, #MC */
		uint64_t lo = (h & 0xffff) | (uint64_t)AHV_HOST_CS << 16 | (uint64_t)ist << 32 |
			      0x8Eull << 40 | ((h >> 16) & 0xffff) << 48;
		uint64_t hi = h >> 32;
		memcpy(g, &lo, 8);
		memcpy(g + 8, &hi, 8);
	}
	d->gdtr_base = (uint64_t)(uintptr_t)d->gdt;
	d->gdtr_limit = sizeof(d->gdt) - 1;
	d->idtr_base = (uint64_t)(uintptr_t)d->idt;
	d->idtr_limit = sizeof(d->idt) - 1;
}

void ahv_desc_load(struct ahv_host_desc *d)
{
	struct ahv_dtr g = {d->gdtr_limit, d->gdtr_base};
	struct ahv_dtr i = {d->idtr_limit, d->idtr_base};
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %w2, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "movw %%ax, %%fs\n\t"
			 "movw %%ax, %%gs\n\t"
			 "lidt %3\n\t"
			 "movw %w4, %%ax\n\t"
			 "ltr %%ax\n\t"
			 :
			 : "m"(g), "i"(AHV_HOST_CS), "i"(AHV_HOST_DS), "m"(i), "i"(AHV_HOST_TSS)
			 : "rax", "memory");
}

void ahv_seg_read(struct ahv_seg *s, uint16_t sel, const struct ahv_dtr *gdt)
{
	memset(s, 0, sizeof(*s));
	s->sel = sel;
	if ((sel & ~7u) == 0 || (sel & 4) || (uint32_t)(sel | 7) > gdt->limit)
		return;
	uint64_t d;
	memcpy(&d, (const void *)(uintptr_t)(gdt->base + (sel & ~7u)), 8);
	s->attr = (uint16_t)(((d >> 40) & 0xff) | ((d >> 52) & 0xf) << 8);
	uint32_t lim = (uint32_t)((d & 0xffff) | ((d >> 48) & 0xf) << 16);
	if (d & (1ull << 55)) /* G */
		lim = lim << 12 | 0xfff;
	s->limit = lim;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
	if (!(d & (1ull << 44)) && (uint32_t)((sel & ~7u) + 15) <= gdt->limit) { /* S=0: system */
		uint64_t hi;
		memcpy(&hi, (const void *)(uintptr_t)(gdt->base + (sel & ~7u) + 8), 8);
		s->base |= (hi & 0xffffffffull) << 32;
	}
}

static const char *const exc_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound", "#UD invalid opcode", "#NM no FPU", "#DF double fault",
	"coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "15",
	"#MF x87", "#AC alignment", "#MC machine check", "#XF SIMD", "#VE", "#CP",
	"22", "23", "24", "25", "26", "27", "#HV", "#VC", "#SX", "31"};

/* A host exception: a host instruction run on a guest's behalf (fixup.S)
 * resumes at its fixup with RAX = 1 + vector (returns 1 to isr.S); an INIT
 * redirected to #SX (vector 30, SVM VM_CR.R_INIT) is an emulated INIT
 * (initsipi.c) and resumes where it struck; any other is a hypervisor
 * bug: panic. */
int ahv_x86_exception(struct ahv_exc_frame *f)
{
	if (f->vector == 30 && ahv_host_init_exception(f->error))
		return 1;
	uint64_t fix = ahv_fixup_find(f->rip);
	if (fix && f->vector < 32) {
		f->rip = fix;
		f->rax = f->vector + 1;
		return 1;
	}
	ahv_log("\nAHV-PANIC: host exception %s (vector %lu, error 0x%lx)\n",
		exc_names[f->vector & 31], f->vector, f->error);
	ahv_log("  host rip %016lx cs %04lx rflags %016lx rsp %016lx ss %04lx\n",
		f->rip, f->cs, f->rflags, f->rsp, f->ss);
	ahv_log("  host cr2 %016lx cr3 %016lx\n", ahv_read_cr2(), ahv_read_cr3());
	ahv_log("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	ahv_log("  rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
	ahv_panic("unexpected exception in the hypervisor");
}

extern const uint64_t ahv_fixup_table[], ahv_fixup_table_end[];

uint64_t ahv_fixup_find(uint64_t rip)
{
	for (const uint64_t *p = ahv_fixup_table; p < ahv_fixup_table_end; p += 2)
		if (p[0] == rip)
			return p[1];
	return 0;
}
