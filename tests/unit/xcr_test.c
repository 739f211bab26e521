/* xcr_test.c - the XSETBV rules the VT-x back end applies to a guest's
 * XSETBV before executing it (hypervisor/arch/x86/include/ahv/x86/xcr.h),
 * case by case against SDM Vol. 2C "XSETBV" and Vol. 1 §13.3, for a CPU
 * that supports x87/SSE/AVX/MPX/AVX-512/PKRU/AMX (0x602ff) and one with
 * x87/SSE/AVX only (0x7). Label: unit. */
#include <stdio.h>
#include "ahv/x86/xcr.h"

static int fails, count;

static void want(const char *what, int osxsave, unsigned cpl, uint32_t ecx, uint64_t val, uint64_t sup,
		 enum ahv_xsetbv_fault exp)
{
	enum ahv_xsetbv_fault got = ahv_xsetbv_check(osxsave, cpl, ecx, val, sup);
	count++;
	if (got != exp) {
		fails++;
		printf("FAIL %s: XSETBV(ecx %u, %llx) cpl %u osxsave %d supported %llx: got %d, want %d\n", what, ecx,
		       (unsigned long long)val, cpl, osxsave, (unsigned long long)sup, got, exp);
	}
}

int main(void)
{
	const uint64_t all = 0x602ffull, avx = 0x7;
	const enum ahv_xsetbv_fault OK = AHV_XSETBV_OK, GP = AHV_XSETBV_GP, UD = AHV_XSETBV_UD;
	want("x87 only", 1, 0, 0, 0x1, all, OK);
	want("x87+SSE", 1, 0, 0, 0x3, all, OK);
	want("x87+SSE+AVX", 1, 0, 0, 0x7, avx, OK);
	want("Linux skylake_x", 1, 0, 0, 0xe7, all, OK);
	want("everything", 1, 0, 0, all, all, OK);
	want("x87 clear", 1, 0, 0, 0x6, all, GP);
	want("zero", 1, 0, 0, 0x0, all, GP);
	want("AVX without SSE", 1, 0, 0, 0x5, all, GP);
	want("unsupported AVX-512 on AVX-only", 1, 0, 0, 0xe7, avx, GP);
	want("reserved bit 8", 1, 0, 0, 0x107, all, GP);
	want("high bit 63", 1, 0, 0, 0x8000000000000007ull, all, GP);
	want("ECX 1", 1, 0, 1, 0x7, all, GP);
	want("ECX 0x100000000 folded", 1, 0, 0xffffffffu, 0x7, all, GP);
	want("CPL 3", 1, 3, 0, 0x7, all, GP);
	want("CPL 1", 1, 1, 0, 0x7, all, GP);
	want("OSXSAVE clear", 0, 0, 0, 0x7, all, UD);
	want("OSXSAVE clear beats CPL", 0, 3, 0, 0x7, all, UD);
	/* AVX-512: 000b or 111b, and 111b needs AVX and SSE. */
	for (uint64_t k = 1; k < 7; k++)
		want("AVX-512 partial", 1, 0, 0, 0x7 | k << 5, all, GP);
	want("AVX-512 without AVX", 1, 0, 0, 0xe3, all, GP);
	want("AVX-512 without SSE/AVX", 1, 0, 0, 0xe1, all, GP);
	/* MPX: both or neither. */
	want("BNDREGS alone", 1, 0, 0, 0xf, all, GP);
	want("BNDCSR alone", 1, 0, 0, 0x17, all, GP);
	want("MPX pair", 1, 0, 0, 0x1f, all, OK);
	/* AMX: both or neither. */
	want("TILECFG alone", 1, 0, 0, 0x20007, all, GP);
	want("TILEDATA alone", 1, 0, 0, 0x40007, all, GP);
	want("AMX pair", 1, 0, 0, 0x600e7, all, OK);
	want("PKRU", 1, 0, 0, 0x207, all, OK);
	printf("xcr_test: %d cases, %d failed\n", count, fails);
	return fails != 0;
}
