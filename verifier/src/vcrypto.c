#include "vcrypto.h"
#include "ecdsa_table.h"
#include "evidence.h" /* v_all_zero */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attest/wire.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static EVP_MD *mds[AHV_WIRE_HASH_MAX_ID + 1];
static const char *const md_names[AHV_WIRE_HASH_MAX_ID + 1] = {
	NULL, "SHA256", "SHA384", "SHA512", "SHA3-256", "SHA3-384", "SHA3-512",
};
static const char *const wire_names[AHV_WIRE_HASH_MAX_ID + 1] = {
	NULL, "sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512",
};

int vc_init(void)
{
	for (unsigned i = 1; i <= AHV_WIRE_HASH_MAX_ID; i++) {
		if (!mds[i])
			mds[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
		if (!mds[i])
			return -1;
	}
	return 0;
}

const char *vc_hash_name(unsigned a)
{
	return a >= 1 && a <= AHV_WIRE_HASH_MAX_ID ? wire_names[a] : NULL;
}

int vc_hash_id(const char *name)
{
	for (int i = 1; i <= (int)AHV_WIRE_HASH_MAX_ID; i++)
		if (!strcmp(name, wire_names[i]))
			return i;
	return -1;
}

/* ---- per-thread object cache --------------------------------------------
 * OpenSSL 3.0 looks its providers up (EVP_*_fetch, a locked hash-table
 * walk) in every EVP_PKEY_CTX_new_from_pkey + EVP_PKEY_{verify,sign}_init
 * and every EVP_Digest. That costs as much as half a P-256 verify, so each
 * thread keeps one initialised verify (or sign) EVP_PKEY_CTX per key and
 * one EVP_MD_CTX, and reuses them. A cached EVP_PKEY_CTX holds a reference
 * on its EVP_PKEY, so a key freed by a keyset reload stays alive (and its
 * address cannot be reused) until its entry is evicted: keying the cache
 * by the EVP_PKEY pointer is sound. Nothing is shared between threads. */
enum { VC_OP_VERIFY = 1, VC_OP_SIGN = 2, VC_CACHE_N = 16 };

struct vc_tls {
	EVP_MD_CTX *md;
	struct {
		EVP_PKEY *pk; /* identity only; the ctx holds the reference */
		int op;
		EVP_PKEY_CTX *ctx;
	} e[VC_CACHE_N];
	unsigned next; /* round-robin victim */
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
	struct vc_tls *t = p;
	if (!t)
		return;
	EVP_MD_CTX_free(t->md);
	for (unsigned i = 0; i < VC_CACHE_N; i++)
		EVP_PKEY_CTX_free(t->e[i].ctx);
	free(t);
}

static void tls_init(void)
{
	(void)pthread_key_create(&tls_key, tls_free);
}

static struct vc_tls *tls_get(void)
{
	pthread_once(&tls_once, tls_init);
	struct vc_tls *t = pthread_getspecific(tls_key);
	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t)
			return NULL;
		t->md = EVP_MD_CTX_new();
		if (!t->md || pthread_setspecific(tls_key, t)) {
			EVP_MD_CTX_free(t->md);
			free(t);
			return NULL;
		}
	}
	return t;
}

/* An initialised EVP_PKEY_CTX for (pk, op), owned by the thread's cache. */
static EVP_PKEY_CTX *pkey_ctx(EVP_PKEY *pk, int op)
{
	struct vc_tls *t = tls_get();
	if (!t)
		return NULL;
	for (unsigned i = 0; i < VC_CACHE_N; i++)
		if (t->e[i].ctx && t->e[i].pk == pk && t->e[i].op == op)
			return t->e[i].ctx;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!c || (op == VC_OP_VERIFY ? EVP_PKEY_verify_init(c) : EVP_PKEY_sign_init(c)) != 1) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	unsigned v = t->next++ % VC_CACHE_N;
	EVP_PKEY_CTX_free(t->e[v].ctx);
	t->e[v].pk = pk;
	t->e[v].op = op;
	t->e[v].ctx = c;
	return c;
}

/* A failed operation may leave a provider context in an odd state: drop it
 * (the next call builds a fresh one). */
static void pkey_ctx_drop(EVP_PKEY_CTX *c)
{
	struct vc_tls *t = tls_get();
	for (unsigned i = 0; t && i < VC_CACHE_N; i++)
		if (t->e[i].ctx == c) {
			EVP_PKEY_CTX_free(c);
			t->e[i].ctx = NULL;
			t->e[i].pk = NULL;
		}
}

