/*
 * p256.h - internal: our own P-256 ECDSA signature verification (p256.c).
 *
 * Variable time: it handles public data only (public key, digest,
 * signature). Signing stays with mbedTLS (constant-time, blinded).
 * Return values are the AHV_CRYPTO_* codes of ahv/crypto.h.
 */
#ifndef AHV_P256_H
#define AHV_P256_H

#include <stddef.h>
#include <stdint.h>

/* Public point 0x04 || X || Y (65 bytes): 0 <= X, Y < p and
 * Y^2 = X^3 - 3X + b (SEC 1 3.2.2.1; the cofactor is 1, so that is all).
 * AHV_CRYPTO_OK or AHV_CRYPTO_EBADKEY. */
int ahv_p256_pub_check(const uint8_t point[65]);

/* ECDSA verification (FIPS 186-5 6.4.2) of r || s (64 bytes) over a digest
 * of any length >= 1 (the leftmost 256 bits are used). Checks the public
 * point first. AHV_CRYPTO_OK, AHV_CRYPTO_EBADKEY or AHV_CRYPTO_EBADSIG. */
int ahv_p256_verify(const uint8_t point[65], const uint8_t *digest, size_t digest_len,
		    const uint8_t sig[64]);

/* ---- test hooks (unit tests only; big-endian 32-byte operands) ------------ */
enum {
	AHV_P256_OP_MUL = 0, /* a * b */
	AHV_P256_OP_SQR = 1, /* a^2 */
	AHV_P256_OP_ADD = 2, /* a + b */
	AHV_P256_OP_SUB = 3, /* a - b */
	AHV_P256_OP_INV = 4, /* a^-1 (0 for a = 0) */
};
/* modulus: 0 = p (field), 1 = n (group order; MUL, SQR and INV only).
 * Returns 0, or -1 when an operand is not below the modulus. */
int ahv_p256_test_op(int modulus, int op, const uint8_t a[32], const uint8_t b[32],
		     uint8_t out[32]);
/* u1 * G + u2 * Q for any 256-bit u1, u2 and an on-curve Q (65 bytes).
 * Returns 0 with out = 0x04 || X || Y, 1 for the point at infinity, -1 for a
 * bad Q. */
int ahv_p256_test_mul2(const uint8_t u1[32], const uint8_t u2[32], const uint8_t q[65],
		       uint8_t out[65]);
/* 0 when the static table of multiples of G equals a fresh computation. */
int ahv_p256_test_table(void);
/* The table's limbs, freshly computed (the generator of the static table). */
void ahv_p256_table_limbs(uint64_t out[32][2][4]);

#endif /* AHV_P256_H */
