/* sha256_block.h - SHA-256 compression functions (FIPS 180-4 section 6.2.2)
 * used by crypto/src/sha256.c, our module behind MBEDTLS_SHA256_ALT. */
#ifndef AHV_SHA256_BLOCK_H
#define AHV_SHA256_BLOCK_H
#include <stddef.h>
#include <stdint.h>

/* Round constants K0..K63 (FIPS 180-4 section 4.2.2), 16-byte aligned. */
extern const uint32_t ahv_sha256_k[64];

/* Portable C, general-purpose registers only. */
void ahv_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t nblocks);
/* x86 SHA extensions (SHA-NI); only call when ahv_cpu_has_shani() says so. */
void ahv_sha256_blocks_shani(uint32_t state[8], const uint8_t *data, size_t nblocks);
/* CPUID.(EAX=7,ECX=0):EBX bit 29 (SHA) and CPUID.1:ECX bit 19 (SSE4.1), SDM Vol. 2A, CPUID. */
int ahv_cpu_has_shani(void);
#endif
