#include "vcrypto.h"

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

unsigned vc_hash(unsigned a, const void *data, size_t len, uint8_t *out)
{
	unsigned n = 0;
	if (a < 1 || a > AHV_WIRE_HASH_MAX_ID || !mds[a])
		return 0;
	if (EVP_Digest(data, len, out, &n, mds[a], NULL) != 1)
		return 0;
	return n;
}

EVP_MD_CTX *vc_hash_begin(unsigned a)
{
	if (a < 1 || a > AHV_WIRE_HASH_MAX_ID || !mds[a])
		return NULL;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && EVP_DigestInit_ex2(c, mds[a], NULL) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

int vc_verify_raw(EVP_PKEY *pk, unsigned sig_alg, const void *msg, size_t len,
		  const uint8_t *sig)
{
	size_t half = sig_alg == AHV_SIG_ECDSA_P256_SHA256   ? 32
		      : sig_alg == AHV_SIG_ECDSA_P384_SHA384 ? 48
							     : 0;
	if (!half)
		return 0;
	/* Hash first, then a bare EVP_PKEY_verify: EVP_DigestVerifyInit costs
	 * about half a verify in OpenSSL 3.0 (provider fetches per call). */
	uint8_t h[64];
	unsigned hl = vc_hash(half == 32 ? AHV_WIRE_HASH_SHA256 : AHV_WIRE_HASH_SHA384, msg, len, h);
	if (hl != half)
		return -1;
	int ret = -1;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
	BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
	unsigned char *der = NULL;
	EVP_PKEY_CTX *c = NULL;
	if (!es || !r || !s) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	if (BN_is_zero(r) || BN_is_zero(s)) {
		BN_free(r);
		BN_free(s);
		ret = 0;
		goto out;
	}
	ECDSA_SIG_set0(es, r, s);
	int dlen = i2d_ECDSA_SIG(es, &der);
	if (dlen <= 0)
		goto out;
	c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!c || EVP_PKEY_verify_init(c) != 1)
		goto out;
	ret = EVP_PKEY_verify(c, der, (size_t)dlen, h, hl) == 1 ? 1 : 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(c);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
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

int vc_sign_es256(EVP_PKEY *pk, const void *msg, size_t len, uint8_t sig[64])
{
	unsigned char der[80];
	size_t dl = sizeof der;
	int ret = -1;
	ECDSA_SIG *es = NULL;
	uint8_t h[32];
	if (vc_hash(AHV_WIRE_HASH_SHA256, msg, len, h) != 32)
		return -1;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!c)
		return -1;
	if (EVP_PKEY_sign_init(c) != 1 || EVP_PKEY_sign(c, der, &dl, h, 32) != 1)
		goto out;
	const unsigned char *p = der;
	es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	if (!es)
		goto out;
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
		goto out;
	ret = 0;
out:
	ERR_clear_error();
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(c);
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
