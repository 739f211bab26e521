/*
 * guest_store.c - see ahv/x86/guest_store.h.
 */
#include "ahv/x86/guest_store.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/log.h"
#include "ahv/x86/store_decode.h"

/* ModRM register encoding -> struct ahv_gprs slot (SDM Vol. 2A §2.1.5
 * Table 2-2 with REX.R/B: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15). */
static const uint8_t enc_to_gpr[16] = {AHV_RAX, AHV_RCX, AHV_RDX, AHV_RBX, AHV_RSP, AHV_RBP, AHV_RSI,
				       AHV_RDI, AHV_R8, AHV_R9, AHV_R10, AHV_R11, AHV_R12, AHV_R13,
				       AHV_R14, AHV_R15};

int ahv_guest_store_decode(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
			   uint64_t gpa, const char *what, struct ahv_guest_store *st)
{
	uint8_t insn[15];
	/* Fetch through the engine's one walker (guest tables, then the
	 * nested tables, with its hypervisor-memory and RAM checks). */
	unsigned n = (unsigned)ahv_guest_fetch(hv->core, x, lin, insn, sizeof(insn));
	uint64_t enc[16];
	for (unsigned i = 0; i < 16; i++)
		enc[i] = *ahv_gpr(v, enc_to_gpr[i]);
	if (ahv_decode_store(insn, n, x->cs_l, enc, &st->len, &st->val, &st->width, &st->xreg)) {
		static uint32_t logged;
		if (logged++ < 16)
			ahv_log("ahv: cannot decode the %s write at %lx (gpa %lx, %u bytes fetched): #GP\n", what, lin,
				gpa, n);
		return -1;
	}
	return 0;
}

void ahv_guest_store_xchg(struct ahv_vcpu *v, const struct ahv_guest_store *st, uint32_t old)
{
	if (st->xreg >= 0)
		*ahv_gpr(v, enc_to_gpr[st->xreg]) = old; /* XCHG is dword-only here: zero-extends */
}
