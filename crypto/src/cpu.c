/*
 * cpu.c - CPUID feature checks, RDSEED/RDRAND (SDM Vol. 2B, RDSEED and
 * RDRAND: CF=1 means a valid value was delivered) and the hardware entropy
 * source behind the DRBG.
 */
#include <string.h>
#include "ahv/crypto.h"
#include "cpu.h"
#include "sha256_block.h"

#define CPUID1_ECX_SSE41 (1u << 19)
#define CPUID1_ECX_RDRAND (1u << 30)
#define CPUID7_EBX_RDSEED (1u << 18)
#define CPUID7_EBX_SHA (1u << 29)

static int leaf7_ebx_has(uint32_t bit)
{
	uint32_t r[4];

	ahv_cpuid(0, 0, r);
	if (r[0] < 7)
		return 0;
	ahv_cpuid(7, 0, r);
	return (r[1] & bit) != 0;
}

static int leaf1_ecx_has(uint32_t bit)
{
	uint32_t r[4];

	ahv_cpuid(1, 0, r);
	return (r[2] & bit) != 0;
}

int ahv_cpu_has_rdrand(void) { return leaf1_ecx_has(CPUID1_ECX_RDRAND); }
int ahv_cpu_has_rdseed(void) { return leaf7_ebx_has(CPUID7_EBX_RDSEED); }
int ahv_cpu_has_shani(void)
{
	return leaf7_ebx_has(CPUID7_EBX_SHA) && leaf1_ecx_has(CPUID1_ECX_SSE41);
}

/* RDSEED may transiently fail when the conditioner is drained (SDM Vol. 1
 * 7.3.17.2 recommends retrying); RDRAND should succeed within 10 tries. */
#define RDSEED_RETRIES 1000
#define RDRAND_RETRIES 10

int ahv_rdseed64(uint64_t *v)
{
	for (int i = 0; i < RDSEED_RETRIES; i++) {
		unsigned char ok;
		__asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
		if (ok)
			return 1;
		__asm__ volatile("pause");
	}
	return 0;
}

int ahv_rdrand64(uint64_t *v)
{
	for (int i = 0; i < RDRAND_RETRIES; i++) {
		unsigned char ok;
		__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
		if (ok)
			return 1;
	}
	return 0;
}

int ahv_hw_entropy(void *arg, uint8_t *out, size_t len)
{
	int (*get)(uint64_t *);

	(void)arg;
	if (ahv_cpu_has_rdseed())
		get = ahv_rdseed64;
	else if (ahv_cpu_has_rdrand())
		get = ahv_rdrand64;
	else
		return AHV_CRYPTO_ENOENTROPY;
	while (len) {
		uint64_t v;
		size_t n = len < 8 ? len : 8;
		if (!get(&v))
			return AHV_CRYPTO_ENOENTROPY;
		memcpy(out, &v, n);
		out += n;
		len -= n;
	}
	return AHV_CRYPTO_OK;
}
