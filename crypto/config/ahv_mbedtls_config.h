/*
 * ahv_mbedtls_config.h - the mbedTLS 3.6 configuration shared by both builds
 * (selected with -DMBEDTLS_CONFIG_FILE). Only what attest-hv uses: SHA-2
 * (SHA-256 and the SHA-512 block function are ours), HMAC_DRBG, ECDSA on
 * P-256/P-384, ASN.1 and base64 for key and signature encodings. SHA-3 is
 * ours too (crypto/src/keccak.c), so MBEDTLS_SHA3_C is off. No file system, network, time, threads or PSA.
 */
#ifndef AHV_MBEDTLS_CONFIG_H
#define AHV_MBEDTLS_CONFIG_H

/* System support */
#define MBEDTLS_HAVE_ASM            /* x86-64 bignum multiply-accumulate (GPRs only) */
#define MBEDTLS_NO_PLATFORM_ENTROPY /* entropy comes from ahv_drbg's sources */

/* Hashes */
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
/* SHA-3 is ours (crypto/src/keccak.c): no MBEDTLS_SHA3_C. */
/* Our SHA-256 module (crypto/src/sha256.c, context in sha256_alt.h):
 * SHA-NI over whole runs of blocks, with a portable fallback. */
#define MBEDTLS_SHA256_ALT
/* Our SHA-512/384 compression function (crypto/src/sha512_block.c); mbedTLS
 * keeps the buffering, padding and context. */
#define MBEDTLS_SHA512_PROCESS_ALT
#define MBEDTLS_MD_C

/* DRBG */
#define MBEDTLS_HMAC_DRBG_C

/* ECDSA */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM       /* fast reduction modulo the NIST primes */
#define MBEDTLS_ECP_WINDOW_SIZE 6
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 1

/* Encodings */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_BASE64_C

#if defined(AHV_FREESTANDING)
/* Freestanding: every allocation comes from the pool handed to
 * ahv_crypto_init(); no C library behind the platform layer. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* 128-by-64-bit division would pull __udivti3 from libgcc. */
#define MBEDTLS_NO_UDBL_DIVISION
/* Heap corruption detected by memory_buffer_alloc is an impossible state:
 * the embedding world's ahv_crypto_fatal() stops the machine. */
void ahv_crypto_fatal(int status);
#define MBEDTLS_PLATFORM_EXIT_MACRO ahv_crypto_fatal
#endif

#endif /* AHV_MBEDTLS_CONFIG_H */