unsigned vc_hash(unsigned a, const void *data, size_t len, uint8_t *out)
{
	unsigned n = 0;
	if (a < 1 || a > AHV_WIRE_HASH_MAX_ID || !mds[a])
		return 0;
	struct vc_tls *t = tls_get();
	if (!t)
		return 0;
	if (EVP_DigestInit_ex2(t->md, mds[a], NULL) != 1 ||
	    EVP_DigestUpdate(t->md, data, len) != 1 ||
	    EVP_DigestFinal_ex(t->md, out, &n) != 1)
		return 0;
	return n;
}

/* DER INTEGER of a big-endian unsigned value (minimal, as DER requires). */
static size_t der_uint(uint8_t *o, const uint8_t *v, size_t n)
{
	while (n > 1 && v[0] == 0)
		v++, n--;
	size_t pad = v[0] & 0x80 ? 1 : 0;
	o[0] = 0x02;
	o[1] = (uint8_t)(n + pad);
	if (pad)
		o[2] = 0;
	memcpy(o + 2 + pad, v, n);
	return 2 + pad + n;
}

/* ECDSA-Sig-Value DER of raw r||s (half bytes each; half <= 48). */
static size_t der_sig(uint8_t *o, const uint8_t *sig, size_t half)
{
	uint8_t body[2 * (2 + 1 + 48)];
	size_t bl = der_uint(body, sig, half);
	bl += der_uint(body + bl, sig + half, half);
	size_t h = 0;
	o[h++] = 0x30;
	if (bl >= 0x80)
		o[h++] = 0x81;
	o[h++] = (uint8_t)bl;
	memcpy(o + h, body, bl);
	return h + bl;
}

int vc_verify_raw(EVP_PKEY *pk, unsigned sig_alg, const void *msg, size_t len,
		  const uint8_t *sig)
{
	size_t half = sig_alg == AHV_SIG_ECDSA_P256_SHA256   ? 32
		      : sig_alg == AHV_SIG_ECDSA_P384_SHA384 ? 48
							     : 0;
	if (!half)
		return 0;
	/* Hash first, then a bare EVP_PKEY_verify on the thread's cached
	 * context: EVP_DigestVerifyInit costs about half a verify in OpenSSL
	 * 3.0 (provider fetches per call). */
	uint8_t h[64];
	unsigned hl = vc_hash(half == 32 ? AHV_WIRE_HASH_SHA256 : AHV_WIRE_HASH_SHA384, msg, len, h);
	if (hl != half)
		return -1;
	if (v_all_zero(sig, half) || v_all_zero(sig + half, half))
		return 0; /* r or s zero: never valid */
	if (half == 32) { /* an enrolled P-256 key with its table (ecdsa_table.h) */
		int t = vc_table_verify(pk, h, sig);
		if (t >= 0)
			return t;
	}
	/* r, s >= n are rejected by OpenSSL's verify on the parsed values */
	uint8_t der[8 + 2 * (3 + 48)];
	size_t dl = der_sig(der, sig, half);
	EVP_PKEY_CTX *c = pkey_ctx(pk, VC_OP_VERIFY);
	int ret = -1;
	if (c) {
		int r = EVP_PKEY_verify(c, der, dl, h, hl);
		ret = r == 1 ? 1 : 0;
		if (r < 0) /* an error, not "invalid": rebuild the context */
			pkey_ctx_drop(c);
	}
	ERR_clear_error();
	return ret;
}

