/* ECDSA P-256 verification with a per-key precomputed table (ecdsa_table.h). */
/* EC_GROUP_precompute_mult is deprecated in OpenSSL 3.0 (still provided, and
 * the only way to reach the library's fixed-base multiplication for a point
 * of our choosing). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>
#include <stdbool.h>
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
static BIGNUM *field_p; /* the field prime p */

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
	field_p = BN_new();
	if (!order || !field_p || EC_GROUP_get_curve(p256, field_p, NULL, NULL, NULL) != 1) {
		order = NULL; /* every verify then fails (-1) */
		return;
	}
	ex_idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_EVP_PKEY, 0, NULL, NULL, NULL, table_free);
}

int vc_table_attach(EVP_PKEY *pk)
{
	uint8_t pt[65];
	size_t pl = 0;
	char curve[32] = "";
	pthread_once(&once, init);
	if (!order || ex_idx < 0)
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

/* ---- s^-1 mod n ------------------------------------------------------------
 * BN_mod_inverse costs ~155k instructions here, a third of a table verify.
 * s is public (a signature), so a variable-time binary extended Euclid on
 * four 64-bit limbs does (Knuth TAOCP vol. 2, 4.5.2, Algorithm X in binary
 * form; Menezes et al., Handbook of Applied Cryptography, Alg. 14.61):
 *   u = s, v = n, x1 = 1, x2 = 0; invariant x1*s = u, x2*s = v (mod n);
 *   halve u (and x1, adding n first when odd) while u is even, the same for
 *   v and x2; subtract the smaller of u, v from the larger (and its x).
 * n is odd and s in [1, n-1], so gcd = 1 and the loop ends with u or v = 1. */
typedef uint64_t limbs[4]; /* little-endian limbs */

static const limbs p256_n = {0xf3b9cac2fc632551ull, 0xbce6faada7179e84ull, 0xffffffffffffffffull,
			     0xffffffff00000000ull};

static int l_cmp(const limbs a, const limbs b)
{
	for (int i = 3; i >= 0; i--)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

static bool l_is_one(const limbs a)
{
	return a[0] == 1 && !a[1] && !a[2] && !a[3];
}

/* a -= b, returns the borrow */
static unsigned l_sub(limbs a, const limbs b)
{
	unsigned borrow = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t t = a[i] - b[i] - borrow;
		borrow = a[i] < b[i] || (a[i] == b[i] && borrow);
		a[i] = t;
	}
	return borrow;
}

/* a += b, returns the carry */
static unsigned l_add(limbs a, const limbs b)
{
	unsigned carry = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t t = a[i] + b[i] + carry;
		carry = t < a[i] || (t == a[i] && carry);
		a[i] = t;
	}
	return carry;
}

/* a = (a + (a odd ? n : 0)) / 2, a < n: exact halving mod n */
static void l_half_mod(limbs a)
{
	uint64_t top = (a[0] & 1) ? l_add(a, p256_n) : 0;
	for (int i = 0; i < 3; i++)
		a[i] = (a[i] >> 1) | (a[i + 1] << 63);
	a[3] = (a[3] >> 1) | (top << 63);
}

/* a = a - b mod n, a, b < n */
static void l_sub_mod(limbs a, const limbs b)
{
	if (l_sub(a, b))
		l_add(a, p256_n);
}

static void l_shr1(limbs a)
{
	for (int i = 0; i < 3; i++)
		a[i] = (a[i] >> 1) | (a[i + 1] << 63);
	a[3] >>= 1;
}

static void l_from_be(limbs a, const uint8_t b[32])
{
	for (int i = 0; i < 4; i++) {
		a[i] = 0;
		for (int j = 0; j < 8; j++)
			a[i] |= (uint64_t)b[31 - 8 * i - j] << (8 * j);
	}
}

static void l_to_be(uint8_t b[32], const limbs a)
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			b[31 - 8 * i - j] = (uint8_t)(a[i] >> (8 * j));
}

/* out = s^-1 mod n for s in [1, n-1] (big-endian 32 bytes). */
static void inv_mod_n(uint8_t out[32], const uint8_t s[32])
{
	limbs u, v, x1 = {1, 0, 0, 0}, x2 = {0, 0, 0, 0};
	l_from_be(u, s);
	memcpy(v, p256_n, sizeof v);
	while (!l_is_one(u) && !l_is_one(v)) {
		while (!(u[0] & 1)) {
			l_shr1(u);
			l_half_mod(x1);
		}
		while (!(v[0] & 1)) {
			l_shr1(v);
			l_half_mod(x2);
		}
		if (l_cmp(u, v) >= 0) {
			l_sub(u, v);
			l_sub_mod(x1, x2);
		} else {
			l_sub(v, u);
			l_sub_mod(x2, x1);
		}
	}
	l_to_be(out, l_is_one(u) ? x1 : x2);
}

/* For the unit test: the inverse above against BN_mod_inverse. */
int vc_table_inverse_selftest(const uint8_t s[32], uint8_t out[32])
{
	inv_mod_n(out, s);
	return 0;
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
	       *u1 = BN_CTX_get(ctx), *u2 = BN_CTX_get(ctx), *x = BN_CTX_get(ctx), *z = BN_CTX_get(ctx),
	       *t = BN_CTX_get(ctx);
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
	uint8_t wb[32];
	inv_mod_n(wb, sig + 32);
	if (!BN_bin2bn(wb, 32, w) || !BN_mod_mul(u1, e, w, order, ctx) ||
	    !BN_mod_mul(u2, r, w, order, ctx))
		goto out;
	/* 4. R = u1*G + u2*Q, both fixed-base with a table */
	if (EC_POINT_mul(p256, a, u1, NULL, NULL, ctx) != 1 || EC_POINT_mul(gq, b, u2, NULL, NULL, ctx) != 1 ||
	    EC_POINT_add(p256, a, a, b, ctx) != 1)
		goto out;
	ret = 0;
	if (EC_POINT_is_at_infinity(p256, a))
		goto out;
	/* 5. valid iff x_R mod n == r. R is left in Jacobian coordinates
	 * (X, Y, Z), x_R = X / Z^2 mod p: the field inversion of the affine
	 * form cost ~43k instructions of ~320k (callgrind). x_R < p < 2n,
	 * so x_R mod n == r iff x_R == r or x_R == r + n (only when r + n < p),
	 * i.e. X == r*Z^2 or X == (r+n)*Z^2 (mod p) (Z != 0: not infinity). */
	ret = -1;
	if (EC_POINT_get_Jprojective_coordinates_GFp(p256, a, x, NULL, z, ctx) != 1 ||
	    !BN_mod_sqr(z, z, field_p, ctx) || !BN_mod_mul(t, r, z, field_p, ctx))
		goto out;
	ret = BN_cmp(t, x) == 0;
	if (!ret) {
		ret = -1;
		if (!BN_add(t, r, order))
			goto out;
		ret = 0;
		if (BN_cmp(t, field_p) < 0) {
			ret = -1;
			if (!BN_mod_mul(t, t, z, field_p, ctx))
				goto out;
			ret = BN_cmp(t, x) == 0;
		}
	}
out:
	EC_POINT_free(a);
	EC_POINT_free(b);
	BN_CTX_end(ctx);
	return ret;
}
