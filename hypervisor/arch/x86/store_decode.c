/*
 * store_decode.c - see store_decode.h. Byte layout per SDM Vol. 2A ch. 2:
 * legacy prefixes (§2.1.1), REX in 64-bit mode (§2.2.1), opcode, ModRM and
 * SIB (§2.1.5 Tables 2-2, 2-3), displacement, immediate.
 */
#include "ahv/x86/store_decode.h"

int ahv_decode_store32(const uint8_t *b, unsigned n, int long_mode, const uint64_t gpr[16], unsigned *len,
		       uint32_t *val, int *xreg)
{
	unsigned i = 0, rex = 0;
	if (n > 15) /* the architectural maximum (§2.3.11) */
		n = 15;
	/* segment overrides, address size (67), LOCK (F0); no operand size (66) */
	while (i < n && (b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 || b[i] == 0x64 ||
			 b[i] == 0x65 || b[i] == 0x67 || b[i] == 0xf0))
		i++;
	if (long_mode && i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i + 2 > n || (rex & 8)) /* REX.W: a 64-bit store */
		return -1;
	uint8_t op = b[i++], modrm = b[i++];
	unsigned mod = modrm >> 6, rm = modrm & 7, reg = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
	if (mod == 3) /* a register operand: no memory store */
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
	if (op == 0x89 || op == 0x87) {
		*val = (uint32_t)gpr[reg];
		if (op == 0x87)
			*xreg = (int)reg;
	} else if (op == 0xc7 && ((modrm >> 3) & 7) == 0) {
		if (i + 4 > n)
			return -1;
		*val = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
		i += 4;
	} else {
		return -1;
	}
	if (i > n) /* displacement cut off */
		return -1;
	*len = i;
	return 0;
}
