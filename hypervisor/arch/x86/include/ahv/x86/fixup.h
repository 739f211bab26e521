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

int ahv_safe_xsetbv(uint32_t xcr, uint64_t val);
int ahv_safe_wrmsr(uint32_t msr, uint64_t val);
int ahv_safe_rdmsr(uint32_t msr, uint64_t *val);
int ahv_safe_xgetbv(uint32_t xcr, uint64_t *val);

/* The fixup for a faulting host RIP, or 0 when there is none. */
uint64_t ahv_fixup_find(uint64_t rip);

#endif
