/*
 * store_decode.h - decode the one guest store a trapped MMIO page (the
 * xAPIC and I/O APIC pages, an IOMMU's ECAM page; SVM and VT-x) must
 * emulate (docs/smp.md, docs/iommu.md): MOV r/m,r, MOV r/m,imm or XCHG
 * r/m32,r32, with segment/address-size/LOCK prefixes, REX (not REX.W),
 * ModRM, SIB and displacement (SDM Vol. 2A ch. 2 "Instruction Format").
 * What Linux's native_apic_mem_write and MMCONFIG accessors and EDK2's
 * MmioWrite8/32 emit. Self-contained so a hosted unit test can feed it
 * hostile bytes (tests/unit/store_decode_test.c).
 */
#ifndef AHV_X86_STORE_DECODE_H
#define AHV_X86_STORE_DECODE_H

#include <stdint.h>

/* b[0..n): the instruction bytes fetched (n <= 15, fewer where the fetch
 * stopped); gpr[16] the guest registers in ModRM encoding order (RAX, RCX,
 * RDX, RBX, RSP, RBP, RSI, RDI, R8..R15). 0 and *len (instruction length),
 * *val (the bytes stored), *width, *xreg (encoding of XCHG's register, else
 * -1); -1 for anything else, including a truncated instruction.
 * The xAPIC/I/O APIC trap (initsipi.c; apic_guard.h
 * ahv_trapped_store_width_ok says which widths a page takes) and the ECAM
 * trap (pcicfg.c) use it: besides the dword stores (89 /r, C7 /0, XCHG
 * 87 /r) it takes byte and word stores, as Linux's MMCONFIG accessors and
 * EDK2's IoApicLib emit them: MOV r/m8,r8 (88 /r), MOV r/m8,imm8 (C6 /0),
 * and 89 /r, C7 /0 with the operand-size prefix 66. XCHG only as a dword. */
int ahv_decode_store(const uint8_t *b, unsigned n, int long_mode, const uint64_t gpr[16], unsigned *len,
		     uint32_t *val, unsigned *width, int *xreg);

#endif
