/*
 * ahv/crypto.h - the project's crypto API (the only door to mbedTLS).
 *
 * The same header serves both worlds:
 *   - hosted (tools, tests, benchmarks): link the `ahv_crypto` library;
 *   - freestanding (UEFI loader, hypervisor): link `ahv_crypto_efi`, and call
 *     ahv_crypto_init() once with a memory pool the hypervisor owns before any
 *     other function (mbedTLS allocates only from that pool).
 *
 * Nothing outside crypto/ includes an mbedTLS header. Every function returns
 * AHV_CRYPTO_OK (0) or a negative AHV_CRYPTO_E* code; output buffers are
 * written only on success.
 */
#ifndef AHV_CRYPTO_H
#define AHV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------- */
enum {
	AHV_CRYPTO_OK = 0,
	AHV_CRYPTO_EINVAL = -1,     /* bad argument (NULL, unknown algorithm/curve) */
	AHV_CRYPTO_EBUFSIZE = -2,   /* output buffer too small */
	AHV_CRYPTO_EBADSIG = -3,    /* signature does not verify */
	AHV_CRYPTO_EBADKEY = -4,    /* malformed or off-curve key */
	AHV_CRYPTO_EFORMAT = -5,    /* malformed DER/PEM encoding */
	AHV_CRYPTO_ENOENTROPY = -6, /* no entropy source delivered */
	AHV_CRYPTO_ENOMEM = -7,     /* the allocation pool is exhausted */
	AHV_CRYPTO_EINTERNAL = -8,  /* mbedTLS reported an unexpected error */
};
const char *ahv_crypto_strerror(int err);

/* Freestanding build only: hand mbedTLS its allocation pool (>= 16 KiB;
 * 64 KiB is plenty for P-384). In the hosted build the call is accepted and
 * ignored (mbedTLS uses the C library allocator there). */
int ahv_crypto_init(void *pool, size_t pool_len);

/* ---- hashes --------------------------------------------------------------
 * Algorithm ids are the wire-format ids (include/attest/wire.h asserts it). */
typedef enum {
	AHV_HASH_SHA256 = 1,
	AHV_HASH_SHA384 = 2,
	AHV_HASH_SHA512 = 3,
	AHV_HASH_SHA3_256 = 4,
	AHV_HASH_SHA3_384 = 5,
	AHV_HASH_SHA3_512 = 6,
} ahv_hash_alg;

#define AHV_HASH_MAX_SIZE 64

/* Digest size in bytes, or 0 for an unknown id. */
size_t ahv_hash_size(ahv_hash_alg alg);
/* Lower-case name ("sha256", "sha3-256", ...) or NULL for an unknown id. */
const char *ahv_hash_name(ahv_hash_alg alg);

/* Streaming context. Opaque; sized for the largest mbedTLS context. */
typedef struct ahv_hash_ctx {
	uint32_t alg;
	uint32_t pad_;
	_Alignas(16) unsigned char opaque[448];
} ahv_hash_ctx;

int ahv_hash_init(ahv_hash_ctx *ctx, ahv_hash_alg alg);
int ahv_hash_update(ahv_hash_ctx *ctx, const void *data, size_t len);
/* Writes ahv_hash_size(alg) bytes to out and wipes the context. */
int ahv_hash_final(ahv_hash_ctx *ctx, uint8_t *out);
/* Wipes a context without producing a digest (safe on any initialised ctx). */
void ahv_hash_abort(ahv_hash_ctx *ctx);
/* One shot. */
int ahv_hash(ahv_hash_alg alg, const void *data, size_t len, uint8_t *out);

/* Which SHA-256 block function is live: "sha-ni" or "portable". */
const char *ahv_sha256_impl(void);
/* Tests and benchmarks only: force the portable SHA-256 path (force != 0) or
 * return to automatic CPUID-based selection (force == 0). */
void ahv_sha256_force_portable(int force);

/* ---- DRBG (HMAC_DRBG with SHA-256, NIST SP 800-90A) ------------------------
 * Seeded from RDSEED (falling back to RDRAND) plus an optional
 * caller-supplied source (the TPM's TPM2_GetRandom in the loader). The
 * caller source is mixed in at seeding and at every reseed. */
typedef int (*ahv_entropy_fn)(void *arg, uint8_t *out, size_t len);

enum {
	AHV_DRBG_HW = 1u << 0, /* use RDSEED/RDRAND (fails if neither exists) */
};

typedef struct ahv_drbg {
	ahv_entropy_fn extra;
	void *extra_arg;
	uint32_t flags;
	uint32_t pad_;
	_Alignas(16) unsigned char opaque[384];
} ahv_drbg;

/* flags: AHV_DRBG_HW or 0. With 0, `extra` must be given (deterministic
 * known-answer tests use that). pers: personalisation string, may be NULL. */
int ahv_drbg_init(ahv_drbg *d, uint32_t flags, ahv_entropy_fn extra,
		  void *extra_arg, const void *pers, size_t pers_len);
