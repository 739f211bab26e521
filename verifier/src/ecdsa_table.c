/* ECDSA P-256 verification with a per-key precomputed table (ecdsa_table.h). */
/* EC_GROUP_precompute_mult is deprecated in OpenSSL 3.0 (still provided, and
 * the only way to reach the library's fixed-base multiplication for a point
 * of our choosing). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "ecdsa_table.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key; /* each thread's BN_CTX, freed at its exit */
static int ex_idx = -1;
static EC_GROUP *p256; /* the standard group: G with OpenSSL's static table */
static const BIGNUM *order;

static void table_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	EC_GROUP_free(ptr);
}

static void ctx_free(void *c)
{
	BN_CTX_free(c);
}

static void init(void)
{
	if (pthread_key_create(&ctx_key, ctx_free))
		return;
	p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	order = p256 ? EC_GROUP_get0_order(p256) : NULL;
	ex_idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_EVP_PKEY, 0, NULL, NULL, NULL, table_free);
}

int vc_table_attach(EVP_PKEY *pk)
{
	uint8_t pt[65];
	size_t pl = 0;
	char curve[32] = "";
	pthread_once(&once, init);
	if (!p256 || ex_idx < 0)
		return -1;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, NULL) != 1 ||
	    (strcmp(curve, "prime256v1") && strcmp(curve, "P-256")))
		return 1;
	if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &pl) != 1)
		return -1;
	BN_CTX *ctx = BN_CTX_new();
	EC_GROUP *g = EC_GROUP_dup(p256);
	EC_POINT *q = g ? EC_POINT_new(g) : NULL;
	/* the group of generator Q (same curve, same order: Q has order n) */
	int ok = ctx && q && EC_POINT_oct2point(g, q, pt, pl, ctx) == 1 && !EC_POINT_is_at_infinity(g, q) &&
		 EC_GROUP_set_generator(g, q, order, BN_value_one()) == 1 && EC_GROUP_precompute_mult(g, ctx) == 1 &&
		 EVP_PKEY_set_ex_data(pk, ex_idx, g) == 1;
	EC_POINT_free(q);
	BN_CTX_free(ctx);
	if (!ok)
		EC_GROUP_free(g);
	return ok ? 0 : -1;
}

int vc_table_has(EVP_PKEY *pk)
{
	pthread_once(&once, init);
	return ex_idx >= 0 && EVP_PKEY_get_ex_data(pk, ex_idx) != NULL;
}

int vc_table_verify(EVP_PKEY *pk, const uint8_t h[32], const uint8_t sig[64])
{
	pthread_once(&once, init);
	const EC_GROUP *gq = ex_idx >= 0 ? EVP_PKEY_get_ex_data(pk, ex_idx) : NULL;
	if (!gq)
		return -1;
	BN_CTX *ctx = pthread_getspecific(ctx_key);
	if (!ctx && (!(ctx = BN_CTX_new()) || pthread_setspecific(ctx_key, ctx))) {
		BN_CTX_free(ctx);
		return -1;
	}
	BN_CTX_start(ctx);
	BIGNUM *r = BN_CTX_get(ctx), *s = BN_CTX_get(ctx), *e = BN_CTX_get(ctx), *w = BN_CTX_get(ctx),
	       *u1 = BN_CTX_get(ctx), *u2 = BN_CTX_get(ctx), *x = BN_CTX_get(ctx);
	EC_POINT *a = EC_POINT_new(p256), *b = EC_POINT_new(gq);
	int ret = -1;
	if (!x || !a || !b || !BN_bin2bn(sig, 32, r) || !BN_bin2bn(sig + 32, 32, s) || !BN_bin2bn(h, 32, e))
		goto out;
	/* 1. r and s in [1, n-1] */
	ret = 0;
	if (BN_is_zero(r) || BN_is_zero(s) || BN_cmp(r, order) >= 0 || BN_cmp(s, order) >= 0)
		goto out;
	/* 2-3. e = H (P-256: n has 256 bits, no truncation); w = s^-1,
	 * u1 = e*w, u2 = r*w (mod n) */
	ret = -1;
	if (!BN_mod_inverse(w, s, order, ctx) || !BN_mod_mul(u1, e, w, order, ctx) ||
	    !BN_mod_mul(u2, r, w, order, ctx))
		goto out;
	/* 4. R = u1*G + u2*Q, both fixed-base with a table */
	if (EC_POINT_mul(p256, a, u1, NULL, NULL, ctx) != 1 || EC_POINT_mul(gq, b, u2, NULL, NULL, ctx) != 1 ||
	    EC_POINT_add(p256, a, a, b, ctx) != 1)
		goto out;
	ret = 0;
	if (EC_POINT_is_at_infinity(p256, a))
		goto out;
	/* 5. valid iff x_R mod n == r */
	ret = -1;
	if (EC_POINT_get_affine_coordinates(p256, a, x, NULL, ctx) != 1 || !BN_nnmod(x, x, order, ctx))
		goto out;
	ret = BN_cmp(x, r) == 0;
out:
	EC_POINT_free(a);
	EC_POINT_free(b);
	BN_CTX_end(ctx);
	return ret;
}
