/*
 * internal.h - shared by the files of libattest-hv; not installed.
 */
#ifndef AHVL_INTERNAL_H
#define AHVL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest-hv/attest.h"

#define AHVL_HIDDEN __attribute__((visibility("hidden")))
#define AHVL_NAME_MAX 64

/* Record a failure for ahvl_error_detail() and return err. */
AHVL_HIDDEN int ahvl_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, appending the OpenSSL error queue (and clearing it). */
AHVL_HIDDEN int ahvl_fail_ssl(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
AHVL_HIDDEN void ahvl_clear_detail(void);

struct ahvl_ctx {
	struct ahvl_transport t;
	ahvl_log_fn log;
	void *log_user;
	bool detected;
	struct ahvl_hv_identity id;
	struct ahvl_regs last;
	int last_calls;
};
AHVL_HIDDEN void ahvl_log(const ahvl_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct ahvl_req_region {
	uint64_t address, size;
	uint32_t space;
	bool claimed;
	uint8_t digest[AHV_DIGEST_FIELD_SIZE];
	char name[AHVL_NAME_MAX + 1];
};

struct ahvl_request {
	uint32_t hash_alg;
	uint16_t nonce_len;
	uint8_t nonce[AHV_NONCE_MAX];
	unsigned n;
	struct ahvl_req_region r[AHV_MAX_REGIONS];
	uint32_t watch_flags; /* AHV_REQ_F_WATCH_* (docs/watch.md) */
	uint64_t watch_arg;
};

struct ahvl_signer {
	EVP_PKEY *pkey;
	OSSL_LIB_CTX *libctx;   /* TPM: private context with the provider */
	OSSL_PROVIDER *prov[2];
	uint32_t sig_alg;
};

/* ---- util.c ---- */
AHVL_HIDDEN void ahvl_hex(char *out, const uint8_t *b, size_t n);
AHVL_HIDDEN int ahvl_unhex(const char *s, uint8_t *out, size_t cap,
			   size_t *len);
/* base64 of n bytes, standard alphabet padded or (url) base64url unpadded;
 * malloc'd. */
AHVL_HIDDEN char *ahvl_b64(const uint8_t *b, size_t n, bool url);
/* Strict base64url as JWS uses it (AHV_B64_URL of attest/base64.h: URL
 * alphabet, no padding, canonical). malloc'd; NULL if not canonical. */
AHVL_HIDDEN uint8_t *ahvl_unb64(const char *s, size_t slen, size_t *len);
AHVL_HIDDEN int ahvl_read_file(const char *path, size_t max, uint8_t **out,
			       size_t *len);
AHVL_HIDDEN const char *ahvl_hash_name(uint32_t hash_alg);
AHVL_HIDDEN int ahvl_digest(uint32_t hash_alg, const void *data, size_t len,
			    uint8_t *out);

/* ---- keys.c ---- */
/* Public key from PEM or DER SPKI; AHVL_E_KEY if unusable. */
AHVL_HIDDEN int ahvl_load_pub(const uint8_t *buf, size_t len, EVP_PKEY **out);
/* sig_alg of an EC key (P-256/P-384), 0 otherwise. */
AHVL_HIDDEN uint32_t ahvl_key_sig_alg(const EVP_PKEY *k);
AHVL_HIDDEN int ahvl_key_id(const EVP_PKEY *k, uint8_t id[AHV_KEY_ID_SIZE]);
/* Raw r||s (wire) <-> DER ECDSA-Sig-Value. */
AHVL_HIDDEN int ahvl_sig_raw_to_der(const uint8_t *raw, size_t half,
				    uint8_t **der, size_t *der_len);
AHVL_HIDDEN int ahvl_sig_der_to_raw(const uint8_t *der, size_t der_len,
				    size_t half, uint8_t *raw);
/* ECDSA verify over msg with the key's message hash; raw r||s. */
AHVL_HIDDEN int ahvl_ecdsa_verify(EVP_PKEY *k, uint32_t sig_alg,
				  const uint8_t *msg, size_t len,
				  const uint8_t *raw_sig);
AHVL_HIDDEN int ahvl_signer_sign(const ahvl_signer *s, const uint8_t *msg,
				 size_t len, uint8_t *raw_sig);

/* ---- elf.c ---- */
struct ahvl_elf;
AHVL_HIDDEN int ahvl_elf_open(const char *path, struct ahvl_elf **out);
AHVL_HIDDEN void ahvl_elf_close(struct ahvl_elf *e);
/* A SHF_ALLOC section: vaddr (link-time), size, type. */
AHVL_HIDDEN int ahvl_elf_section(const struct ahvl_elf *e, const char *name,
				 uint64_t *vaddr, uint64_t *size,
				 uint32_t *type);

#endif