int ahv_drbg_reseed(ahv_drbg *d, const void *additional, size_t add_len);
int ahv_drbg_generate(ahv_drbg *d, void *out, size_t len);
/* Number of generate calls since the last (re)seed. */
uint64_t ahv_drbg_reseed_counter(const ahv_drbg *d);
/* Reseed automatically after this many generate calls (1..10000; default
 * 10000). Do not copy an ahv_drbg: it refers to itself. */
int ahv_drbg_set_reseed_interval(ahv_drbg *d, uint32_t interval);
void ahv_drbg_free(ahv_drbg *d);

/* Raw hardware entropy: RDSEED, else RDRAND. Returns OK or ENOENTROPY. */
int ahv_hw_entropy(void *arg, uint8_t *out, size_t len);

/* ---- ECDSA (P-256, P-384) -------------------------------------------------
 * Keys are plain bytes: the private scalar (big-endian, curve-size bytes)
 * and the public point in uncompressed SEC1 form (0x04 || X || Y). */
typedef enum {
	AHV_CURVE_P256 = 1,
	AHV_CURVE_P384 = 2,
} ahv_curve;

#define AHV_EC_MAX_SCALAR 48
#define AHV_EC_MAX_POINT (1 + 2 * AHV_EC_MAX_SCALAR) /* 97 */
#define AHV_EC_MAX_SIG_RAW (2 * AHV_EC_MAX_SCALAR)   /* 96: r || s */
#define AHV_EC_MAX_SIG_DER 104                       /* SEQUENCE of two INTEGERs */
#define AHV_SPKI_MAX_DER 120
#define AHV_SPKI_MAX_PEM 256

typedef struct ahv_ec_pub {
	uint32_t curve;                 /* ahv_curve */
	uint32_t point_len;             /* 65 or 97 */
	uint8_t point[AHV_EC_MAX_POINT];
} ahv_ec_pub;

typedef struct ahv_ec_key {
	ahv_ec_pub pub;
	uint8_t d[AHV_EC_MAX_SCALAR];   /* private scalar, curve-size bytes used */
} ahv_ec_key;

/* Scalar size in bytes (32, 48), or 0 for an unknown curve. */
size_t ahv_curve_size(ahv_curve curve);

int ahv_ec_keygen(ahv_curve curve, ahv_drbg *rng, ahv_ec_key *key);
/* Rebuild a key from its private scalar (recomputes the public point; rng
 * blinds the scalar multiplication). */
int ahv_ec_key_from_private(ahv_curve curve, const uint8_t *d, size_t d_len,
			    ahv_drbg *rng, ahv_ec_key *key);
/* Checks that a public point lies on the curve. */
int ahv_ec_pub_check(const ahv_ec_pub *pub);
void ahv_ec_key_wipe(ahv_ec_key *key);

/* Sign a digest; writes r || s (2 * curve size bytes) to sig. */
int ahv_ecdsa_sign_raw(const ahv_ec_key *key, ahv_drbg *rng,
		       const uint8_t *digest, size_t digest_len,
		       uint8_t *sig, size_t sig_cap, size_t *sig_len);
int ahv_ecdsa_verify_raw(const ahv_ec_pub *pub, const uint8_t *digest,
			 size_t digest_len, const uint8_t *sig, size_t sig_len);
/* The same with an ASN.1 DER Ecdsa-Sig-Value. */
int ahv_ecdsa_sign_der(const ahv_ec_key *key, ahv_drbg *rng,
		       const uint8_t *digest, size_t digest_len,
		       uint8_t *sig, size_t sig_cap, size_t *sig_len);
int ahv_ecdsa_verify_der(const ahv_ec_pub *pub, const uint8_t *digest,
			 size_t digest_len, const uint8_t *sig, size_t sig_len);
/* Signature encoding conversion (strict DER on input). */
int ahv_ecdsa_sig_raw_to_der(ahv_curve curve, const uint8_t *raw, size_t raw_len,
			     uint8_t *der, size_t der_cap, size_t *der_len);
int ahv_ecdsa_sig_der_to_raw(ahv_curve curve, const uint8_t *der, size_t der_len,
			     uint8_t *raw, size_t raw_cap, size_t *raw_len);

/* ---- public keys as SubjectPublicKeyInfo (RFC 5480) ----------------------- */
int ahv_spki_write_der(const ahv_ec_pub *pub, uint8_t *der, size_t cap,
		       size_t *len);
int ahv_spki_read_der(const uint8_t *der, size_t len, ahv_ec_pub *pub);
/* PEM "-----BEGIN PUBLIC KEY-----", NUL-terminated; *len excludes the NUL. */
int ahv_spki_write_pem(const ahv_ec_pub *pub, char *pem, size_t cap,
		       size_t *len);
int ahv_spki_read_pem(const char *pem, size_t len, ahv_ec_pub *pub);
/* Key id: SHA-256 of the SubjectPublicKeyInfo DER (32 bytes). */
int ahv_spki_key_id(const ahv_ec_pub *pub, uint8_t id[32]);

/* ---- misc ----------------------------------------------------------------- */
/* Constant-time comparison: 0 when equal. */
int ahv_ct_memcmp(const void *a, const void *b, size_t len);
/* Wipe that the compiler cannot drop. */
void ahv_wipe(void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* AHV_CRYPTO_H */
