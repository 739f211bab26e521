/*
 * store_decode.h - decode the one guest store the xAPIC trap (SVM and VT-x) must
 * emulate (docs/smp.md): a 32-bit MOV r/m32,r32 (89 /r), MOV r/m32,imm32
 * (C7 /0) or XCHG r/m32,r32 (87 /r), with segment/address-size/LOCK
 * prefixes, REX (not REX.W), ModRM, SIB and displacement (SDM Vol. 2A
 * ch. 2 "Instruction Format"). What Linux's native_apic_mem_write and
 * EDK2's MmioWrite32 emit. Self-contained so a hosted unit test can feed it
 * hostile bytes (tests/unit/store_decode_test.c).
 */
#ifndef AHV_X86_STORE_DECODE_H
#define AHV_X86_STORE_DECODE_H

#include <stdint.h>

/* b[0..n): the instruction bytes fetched (n <= 15, fewer where the fetch
 * stopped); gpr[16] the guest registers in ModRM encoding order (RAX, RCX,
 * RDX, RBX, RSP, RBP, RSI, RDI, R8..R15). 0 and *len (instruction length),
 * *val (the 32 bits stored), *xreg (encoding of XCHG's register, else -1);
 * -1 for anything else, including a truncated instruction. */
int ahv_decode_store32(const uint8_t *b, unsigned n, int long_mode, const uint64_t gpr[16], unsigned *len,
		       uint32_t *val, int *xreg);
/* The same for the ECAM trap (pcicfg.c) and the interrupt-page trap
 * (initsipi.c: a byte store selects an I/O APIC register, apic_guard.h
 * ahv_trapped_store_width_ok), which also take byte and word stores, as
 * Linux's MMCONFIG accessors and EDK2's IoApicLib emit them: MOV r/m8,r8
 * (88 /r), MOV r/m8,imm8 (C6 /0), and 89 /r, C7 /0 with the operand-size
 * prefix 66. *width: 1, 2 or 4; *val holds that many bytes. XCHG only as a
 * dword. */
int ahv_decode_store(const uint8_t *b, unsigned n, int long_mode, const uint64_t gpr[16], unsigned *len,
		     uint32_t *val, unsigned *width, int *xreg);

#endif
