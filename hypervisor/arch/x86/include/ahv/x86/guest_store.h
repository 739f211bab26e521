/*
 * ahv/x86/guest_store.h - a guest store to a write-protected page that the
 * hypervisor completes itself (the xAPIC/I/O APIC trap, initsipi.c; the
 * ECAM trap, pcicfg.c): the instruction fetched through the engine's
 * walker and decoded (store_decode.c), and an XCHG's register given what
 * the location held.
 */
#ifndef AHV_X86_GUEST_STORE_H
#define AHV_X86_GUEST_STORE_H

#include <stdint.h>
#include "ahv/platform.h"
#include "ahv/x86/vcpu.h"

struct ahv_hv;

struct ahv_guest_store {
	uint32_t val;   /* the bytes stored (width of them) */
	unsigned len;   /* the instruction's length */
	unsigned width; /* 1, 2 or 4 */
	int xreg;       /* XCHG's register (ModRM encoding), else -1 */
};

/* Fetch the instruction at linear address lin (the guest's tables, then
 * the nested tables) and decode it as a store with ahv_decode_store. 0,
 * or -1 (not a store the hypervisor completes: the guest gets #GP); the
 * reason is logged, naming what (the trapped page's kind). */
int ahv_guest_store_decode(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
			   uint64_t gpa, const char *what, struct ahv_guest_store *st);
/* After an XCHG: its register gets old (a 32-bit write zero-extends). */
void ahv_guest_store_xchg(struct ahv_vcpu *v, const struct ahv_guest_store *st, uint32_t old);

#endif
