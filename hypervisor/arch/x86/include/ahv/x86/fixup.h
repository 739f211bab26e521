/*
 * fixup.h - host instructions executed on a guest's behalf, under an
 * exception fixup: a fault becomes a return value for the exit handler to
 * turn into the guest's architectural exception, never a hypervisor panic
 * (fixup.S; isr.S resumes at the fixup through ahv_x86_exception).
 *
 * Each returns 0, or 1 + the exception vector the host instruction raised.
 */
#ifndef AHV_X86_FIXUP_H
#define AHV_X86_FIXUP_H
#include <stdint.h>
#include "ahv/x86/cpu.h"

int ahv_safe_xsetbv(uint32_t xcr, uint64_t val);
int ahv_safe_wrmsr(uint32_t msr, uint64_t val);
int ahv_safe_rdmsr(uint32_t msr, uint64_t *val);
int ahv_safe_rdpkru(uint32_t *val);

/* The guest's PKRU for struct ahv_vcpu_exit: 0 while its CR4.PKE (SDM
 * Vol. 3A §2.5) is clear; all keys access- and write-disabled (SDM
 * Vol. 3A §4.6.2) if the host cannot read it, so a CPL3 caller is refused
 * rather than served past its own protection keys. */
static inline uint32_t ahv_guest_pkru(uint64_t guest_cr4)
{
	uint32_t v;
	if (!(guest_cr4 & CR4_PKE))
		return 0;
	return ahv_safe_rdpkru(&v) ? UINT32_MAX : v;
}

/* The fixup for a faulting host RIP, or 0 when there is none. */
uint64_t ahv_fixup_find(uint64_t rip);

#endif
