/*
 * crcheck.h - MOV to CR0 / CR4 as the CPU judges it, for a back end that
 * completes the write itself after an exit (VT-x: a write that changes a
 * host-owned bit exits whole, and the CPU checks nothing of it, SDM Vol. 3C
 * §26.1.3). Pure functions; tests/unit/crcheck_test.c checks each rule.
 * The #GP(0) conditions are those of SDM Vol. 2B "MOV - Move to/from
 * Control Registers", Protected Mode and 64-Bit Mode Exceptions.
 */
#ifndef AHV_X86_CRCHECK_H
#define AHV_X86_CRCHECK_H
#include <stdint.h>

#define CRC_CR0_PE (1ull << 0)
#define CRC_CR0_NW (1ull << 29)
#define CRC_CR0_CD (1ull << 30)
#define CRC_CR0_PG (1ull << 31)
#define CRC_CR4_PAE (1ull << 5)
#define CRC_CR4_LA57 (1ull << 12)
#define CRC_CR4_PCIDE (1ull << 17)
#define CRC_EFER_LME (1ull << 8)
#define CRC_EFER_LMA (1ull << 10)

/* The guest state a CR write is judged against. */
struct ahv_cr_ctx {
	uint64_t cr0, cr3, cr4, efer; /* current values (CR0/CR4 as the guest sees them) */
	int cs_l;                     /* CS.L: 64-bit code segment */
};

/* 1: the write raises #GP(0); 0: the CPU would take it. */
static inline int ahv_cr0_write_faults(const struct ahv_cr_ctx *c, uint64_t val)
{
	if (val >> 32) /* bits 63:32 are reserved */
		return 1;
	if ((val & CRC_CR0_PG) && !(val & CRC_CR0_PE)) /* PG without PE */
		return 1;
	if ((val & CRC_CR0_NW) && !(val & CRC_CR0_CD)) /* NW without CD */
		return 1;
	/* Paging on with EFER.LME set needs CR4.PAE (Vol. 3A §10.8.5). */
	if ((val & CRC_CR0_PG) && !(c->cr0 & CRC_CR0_PG) && (c->efer & CRC_EFER_LME) && !(c->cr4 & CRC_CR4_PAE))
		return 1;
	/* Paging off in 64-bit mode (IA-32e and CS.L). */
	if (!(val & CRC_CR0_PG) && (c->efer & CRC_EFER_LMA) && c->cs_l)
		return 1;
	/* Paging off with CR4.PCIDE set. */
	if (!(val & CRC_CR0_PG) && (c->cr4 & CRC_CR4_PCIDE))
		return 1;
	return 0;
}

/* supported: the CR4 bits this CPU implements (VT-x: IA32_VMX_CR4_FIXED1,
 * minus bits the hypervisor hides, e.g. VMXE). */
static inline int ahv_cr4_write_faults(const struct ahv_cr_ctx *c, uint64_t val, uint64_t supported)
{
	if (val & ~supported) /* reserved or not offered */
		return 1;
	int lma = (c->efer & CRC_EFER_LMA) != 0;
	if (lma && !(val & CRC_CR4_PAE)) /* PAE off in IA-32e mode */
		return 1;
	if (lma && ((val ^ c->cr4) & CRC_CR4_LA57)) /* LA57 changed in IA-32e mode */
		return 1;
	/* PCIDE 0 -> 1 needs IA-32e mode and CR3[11:0] = 0. */
	if ((val & CRC_CR4_PCIDE) && !(c->cr4 & CRC_CR4_PCIDE) && (!lma || (c->cr3 & 0xfff)))
		return 1;
	return 0;
}

#endif
