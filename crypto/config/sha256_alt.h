/*
 * sha256_alt.h - mbedTLS's SHA-256 context under MBEDTLS_SHA256_ALT: the
 * module is ours (crypto/src/sha256.c) so that whole runs of blocks reach the
 * SHA-NI compression function in one call.
 */
#ifndef AHV_SHA256_ALT_H
#define AHV_SHA256_ALT_H
#include <stdint.h>

typedef struct mbedtls_sha256_context {
	uint32_t state[8];
	uint64_t total;          /* bytes hashed so far */
	unsigned char buffer[64];
} mbedtls_sha256_context;
#endif
