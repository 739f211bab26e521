/*
 * keccak.h - SHA3-256/384/512 (FIPS 202) on our own Keccak-f[1600]
 * permutation (crypto/src/keccak.c). Internal to crypto/: hash.c drives it
 * for the AHV_HASH_SHA3_* ids.
 */
#ifndef AHV_KECCAK_H
#define AHV_KECCAK_H

#include <stddef.h>
#include <stdint.h>

typedef struct ahv_sha3_ctx {
	uint64_t st[25];  /* state A[x, y] at st[x + 5 * y] (FIPS 202 section 3.1.2) */
	uint32_t rate;    /* r / 8 in bytes: 136, 104 or 72 */
	uint32_t pos;     /* bytes absorbed into the current block, < rate */
} ahv_sha3_ctx;

/* digest_len: 32, 48 or 64 (SHA3-256/384/512); returns 0, or -1 otherwise. */
int ahv_sha3_init(ahv_sha3_ctx *ctx, size_t digest_len);
void ahv_sha3_update(ahv_sha3_ctx *ctx, const uint8_t *data, size_t len);
/* Writes the digest ((200 - rate) / 2 bytes); the caller wipes the context. */
void ahv_sha3_final(ahv_sha3_ctx *ctx, uint8_t *out);

#endif /* AHV_KECCAK_H */