int vc_load_pubkey(const char *pem, size_t len, EVP_PKEY **pkout,
		   unsigned *sig_alg, uint8_t key_id[32], char **spki_pem,
		   char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pk = NULL, *pub = NULL;
	unsigned char *der = NULL;
	int ret = -1;
	if (!b)
		goto out;
	pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (!pk) {
		(void)BIO_reset(b);
		pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	}
	if (!pk) {
		snprintf(err, errlen, "not a PEM public or private key");
		goto out;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC) {
		snprintf(err, errlen, "not an EC key (P-256 or P-384 required)");
		goto out;
	}
	char curve[64] = "";
	size_t cl = 0;
	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
					   curve, sizeof curve, &cl) != 1) {
		snprintf(err, errlen, "EC key without a named curve");
		goto out;
	}
	unsigned alg;
	if (!strcmp(curve, "prime256v1") || !strcmp(curve, "P-256"))
		alg = AHV_SIG_ECDSA_P256_SHA256;
	else if (!strcmp(curve, "secp384r1") || !strcmp(curve, "P-384"))
		alg = AHV_SIG_ECDSA_P384_SHA384;
	else {
		snprintf(err, errlen, "unsupported curve %s (P-256 or P-384)",
			 curve);
		goto out;
	}
	EVP_PKEY_set_utf8_string_param(
		pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
	int dl = i2d_PUBKEY(pk, &der);
	if (dl != (alg == AHV_SIG_ECDSA_P256_SHA256 ? 91 : 120)) {
		snprintf(err, errlen, "unexpected SubjectPublicKeyInfo encoding");
		goto out;
	}
	/* public part only, re-parsed from the canonical DER */
	const unsigned char *p = der;
	pub = d2i_PUBKEY(NULL, &p, dl);
	if (!pub) {
		snprintf(err, errlen, "cannot re-read the public key");
		goto out;
	}
	if (vc_hash(AHV_WIRE_HASH_SHA256, der, (size_t)dl, key_id) != 32) {
		snprintf(err, errlen, "hash failed");
		goto out;
	}
	if (spki_pem) {
		BIO *m = BIO_new(BIO_s_mem());
		char *data;
		if (!m || PEM_write_bio_PUBKEY(m, pub) != 1) {
			BIO_free(m);
			snprintf(err, errlen, "cannot encode PEM");
			goto out;
		}
		long ml = BIO_get_mem_data(m, &data);
		*spki_pem = malloc((size_t)ml + 1);
		if (*spki_pem) {
			memcpy(*spki_pem, data, (size_t)ml);
			(*spki_pem)[ml] = 0;
		}
		BIO_free(m);
		if (!*spki_pem)
			goto out;
	}
	*pkout = pub;
	pub = NULL;
	*sig_alg = alg;
	ret = 0;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(pub);
	BIO_free(b);
	return ret;
}

EVP_PKEY *vc_load_es256_private(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open token key %s", path);
		return NULL;
	}
	EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!pk) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		return NULL;
	}
	char curve[64] = "";
	size_t cl;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
					   curve, sizeof curve, &cl) != 1 ||
	    (strcmp(curve, "prime256v1") && strcmp(curve, "P-256"))) {
		snprintf(err, errlen, "%s: token key must be EC P-256 (ES256)",
			 path);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/* r||s (32 bytes each) from an ECDSA-Sig-Value DER; 0 on success. */
static int der_sig_raw(const uint8_t *d, size_t dl, uint8_t sig[64])
{
	size_t p = 0;
	if (dl < 2 || d[p++] != 0x30)
		return -1;
	size_t sl = d[p++];
	if (sl >= 0x80 || p + sl != dl)
		return -1;
	for (int k = 0; k < 2; k++) {
		if (p + 2 > dl || d[p] != 0x02)
			return -1;
		size_t il = d[p + 1];
		p += 2;
		if (!il || il >= 0x80 || p + il > dl)
			return -1;
		const uint8_t *v = d + p;
		p += il;
		while (il > 1 && v[0] == 0)
			v++, il--;
		if (il > 32)
			return -1;
		memset(sig + 32 * k, 0, 32 - il);
		memcpy(sig + 32 * k + 32 - il, v, il);
	}
	return p == dl ? 0 : -1;
}

int vc_sign_es256(EVP_PKEY *pk, const void *msg, size_t len, uint8_t sig[64])
{
	unsigned char der[80];
	size_t dl = sizeof der;
	uint8_t h[32];
	if (vc_hash(AHV_WIRE_HASH_SHA256, msg, len, h) != 32)
		return -1;
	EVP_PKEY_CTX *c = pkey_ctx(pk, VC_OP_SIGN);
	int ret = -1;
	if (c) {
		if (EVP_PKEY_sign(c, der, &dl, h, 32) == 1)
			ret = der_sig_raw(der, dl, sig);
		else
			pkey_ctx_drop(c);
	}
	ERR_clear_error();
	return ret;
}

int vc_p256_xy(EVP_PKEY *pk, uint8_t x[32], uint8_t y[32])
{
	BIGNUM *bx = NULL, *by = NULL;
	int ret = -1;
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
	    BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32)
		ret = 0;
	BN_free(bx);
	BN_free(by);
	ERR_clear_error();
	return ret;
}
