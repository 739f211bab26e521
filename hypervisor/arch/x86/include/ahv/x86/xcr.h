/*
 * xcr.h - XSETBV as the CPU judges it, for a hypervisor that executes the
 * guest's XSETBV on its behalf (VT-x: XSETBV always exits, SDM Vol. 3C
 * §26.1.2). Pure functions: the host unit test (tests/unit/xcr_test.c)
 * checks every rule on hosted builds.
 */
#ifndef AHV_X86_XCR_H
#define AHV_X86_XCR_H
#include <stdint.h>

/* XCR0 state-component bits (SDM Vol. 1 §13.1 Table 13-1). */
#define XCR0_X87 (1ull << 0)
#define XCR0_SSE (1ull << 1)
#define XCR0_AVX (1ull << 2)
#define XCR0_BNDREGS (1ull << 3)
#define XCR0_BNDCSR (1ull << 4)
#define XCR0_OPMASK (1ull << 5)
#define XCR0_ZMM_HI256 (1ull << 6)
#define XCR0_HI16_ZMM (1ull << 7)
#define XCR0_AVX512 (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)
#define XCR0_PKRU (1ull << 9)
#define XCR0_TILECFG (1ull << 17)
#define XCR0_TILEDATA (1ull << 18)

/* What XSETBV raises for these operands (Vol. 2C "XSETBV", Protected Mode
 * Exceptions; Vol. 1 §13.3 "Enabling the XSAVE Feature Set"). */
enum ahv_xsetbv_fault { AHV_XSETBV_OK = 0, AHV_XSETBV_UD = 6, AHV_XSETBV_GP = 13 };

/* cr4_osxsave: the guest's CR4.OSXSAVE (the VMCS guest CR4, never the read
 * shadow, which is stale for guest-owned bits); cpl: the guest's CPL; ecx:
 * the XCR index; val: EDX:EAX; supported: CPUID.(EAX=0DH,ECX=0):EDX:EAX. */
static inline enum ahv_xsetbv_fault ahv_xsetbv_check(int cr4_osxsave, unsigned cpl, uint32_t ecx, uint64_t val,
						      uint64_t supported)
{
	if (!cr4_osxsave) /* #UD: CR4.OSXSAVE = 0 */
		return AHV_XSETBV_UD;
	if (cpl != 0 || ecx != 0) /* #GP(0): CPL > 0; only XCR0 is writable */
		return AHV_XSETBV_GP;
	if (val & ~supported) /* bits the CPU does not support */
		return AHV_XSETBV_GP;
	if (!(val & XCR0_X87)) /* bit 0 must be 1 */
		return AHV_XSETBV_GP;
	if ((val & XCR0_AVX) && !(val & XCR0_SSE)) /* AVX needs SSE */
		return AHV_XSETBV_GP;
	/* MPX: BNDREGS and BNDCSR are set or clear together (§13.3). */
	if (!(val & XCR0_BNDREGS) != !(val & XCR0_BNDCSR))
		return AHV_XSETBV_GP;
	/* AVX-512: bits 7:5 are 000b or 111b, and 111b needs AVX (§13.3). */
	if ((val & XCR0_AVX512) && ((val & XCR0_AVX512) != XCR0_AVX512 || !(val & XCR0_AVX)))
		return AHV_XSETBV_GP;
	/* AMX: TILECFG and TILEDATA together (§13.3). */
	if (!(val & XCR0_TILECFG) != !(val & XCR0_TILEDATA))
		return AHV_XSETBV_GP;
	return AHV_XSETBV_OK;
}

#endif
