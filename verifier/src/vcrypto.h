/*
 * vcrypto.h - the verifier's crypto on OpenSSL 3: wire hashes, ECDSA raw
 * r||s verification, key ids (protocol.md §8.2), PEM key loading.
 */
#ifndef AHV_VCRYPTO_H
#define AHV_VCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Prefetch digests once (thread-safe after this returns). 0 on success. */
int vc_init(void);

/* H(data) with a wire hash id; returns the digest size or 0 for a bad id. */
unsigned vc_hash(unsigned wire_alg, const void *data, size_t len,
		 uint8_t *out); /* out: the digest size */
const char *vc_hash_name(unsigned wire_alg); /* "sha256", ... or NULL */
int vc_hash_id(const char *name);            /* inverse, -1 if unknown */

/* Verify a raw r||s ECDSA signature (wire sig id) over msg. 1 valid,
 * 0 invalid, -1 error. */
int vc_verify_raw(EVP_PKEY *pk, unsigned sig_alg, const void *msg, size_t len,
		  const uint8_t *sig);

/* Load an EC P-256/P-384 key (public SPKI or private, PEM). On success sets
 * *pk (public part only), its wire sig id, its key id and its SPKI PEM text
 * (malloc'd). Returns 0, or -1 with a message in err. */
int vc_load_pubkey(const char *pem, size_t len, EVP_PKEY **pk,
		   unsigned *sig_alg, uint8_t key_id[32], char **spki_pem,
		   char *err, size_t errlen);

/* Load a P-256 private key for ES256 token signing. */
EVP_PKEY *vc_load_es256_private(const char *path, char *err, size_t errlen);
/* ES256 (JWS raw r||s, 64 bytes) over msg. 0 on success. */
int vc_sign_es256(EVP_PKEY *pk, const void *msg, size_t len, uint8_t sig[64]);
/* Affine x, y (32 bytes each) of a P-256 key. 0 on success. */
int vc_p256_xy(EVP_PKEY *pk, uint8_t x[32], uint8_t y[32]);

#endif
