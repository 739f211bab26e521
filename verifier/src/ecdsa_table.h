/*
 * ecdsa_table.h - ECDSA P-256 verification against an enrolled key with a
 * precomputed table of multiples of that key.
 *
 * A verify computes u1*G + u2*Q. OpenSSL has a precomputed table for the
 * generator G only; for Q it runs a windowed multiplication (~256
 * doublings), about two thirds of a verify. An enrolled key is used for
 * thousands of reports, so the daemon gives each P-256 key an EC_GROUP whose
 * generator is Q, with OpenSSL's own precomputation for that generator
 * (EC_GROUP_precompute_mult: ~150 KiB per key, built at key load): u2*Q then
 * costs as little as u1*G, and a verify about half (docs/verifier.md
 * "Performance"). The arithmetic stays OpenSSL's; only the verification
 * equation is ours, SEC 1 v2 s4.1.4 / FIPS 186-5 s6.4.2.
 *
 * The table is attached to the EVP_PKEY (ex_data): it lives as long as the
 * key, and vc_verify_raw uses it whenever it is there.
 */
#ifndef AHV_V_ECDSA_TABLE_H
#define AHV_V_ECDSA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Build and attach the table of a P-256 key. 0 attached, 1 not a P-256 key
 * (nothing to do), -1 error. Call before the key is shared between threads. */
int vc_table_attach(EVP_PKEY *pk);
/* 1 if pk carries a table. */
int vc_table_has(EVP_PKEY *pk);
/* ECDSA verify of raw r||s (32 bytes each) over the SHA-256 digest h with
 * pk's table: 1 valid, 0 invalid, -1 no table or error. */
int vc_table_verify(EVP_PKEY *pk, const uint8_t h[32], const uint8_t sig[64]);
/* Tests only: out = s^-1 mod n (P-256 order) by the verify's own inversion,
 * for s in [1, n-1]. */
int vc_table_inverse_selftest(const uint8_t s[32], uint8_t out[32]);

#endif
