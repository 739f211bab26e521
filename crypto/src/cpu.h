/* cpu.h - x86 feature probing and hardware random numbers for crypto/. */
#ifndef AHV_CRYPTO_CPU_H
#define AHV_CRYPTO_CPU_H
#include <stdint.h>

static inline void ahv_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* CPUID.1:ECX bit 30 = RDRAND; CPUID.(7,0):EBX bit 18 = RDSEED (SDM Vol. 2A, CPUID). */
int ahv_cpu_has_rdrand(void);
int ahv_cpu_has_rdseed(void);
/* One 64-bit value; 0 when the instruction reported no data (CF = 0) after retries. */
int ahv_rdseed64(uint64_t *v);
int ahv_rdrand64(uint64_t *v);
#endif
