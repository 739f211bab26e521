/*
 * store_decode.c - see store_decode.h. Byte layout per SDM Vol. 2A ch. 2:
 * legacy prefixes (§2.1.1), REX in 64-bit mode (§2.2.1), opcode, ModRM and
 * SIB (§2.1.5 Tables 2-2, 2-3), displacement, immediate.
 */
#include "ahv/x86/store_decode.h"

int ahv_decode_store(const uint8_t *b, unsigned n, int long_mode, const uint64_t gpr[16], unsigned *len,
		     uint32_t *val, unsigned *width, int *xreg)
{
	unsigned i = 0, rex = 0, osz = 0;
	if (n > 15) /* the architectural maximum (§2.3.11) */
		n = 15;
	/* segment overrides, operand size (66), address size (67), LOCK (F0) */
	while (i < n && (b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 || b[i] == 0x64 ||
			 b[i] == 0x65 || b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf0))
		osz |= b[i++] == 0x66;
	if (long_mode && i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i + 2 > n || (rex & 8)) /* REX.W: a 64-bit store */
		return -1;
	uint8_t op = b[i++], modrm = b[i++];
	unsigned mod = modrm >> 6, rm = modrm & 7, reg = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
	/* 88/C6: a byte; 89/C7 a dword, a word with 66 (§3.1.1.1 "operand
	 * size"); XCHG (87) only as a dword. */
	unsigned w = (op == 0x88 || op == 0xc6) ? 1 : osz ? 2 : 4;
	if (mod == 3 || (op == 0x87 && osz)) /* a register operand: no memory store */
		return -1;
	if (rm == 4) { /* SIB follows */
		if (i >= n)
			return -1;
		uint8_t sib = b[i++];
		if (mod == 0 && (sib & 7) == 5)
			i += 4; /* disp32, no base */
	} else if (mod == 0 && rm == 5) {
		i += 4; /* RIP-relative (64-bit) or disp32 */
	}
	i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	*xreg = -1;
	if (op == 0x89 || op == 0x87 || op == 0x88) {
		uint64_t r = gpr[reg];
		/* A byte register 4-7 without REX is AH, CH, DH, BH (§2.1.5
		 * Table 2-2 note; §3.4.1.1 "with REX: SPL, BPL, SIL, DIL"). */
		if (op == 0x88 && !rex && reg >= 4)
			r = gpr[reg - 4] >> 8;
		*val = (uint32_t)r;
		if (op == 0x87)
			*xreg = (int)reg;
	} else if ((op == 0xc7 || op == 0xc6) && ((modrm >> 3) & 7) == 0) {
		if (i + w > n)
			return -1;
		*val = 0;
		for (unsigned k = 0; k < w; k++)
			*val |= (uint32_t)b[i + k] << (8 * k);
		i += w;
	} else {
		return -1;
	}
	if (i > n) /* displacement cut off */
		return -1;
	if (w < 4)
		*val &= (1u << (8 * w)) - 1;
	*len = i;
	*width = w;
	return 0;
}
