/*
 * p256.c - P-256 ECDSA signature verification in portable C (4 x 64-bit
 * limbs, unsigned __int128 products, general-purpose registers only).
 *
 * VARIABLE TIME. Verification handles public data only: the public key, the
 * digest and the signature. Nothing here may ever touch a private key;
 * signing stays with mbedTLS (constant-time, blinded).
 *
 * Curve: P-256 = secp256r1, NIST SP 800-186 section 3.2.1.3 (the curves of
 * FIPS 186-5) and SEC 2 v2 section 2.4.2:
 *   p = 2^256 - 2^224 + 2^192 + 2^96 - 1, y^2 = x^3 - 3x + b over GF(p),
 *   G of prime order n, cofactor 1.
 *
 * - Field and scalar arithmetic: Montgomery multiplication (CIOS) with
 *   R = 2^256, every value fully reduced (0 <= v < modulus). For p,
 *   -p^-1 mod 2^64 = 1.
 * - Points: Jacobian coordinates (X/Z^2, Y/Z^3), Z = 0 is the point at
 *   infinity. Doubling dbl-2001-b (a = -3); addition add-1998-cmo-2 and its
 *   mixed variant, with the exceptional cases handled: either input at
 *   infinity, P == Q (doubles) and P == -Q (infinity).
 * - u1*G + u2*Q: interleaved wNAF (Shamir's trick), width 7 for G over the
 *   static table below (odd multiples 1G..63G, affine, Montgomery form),
 *   width 5 for Q (odd multiples 1Q..15Q, Jacobian, computed per call).
 * - The final check x(R) mod n == r is done without an inversion:
 *   X == r * Z^2, or X == (r + n) * Z^2 when r + n < p.
 */
#include <string.h>
#include "ahv/crypto.h"
#include "p256.h"

typedef unsigned __int128 u128;
#define AHV_INLINE static inline __attribute__((always_inline))
typedef uint64_t fe[4]; /* little-endian limbs */

/* SP 800-186 3.2.1.3 / SEC 2 2.4.2. */
static const uint64_t P[4] = { 0xffffffffffffffffull, 0x00000000ffffffffull,
			       0x0000000000000000ull, 0xffffffff00000001ull };
static const uint64_t N[4] = { 0xf3b9cac2fc632551ull, 0xbce6faada7179e84ull,
			       0xffffffffffffffffull, 0xffffffff00000000ull };
static const uint64_t B[4] = { 0x3bce3c3e27d2604bull, 0x651d06b0cc53b0f6ull,
			       0xb3ebbd55769886bcull, 0x5ac635d8aa3a93e7ull };
static const uint64_t GX[4] = { 0xf4a13945d898c296ull, 0x77037d812deb33a0ull,
				0xf8bce6e563a440f2ull, 0x6b17d1f2e12c4247ull };
static const uint64_t GY[4] = { 0xcbb6406837bf51f5ull, 0x2bce33576b315eceull,
				0x8ee7eb4a7c0f9e16ull, 0x4fe342e2fe1a7f9bull };
/* Derived (Python, from p and n above): R^2 mod p, R mod p, R^2 mod n,
 * R mod n, -n^-1 mod 2^64; R = 2^256. The unit tests check every one
 * against OpenSSL's BIGNUM arithmetic through ahv_p256_test_op(). */
static const uint64_t RR_P[4] = { 0x0000000000000003ull, 0xfffffffbffffffffull,
				  0xfffffffffffffffeull, 0x00000004fffffffdull };
static const uint64_t ONE_P[4] = { 0x0000000000000001ull, 0xffffffff00000000ull,
				   0xffffffffffffffffull, 0x00000000fffffffeull };
static const uint64_t RR_N[4] = { 0x83244c95be79eea2ull, 0x4699799c49bd6fa6ull,
				  0x2845b2392b6bec59ull, 0x66e12d94f3d95620ull };
static const uint64_t ONE_N[4] = { 0x0c46353d039cdaafull, 0x4319055258e8617bull,
				   0x0000000000000000ull, 0x00000000ffffffffull };
#define N0INV 0xccd1c8aaee00bc4full
static const uint64_t ZERO[4] = { 0, 0, 0, 0 };

/* ---- multi-precision helpers --------------------------------------------------- */
static inline void cp(uint64_t r[4], const uint64_t a[4])
{
	r[0] = a[0]; r[1] = a[1]; r[2] = a[2]; r[3] = a[3];
}

static inline int is_zero(const uint64_t a[4])
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static inline int eq(const uint64_t a[4], const uint64_t b[4])
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* a < b */
static int lt(const uint64_t a[4], const uint64_t b[4])
{
	for (int i = 3; i >= 0; i--)
		if (a[i] != b[i])
			return a[i] < b[i];
	return 0;
}

static void from_be(uint64_t r[4], const uint8_t *b)
{
	for (int i = 0; i < 4; i++) {
		uint64_t v = 0;
		for (int j = 0; j < 8; j++)
			v = v << 8 | b[(3 - i) * 8 + j];
		r[i] = v;
	}
}

static void to_be(uint8_t *b, const uint64_t a[4])
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			b[(3 - i) * 8 + j] = (uint8_t)(a[i] >> (56 - 8 * j));
}

/* r = t4:t3:t2:t1:t0 - m if that is >= 0, else t3..t0 (t < 2m). */
AHV_INLINE void final_sub(uint64_t r[4], uint64_t t0, uint64_t t1, uint64_t t2,
			     uint64_t t3, uint64_t t4, const uint64_t m[4])
{
	uint64_t d0, d1, d2, d3, bw;
	u128 x;

	x = (u128)t0 - m[0];
	d0 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	x = (u128)t1 - m[1] - bw;
	d1 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	x = (u128)t2 - m[2] - bw;
	d2 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	x = (u128)t3 - m[3] - bw;
	d3 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	if (t4 >= bw) { /* no borrow out of the top word: t >= m */
		r[0] = d0; r[1] = d1; r[2] = d2; r[3] = d3;
	} else {
		r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
	}
}

/* Montgomery multiplication (CIOS): r = a * b * 2^-256 mod m, for a, b < m.
 * Invariant: the running value t stays below 2m. r may alias a or b. */
AHV_INLINE void mont_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
			    const uint64_t m[4], uint64_t minv)
{
	uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5, q;
	const uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
	u128 c;

	for (int i = 0; i < 4; i++) {
		uint64_t bi = b[i];

		c = (u128)a0 * bi + t0;
		t0 = (uint64_t)c;
		c = (u128)a1 * bi + t1 + (uint64_t)(c >> 64);
		t1 = (uint64_t)c;
		c = (u128)a2 * bi + t2 + (uint64_t)(c >> 64);
		t2 = (uint64_t)c;
		c = (u128)a3 * bi + t3 + (uint64_t)(c >> 64);
		t3 = (uint64_t)c;
		c = (u128)t4 + (uint64_t)(c >> 64);
		t4 = (uint64_t)c;
		t5 = (uint64_t)(c >> 64);

		q = t0 * minv;
		c = (u128)q * m[0] + t0; /* low word is 0 by the choice of q */
		c = (u128)q * m[1] + t1 + (uint64_t)(c >> 64);
		t0 = (uint64_t)c;
		c = (u128)q * m[2] + t2 + (uint64_t)(c >> 64);
		t1 = (uint64_t)c;
		c = (u128)q * m[3] + t3 + (uint64_t)(c >> 64);
		t2 = (uint64_t)c;
		c = (u128)t4 + (uint64_t)(c >> 64);
		t3 = (uint64_t)c;
		t4 = t5 + (uint64_t)(c >> 64);
	}
	final_sub(r, t0, t1, t2, t3, t4, m);
}

/* r = a + b mod m, a, b < m. */
AHV_INLINE void mod_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
			   const uint64_t m[4])
{
	uint64_t t0, t1, t2, t3;
	u128 c;

	c = (u128)a[0] + b[0];
	t0 = (uint64_t)c;
	c = (u128)a[1] + b[1] + (uint64_t)(c >> 64);
	t1 = (uint64_t)c;
	c = (u128)a[2] + b[2] + (uint64_t)(c >> 64);
	t2 = (uint64_t)c;
	c = (u128)a[3] + b[3] + (uint64_t)(c >> 64);
	t3 = (uint64_t)c;
	final_sub(r, t0, t1, t2, t3, (uint64_t)(c >> 64), m);
}

/* r = a - b mod m, a, b < m. */
AHV_INLINE void mod_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
			   const uint64_t m[4])
{
	uint64_t t0, t1, t2, t3, bw, mask;
	u128 x;

	x = (u128)a[0] - b[0];
	t0 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	x = (u128)a[1] - b[1] - bw;
	t1 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	x = (u128)a[2] - b[2] - bw;
	t2 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	x = (u128)a[3] - b[3] - bw;
	t3 = (uint64_t)x; bw = (uint64_t)(x >> 64) & 1;
	mask = 0 - bw; /* borrow: add m back */
	x = (u128)t0 + (m[0] & mask);
	r[0] = (uint64_t)x;
	x = (u128)t1 + (m[1] & mask) + (uint64_t)(x >> 64);
	r[1] = (uint64_t)x;
	x = (u128)t2 + (m[2] & mask) + (uint64_t)(x >> 64);
	r[2] = (uint64_t)x;
	x = (u128)t3 + (m[3] & mask) + (uint64_t)(x >> 64);
	r[3] = (uint64_t)x;
}

/* r = a^e in the Montgomery domain (a, one: Montgomery form), 4-bit fixed
 * window. Public exponents only. */
AHV_INLINE void mont_pow(uint64_t r[4], const uint64_t a[4], const uint64_t e[4],
		     const uint64_t m[4], uint64_t minv, const uint64_t one[4])
{
	uint64_t tab[16][4], acc[4];
	int started = 0;

	cp(tab[0], one);
	for (int i = 1; i < 16; i++)
		mont_mul(tab[i], tab[i - 1], a, m, minv);
	cp(acc, one);
	for (int i = 63; i >= 0; i--) {
		unsigned nib = (unsigned)(e[i / 16] >> (4 * (i % 16))) & 15;
		if (started)
			for (int k = 0; k < 4; k++)
				mont_mul(acc, acc, acc, m, minv);
		if (nib) {
			mont_mul(acc, acc, tab[nib], m, minv);
			started = 1;
		}
	}
	cp(r, acc);
}

/* ---- GF(p) ------------------------------------------------------------------------ */
/* Montgomery multiplication mod p, unrolled, with the reduction step
 * specialised to p's limbs { 2^64-1, 2^32-1, 0, 2^64-2^32+1 } and
 * -p^-1 mod 2^64 = 1: q = t0, and t + q p shifted down one word is
 *   word0' = t1 + q 2^32          (q (2^64-1) + t0 = q 2^64: carry q)
 *   word1' = t2 + carry
 *   word2' = t3 + q (2^64-2^32+1) + carry
 *   word3' = t4 + carry, word4' = t5 + carry.
 * The same CIOS bound holds (t < 2p). */
#define P3 0xffffffff00000001ull
#define FE_ROUND(bi)                                                              \
	do {                                                                      \
		uint64_t b_ = (bi), q_, t5_;                                      \
		c = (u128)a0 * b_ + t0;                                           \
		t0 = (uint64_t)c;                                                 \
		c = (u128)a1 * b_ + t1 + (uint64_t)(c >> 64);                     \
		t1 = (uint64_t)c;                                                 \
		c = (u128)a2 * b_ + t2 + (uint64_t)(c >> 64);                     \
		t2 = (uint64_t)c;                                                 \
		c = (u128)a3 * b_ + t3 + (uint64_t)(c >> 64);                     \
		t3 = (uint64_t)c;                                                 \
		c = (u128)t4 + (uint64_t)(c >> 64);                               \
		t4 = (uint64_t)c;                                                 \
		t5_ = (uint64_t)(c >> 64);                                        \
		q_ = t0;                                                          \
		c = (u128)t1 + ((u128)q_ << 32);                                  \
		t0 = (uint64_t)c;                                                 \
		c = (u128)t2 + (uint64_t)(c >> 64);                               \
		t1 = (uint64_t)c;                                                 \
		c = (u128)q_ * P3 + t3 + (uint64_t)(c >> 64);                     \
		t2 = (uint64_t)c;                                                 \
		c = (u128)t4 + (uint64_t)(c >> 64);                               \
		t3 = (uint64_t)c;                                                 \
		t4 = t5_ + (uint64_t)(c >> 64);                                   \
	} while (0)

static void fe_mul(fe r, const fe a, const fe b)
{
	const uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
	const uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
	uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
	u128 c;

	FE_ROUND(b0);
	FE_ROUND(b1);
	FE_ROUND(b2);
	FE_ROUND(b3);
	final_sub(r, t0, t1, t2, t3, t4, P);
}

static inline void fe_sqr(fe r, const fe a) { fe_mul(r, a, a); }
static inline void fe_add(fe r, const fe a, const fe b) { mod_add(r, a, b, P); }
static inline void fe_sub(fe r, const fe a, const fe b) { mod_sub(r, a, b, P); }
static inline void fe_to_mont(fe r, const fe a) { fe_mul(r, a, RR_P); }
static inline void fe_from_mont(fe r, const fe a)
{
	static const uint64_t one[4] = { 1, 0, 0, 0 };
	fe_mul(r, a, one);
}

/* r = a^-1 (Montgomery in, Montgomery out) by Fermat: a^(p-2). */
static void fe_inv(fe r, const fe a)
{
	static const uint64_t pm2[4] = { 0xfffffffffffffffdull, 0x00000000ffffffffull,
					 0x0000000000000000ull, 0xffffffff00000001ull };
	mont_pow(r, a, pm2, P, 1, ONE_P);
}

/* ---- scalars mod n ------------------------------------------------------------------ */
static inline void sc_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
	mont_mul(r, a, b, N, N0INV);
}

/* r = a^-1 * R mod n for a in Montgomery form (a * R): Fermat, a^(n-2). */
static void sc_inv(uint64_t r[4], const uint64_t a[4])
{
	static const uint64_t nm2[4] = { 0xf3b9cac2fc63254full, 0xbce6faada7179e84ull,
					 0xffffffffffffffffull, 0xffffffff00000000ull };
	mont_pow(r, a, nm2, N, N0INV, ONE_N);
}

/* ---- points ------------------------------------------------------------------------ */
typedef struct {
	fe x, y, z; /* Montgomery form; z == 0: the point at infinity */
} jac;

typedef struct {
	fe x, y;    /* Montgomery form; never the point at infinity */
} aff;

/* dbl-2001-b (a = -3), 3M + 5S. r may alias p. */
static void pt_dbl(jac *r, const jac *p)
{
	fe delta, gamma, beta, alpha, t1, t2, x3, z3;

	if (is_zero(p->z)) {
		*r = *p;
		return;
	}
	fe_sqr(delta, p->z);
	fe_sqr(gamma, p->y);
	fe_mul(beta, p->x, gamma);
	fe_sub(t1, p->x, delta);
	fe_add(t2, p->x, delta);
	fe_mul(t1, t1, t2);
	fe_add(alpha, t1, t1);
	fe_add(alpha, alpha, t1);            /* alpha = 3(X - delta)(X + delta) */
	fe_add(t1, p->y, p->z);
	fe_sqr(t1, t1);
	fe_sub(t1, t1, gamma);
	fe_sub(z3, t1, delta);               /* Z3 = (Y + Z)^2 - gamma - delta */
	fe_add(t2, beta, beta);
	fe_add(t2, t2, t2);                  /* 4 beta */
	fe_sqr(x3, alpha);
	fe_sub(x3, x3, t2);
	fe_sub(x3, x3, t2);                  /* X3 = alpha^2 - 8 beta */
	fe_sub(t2, t2, x3);
	fe_mul(t2, alpha, t2);
	fe_sqr(gamma, gamma);
	fe_add(gamma, gamma, gamma);
	fe_add(gamma, gamma, gamma);
	fe_add(gamma, gamma, gamma);         /* 8 gamma^2 */
	fe_sub(r->y, t2, gamma);             /* Y3 = alpha(4 beta - X3) - 8 gamma^2 */
	cp(r->x, x3);
	cp(r->z, z3);
}

/* The common tail of both additions: given U1, S1 (from p), U2, S2 (from q)
 * and the Z3 factor zz (Z1 * Z2, or Z1 for a mixed addition). Returns 0, or
 * 1 when U1 == U2 (the caller then doubles or returns infinity). */
static int add_tail(jac *r, const fe u1, const fe s1, const fe u2, const fe s2, const fe zz,
		    int *same)
{
	fe h, rr, hh, hhh, v, t, x3;

	fe_sub(h, u2, u1);
	fe_sub(rr, s2, s1);
	if (is_zero(h)) {
		*same = is_zero(rr); /* P == Q: double; P == -Q: infinity */
		return 1;
	}
	fe_sqr(hh, h);
	fe_mul(hhh, h, hh);
	fe_mul(v, u1, hh);
	fe_sqr(x3, rr);
	fe_sub(x3, x3, hhh);
	fe_sub(x3, x3, v);
	fe_sub(x3, x3, v);                   /* X3 = R^2 - H^3 - 2 U1 H^2 */
	fe_sub(t, v, x3);
	fe_mul(t, rr, t);
	fe_mul(hhh, s1, hhh);
	fe_sub(r->y, t, hhh);                /* Y3 = R(U1 H^2 - X3) - S1 H^3 */
	fe_mul(r->z, zz, h);                 /* Z3 = Z1 Z2 H */
	cp(r->x, x3);
	return 0;
}

static void set_inf(jac *r)
{
	memset(r, 0, sizeof(*r));
}

/* r = p + (neg ? -q : q), all Jacobian (add-1998-cmo-2, 12M + 4S). r may
 * alias p. */
static void pt_add(jac *r, const jac *p, const jac *q, int neg)
{
	fe z1z1, z2z2, u1, u2, s1, s2, zz;
	int same;

	if (is_zero(q->z)) {
		*r = *p;
		return;
	}
	if (is_zero(p->z)) {
		*r = *q;
		if (neg)
			fe_sub(r->y, ZERO, q->y);
		return;
	}
	fe_sqr(z1z1, p->z);
	fe_sqr(z2z2, q->z);
	fe_mul(u1, p->x, z2z2);
	fe_mul(u2, q->x, z1z1);
	fe_mul(s1, p->y, q->z);
	fe_mul(s1, s1, z2z2);
	fe_mul(s2, q->y, p->z);
	fe_mul(s2, s2, z1z1);
	if (neg)
		fe_sub(s2, ZERO, s2);
	fe_mul(zz, p->z, q->z);
	if (add_tail(r, u1, s1, u2, s2, zz, &same)) {
		if (same)
			pt_dbl(r, p);
		else
			set_inf(r);
	}
}

/* r = p + (neg ? -q : q), q affine (mixed addition, 8M + 3S). r may alias p. */
static void pt_add_aff(jac *r, const jac *p, const aff *q, int neg)
{
	fe z1z1, u2, s2;
	int same;

	if (is_zero(p->z)) {
		cp(r->x, q->x);
		if (neg)
			fe_sub(r->y, ZERO, q->y);
		else
			cp(r->y, q->y);
		cp(r->z, ONE_P);
		return;
	}
	fe_sqr(z1z1, p->z);
	fe_mul(u2, q->x, z1z1);
	fe_mul(s2, q->y, p->z);
	fe_mul(s2, s2, z1z1);
	if (neg)
		fe_sub(s2, ZERO, s2);
	if (add_tail(r, p->x, p->y, u2, s2, p->z, &same)) {
		if (same)
			pt_dbl(r, p);
		else
			set_inf(r);
	}
}

/* Affine (Montgomery form) from Jacobian; p must not be infinity. */
static void pt_to_aff(aff *r, const jac *p)
{
	fe zi, zi2;

	fe_inv(zi, p->z);
	fe_sqr(zi2, zi);
	fe_mul(r->x, p->x, zi2);
	fe_mul(zi2, zi2, zi);
	fe_mul(r->y, p->y, zi2);
}

/* ---- the table of G: (2i + 1) G for i = 0..31, affine, Montgomery form ------------- */
#define G_W 7
#define Q_W 5
#define G_TAB (1 << (G_W - 2))
#define Q_TAB (1 << (Q_W - 2))

/* Generated by ahv_p256_table_limbs() below (this file's own code, from GX
 * and GY); ahv_p256_test_table() recomputes it in the unit tests. */
static const uint64_t g_table[G_TAB][2][4] = {
	/*  1G */
	{ { 0x79e730d418a9143cull, 0x75ba95fc5fedb601ull, 0x79fb732b77622510ull, 0x18905f76a53755c6ull },
	  { 0xddf25357ce95560aull, 0x8b4ab8e4ba19e45cull, 0xd2e88688dd21f325ull, 0x8571ff1825885d85ull } },
	/*  3G */
	{ { 0xffac3f904eebc127ull, 0xb027f84a087d81fbull, 0x66ad77dd87cbbc98ull, 0x26936a3fb6ff747eull },
	  { 0xb04c5c1fc983a7ebull, 0x583e47ad0861fe1aull, 0x788208311a2ee98eull, 0xd5f06a29e587cc07ull } },
	/*  5G */
	{ { 0xbe1b8aaec45c61f5ull, 0x90ec649a94b9537dull, 0x941cb5aad076c20cull, 0xc9079605890523c8ull },
	  { 0xeb309b4ae7ba4f10ull, 0x73c568efe5eb882bull, 0x3540a9877e7a1f68ull, 0x73a076bb2dd1e916ull } },
	/*  7G */
	{ { 0x0746354ea0173b4full, 0x2bd20213d23c00f7ull, 0xf43eaab50c23bb08ull, 0x13ba5119c3123e03ull },
	  { 0x2847d0303f5b9d4dull, 0x6742f2f25da67bddull, 0xef933bdc77c94195ull, 0xeaedd9156e240867ull } },
	/*  9G */
	{ { 0x75c96e8f264e20e8ull, 0xabe6bfed59a7a841ull, 0x2cc09c0444c8eb00ull, 0xe05b3080f0c4e16bull },
	  { 0x1eb7777aa45f3314ull, 0x56af7bedce5d45e3ull, 0x2b6e019a88b12f1aull, 0x086659cdfd835f9bull } },
	/* 11G */
	{ { 0xea7d260a6245e404ull, 0x9de407956e7fdfe0ull, 0x1ff3a4158dac1ab5ull, 0x3e7090f1649c9073ull },
	  { 0x1a7685612b944e88ull, 0x250f939ee57f61c8ull, 0x0c0daa891ead643dull, 0x68930023e125b88eull } },
	/* 13G */
	{ { 0xccc425634b2ed709ull, 0x0e356769856fd30dull, 0xbcbcd43f559e9811ull, 0x738477ac5395b759ull },
	  { 0x35752b90c00ee17full, 0x68748390742ed2e3ull, 0x7cd06422bd1f5bc1ull, 0xfbc08769c9e7b797ull } },
	/* 15G */
	{ { 0x72bcd8b7bc60055bull, 0x03cc23ee56e27e4bull, 0xee337424e4819370ull, 0xe2aa0e430ad3da09ull },
	  { 0x40b8524f6383c45dull, 0xd766355442a41b25ull, 0x64efa6de778a4797ull, 0x2042170a7079adf4ull } },
	/* 17G */
	{ { 0x97091dcbd53c5c9dull, 0xf17624b6ac0a177bull, 0xb0f139752cfe2dffull, 0xc1a35c0a6c7a574eull },
	  { 0x227d314693e79987ull, 0x0575bf30e89cb80eull, 0x2f4e247f0d1883bbull, 0xebd512263274c3d0ull } },
	/* 19G */
	{ { 0xfea912baa5659ae8ull, 0x68363aba25e1a16eull, 0xb8842277752c41acull, 0xfe545c282897c3fcull },
	  { 0x2d36e9e7dc4c696bull, 0x5806244afba977c5ull, 0x85665e9be39508c1ull, 0xf720ee256d12597bull } },
	/* 21G */
	{ { 0x562e4cecc135b208ull, 0x74e1b2654783f47dull, 0x6d2a506c5a3f3b30ull, 0xecead9f4c16762fcull },
	  { 0xf29dd4b2e286e5b9ull, 0x1b0fadc083bb3c61ull, 0x7a75023e7fac29a4ull, 0xc086d5f1c9477fa3ull } },
	/* 23G */
	{ { 0xf4f876532de45068ull, 0x37c7a7e89e2e1f6eull, 0xd0825fa2a3584069ull, 0xaf2cea7c1727bf42ull },
	  { 0x0360a4fb9e4785a9ull, 0xe5fda49c27299f4aull, 0x48068e1371ac2f71ull, 0x83d0687b9077666full } },
	/* 25G */
	{ { 0xa4a319acd837879full, 0x6fc1b49eed6b67b0ull, 0xe395993332f1f3afull, 0x966742eb65432a2eull },
	  { 0x4b8dc9feb4966228ull, 0x96cc631243f43950ull, 0x12068859c9b731eeull, 0x7b948dc356f79968ull } },
	/* 27G */
	{ { 0x042c2af497e2feb4ull, 0xd36a42d7aebf7313ull, 0x49d2c9eb084ffdd7ull, 0x9f8aa54b2ef7c76aull },
	  { 0x9200b7ba09895e70ull, 0x3bd0c66fddb7fb58ull, 0x2d97d10878eb4cbbull, 0x2d431068d84bde31ull } },
	/* 29G */
	{ { 0x5e5db46acb66e132ull, 0xf1be963a0d925880ull, 0x944a70270317b9e2ull, 0xe266f95948603d48ull },
	  { 0x98db66735c208899ull, 0x90472447a2fb18a3ull, 0x8a966939777c619full, 0x3798142a2a3be21bull } },
	/* 31G */
	{ { 0xe2f73c696755ff89ull, 0xdd3cf7e7473017e6ull, 0x8ef5689d3cf7600dull, 0x948dc4f8b1fc87b4ull },
	  { 0xd9e9fe814ea53299ull, 0x2d921ca298eb6028ull, 0xfaecedfd0c9803fcull, 0xf38ae8914d7b4745ull } },
	/* 33G */
	{ { 0x871514560f664534ull, 0x85ceae7c4b68f103ull, 0xac09c4ae65578ab9ull, 0x33ec6868f044b10cull },
	  { 0x6ac4832b3a8ec1f1ull, 0x5509d1285847d5efull, 0xf909604f763f1574ull, 0xb16c4303c32f63c4ull } },
	/* 35G */
	{ { 0xfd16847fdec67ef5ull, 0x742ee464233e76b7ull, 0x0b8e4134efc2b4c8ull, 0xca640b8642a3e521ull },
	  { 0x653a01908ceb6aa9ull, 0x313c300c547852d5ull, 0x24e4ab126b237af7ull, 0x2ba901628bb47af8ull } },
	/* 37G */
	{ { 0x00467bc58cce08b5ull, 0xb636458c7f178d55ull, 0xc5748baea677d806ull, 0x2763a387dfa394ebull },
	  { 0xa12b448a7d3cebb6ull, 0xe7adda3e6f20d850ull, 0xf63ebce51558462cull, 0x58b36143620088a8ull } },
	/* 39G */
	{ { 0xa9d89488a059c142ull, 0x6f5ae714ff0b9346ull, 0x068f237d16fb3664ull, 0x5853e4c4363186acull },
	  { 0xe2d87d2363c52f98ull, 0x2ec4a76681828876ull, 0x47b864fae14e7b1cull, 0x0c0bc0e569192408ull } },
	/* 41G */
	{ { 0x624d60492ed22e91ull, 0x6fdfe0b56f072822ull, 0xeeca111539ce2271ull, 0x98100a4fdb01614full },
	  { 0xb6b0daa2a35c628full, 0xb6f94d2ec87e9a47ull, 0xc67732591d57d9ceull, 0xf70bfeec03884a7bull } },
	/* 43G */
	{ { 0x4ff23ffd248a7d06ull, 0x80c5bfb4878873faull, 0xb7d9ad9005745981ull, 0x179c85db3db01994ull },
	  { 0xba41b06261a6966cull, 0x4d82d052eadce5a8ull, 0x9e91cd3ba5e6a318ull, 0x47795f4f95b2dda0ull } },
	/* 45G */
	{ { 0x1ee426ccd5cd79bfull, 0x0032940b946c6e18ull, 0x1b1e8ae057477f58ull, 0xe94f7d346d823278ull },
	  { 0xc747cb96782ba21aull, 0xc5254469f72b33a5ull, 0x772ef6dec7f80c81ull, 0xd73acbfe2cd9e6b5ull } },
	/* 47G */
	{ { 0x283c7513caa76097ull, 0x0a624fa936c83906ull, 0x6b20afec715af2c7ull, 0x4b969974eba78bfdull },
	  { 0x220755ccd921d60eull, 0x9b944e107baeca13ull, 0x04819d515ded93d4ull, 0x9bbff86e6dddfd27ull } },
	/* 49G */
	{ { 0x21950b421ff6acd3ull, 0xffe7048453dc6909ull, 0xff4cd0b228766127ull, 0xabdbe6084fb7db2bull },
	  { 0x837c92285e1109e8ull, 0x26147d27f4645b5aull, 0x4d78f592f7818ed8ull, 0xd394077ef247fa36ull } },
	/* 51G */
	{ { 0x508cec1c3b3f64c9ull, 0xe20bc0ba1e5edf3full, 0xda1deb852f4318d4ull, 0xd20ebe0d5c3fa443ull },
	  { 0x370b4ea773241ea3ull, 0x61f1511c5e1a5f65ull, 0x99a5e23d82681c62ull, 0xd731e383a2f54c2dull } },
	/* 53G */
	{ { 0x97359638546c4d8dull, 0x5f9c3fc492f24679ull, 0x912e8beda8c8acd9ull, 0xec3a318d306634b0ull },
	  { 0x80167f41c31cb264ull, 0x3db82f6f522113f2ull, 0xb155bcd2dcafe197ull, 0xfba1da5943465283ull } },
	/* 55G */
	{ { 0x258bbbf9e7305683ull, 0x31eea5bf07ef5be6ull, 0x0deb0e4a46c814c1ull, 0x5cee8449a7b730ddull },
	  { 0xeab495c5a0182bdeull, 0xee759f879e27a6b4ull, 0xc2cf6a6880e518caull, 0x25e8013ff14cf3f4ull } },
	/* 57G */
	{ { 0x3ec832e77acaca28ull, 0x1bfeea57c7385b29ull, 0x068212e3fd1eaf38ull, 0xc13298306acf8cccull },
	  { 0xb909f2db2aac9e59ull, 0x5748060db661782aull, 0xc5ab2632c79b7a01ull, 0xda44c6c600017626ull } },
	/* 59G */
	{ { 0x69d44ed65c46aa8eull, 0x2100d5d3a8d063d1ull, 0xcb9727eaa2d17c36ull, 0x4c2bab1b8add53b7ull },
	  { 0xa084e90c15426704ull, 0x778afcd3a837ebeaull, 0x6651f7017ce477f8ull, 0xa062499846fb7a8bull } },
	/* 61G */
	{ { 0x3667eb1a7f4c04ccull, 0x59556621a9404f84ull, 0x71cdf6537eceb50aull, 0x994a44a69b8335faull },
	  { 0xd7faf819dbeb9b69ull, 0x473c5680eed4350dull, 0xb6658466da44bba2ull, 0x0d1bc780872bdbf3ull } },
	/* 63G */
	{ { 0xb8d3d9319ff91fe5ull, 0x039c4800f0518eedull, 0x95c376329182cb26ull, 0x0763a43482fc568dull },
	  { 0x707c04d5383e76baull, 0xac98b930824e8197ull, 0x92bf7c8f91230de0ull, 0x90876a0140959b70ull } },
};

static void gen_table(aff out[G_TAB])
{
	jac g, g2, acc;

	fe_to_mont(g.x, GX);
	fe_to_mont(g.y, GY);
	cp(g.z, ONE_P);
	pt_dbl(&g2, &g);
	acc = g;
	for (int i = 0; i < G_TAB; i++) {
		pt_to_aff(&out[i], &acc);
		pt_add(&acc, &acc, &g2, 0);
	}
}

void ahv_p256_table_limbs(uint64_t out[32][2][4])
{
	aff t[G_TAB];

	gen_table(t);
	for (int i = 0; i < G_TAB; i++) {
		cp(out[i][0], t[i].x);
		cp(out[i][1], t[i].y);
	}
}

int ahv_p256_test_table(void)
{
	uint64_t t[G_TAB][2][4];

	ahv_p256_table_limbs(t);
	return memcmp(t, g_table, sizeof(t)) == 0 ? 0 : -1;
}

/* ---- u1 G + u2 Q ------------------------------------------------------------------- */
/* Width-w NAF of a 256-bit k: out[i] is 0 or odd in (-2^(w-1), 2^(w-1)).
 * Returns the length (<= 257). */
static int wnaf(int8_t out[260], const uint64_t k[4], int w)
{
	uint64_t d[5] = { k[0], k[1], k[2], k[3], 0 };
	const int64_t full = (int64_t)1 << w, half = full >> 1;
	int len = 0;

	while (d[0] | d[1] | d[2] | d[3] | d[4]) {
		int64_t digit = 0;

		if (d[0] & 1) {
			digit = (int64_t)(d[0] & (uint64_t)(full - 1));
			if (digit >= half)
				digit -= full;
			if (digit > 0) {
				d[0] -= (uint64_t)digit; /* clears the low bits: no borrow */
			} else {
				u128 c = (u128)d[0] + (uint64_t)-digit;
				d[0] = (uint64_t)c;
				for (int i = 1; i < 5 && (c >> 64); i++) {
					c = (u128)d[i] + 1;
					d[i] = (uint64_t)c;
				}
			}
		}
		out[len++] = (int8_t)digit;
		d[0] = d[0] >> 1 | d[1] << 63;
		d[1] = d[1] >> 1 | d[2] << 63;
		d[2] = d[2] >> 1 | d[3] << 63;
		d[3] = d[3] >> 1 | d[4] << 63;
		d[4] >>= 1;
	}
	return len;
}

static void mul2(jac *r, const uint64_t u1[4], const uint64_t u2[4], const jac *q)
{
	jac tq[Q_TAB], q2;
	int8_t n1[260], n2[260];
	int l1 = wnaf(n1, u1, G_W), l2 = wnaf(n2, u2, Q_W);
	int len = l1 > l2 ? l1 : l2;

	tq[0] = *q;
	pt_dbl(&q2, q);
	for (int i = 1; i < Q_TAB; i++)
		pt_add(&tq[i], &tq[i - 1], &q2, 0);
	set_inf(r);
	for (int i = len - 1; i >= 0; i--) {
		pt_dbl(r, r);
		if (i < l1 && n1[i]) {
			int d = n1[i];
			aff g;
			memcpy(&g, g_table[(d < 0 ? -d : d) >> 1], sizeof(g));
			pt_add_aff(r, r, &g, d < 0);
		}
		if (i < l2 && n2[i]) {
			int d = n2[i];
			pt_add(r, r, &tq[(d < 0 ? -d : d) >> 1], d < 0);
		}
	}
}

/* ---- public point ---------------------------------------------------------------- */
/* Q from 0x04 || X || Y, checked (SEC 1 3.2.2.1): 0 <= X, Y < p and on the
 * curve. Returns 0 or -1. */
static int load_point(jac *q, const uint8_t point[65])
{
	fe x, y, lhs, rhs, t;

	if (point[0] != 0x04)
		return -1;
	from_be(x, point + 1);
	from_be(y, point + 33);
	if (!lt(x, P) || !lt(y, P))
		return -1;
	fe_to_mont(q->x, x);
	fe_to_mont(q->y, y);
	cp(q->z, ONE_P);
	fe_sqr(lhs, q->y);                   /* y^2 */
	fe_sqr(rhs, q->x);
	fe_mul(rhs, rhs, q->x);              /* x^3 */
	fe_add(t, q->x, q->x);
	fe_add(t, t, q->x);
	fe_sub(rhs, rhs, t);                 /* x^3 - 3x */
	fe_to_mont(t, B);
	fe_add(rhs, rhs, t);                 /* x^3 - 3x + b */
	return eq(lhs, rhs) ? 0 : -1;
}

int ahv_p256_pub_check(const uint8_t point[65])
{
	jac q;

	return load_point(&q, point) == 0 ? AHV_CRYPTO_OK : AHV_CRYPTO_EBADKEY;
}

/* ---- ECDSA verification (FIPS 186-5 6.4.2) ------------------------------------------ */
int ahv_p256_verify(const uint8_t point[65], const uint8_t *digest, size_t digest_len,
		    const uint8_t sig[64])
{
	uint64_t r[4], s[4], e[4], w[4], u1[4], u2[4];
	uint8_t ebytes[32];
	fe z2, t, x;
	jac q, R;

	if (load_point(&q, point))
		return AHV_CRYPTO_EBADKEY;
	/* Step 1: 1 <= r, s <= n - 1. */
	from_be(r, sig);
	from_be(s, sig + 32);
	if (is_zero(r) || is_zero(s) || !lt(r, N) || !lt(s, N))
		return AHV_CRYPTO_EBADSIG;
	/* Step 3: e = the leftmost min(256, 8 * digest_len) bits of the digest
	 * (SEC 1 4.1.4 step 5), as an integer; reduced mod n (e < 2^256 < 2n). */
	if (!digest || !digest_len)
		return AHV_CRYPTO_EBADSIG;
	memset(ebytes, 0, sizeof(ebytes));
	if (digest_len >= 32)
		memcpy(ebytes, digest, 32);
	else
		memcpy(ebytes + 32 - digest_len, digest, digest_len);
	from_be(e, ebytes);
	if (!lt(e, N))
		mod_sub(e, e, N, N); /* e - n: a borrow-free subtraction here */
	/* Steps 4-5: w = s^-1, u1 = e w, u2 = r w (mod n). In the Montgomery
	 * domain: w' = (sR)^-1 R = s^-1 R, so mont(e, w') = e s^-1 directly. */
	sc_mul(w, s, RR_N);                  /* s R */
	sc_inv(w, w);                        /* s^-1 R */
	sc_mul(u1, e, w);
	sc_mul(u2, r, w);
	/* Step 6: R = u1 G + u2 Q; infinity is rejected. */
	mul2(&R, u1, u2, &q);
	if (is_zero(R.z))
		return AHV_CRYPTO_EBADSIG;
	/* Steps 7-8: x(R) mod n == r, with x(R) = X / Z^2 < p < 2n: either
	 * x(R) == r or x(R) == r + n (possible only when r + n < p). */
	fe_sqr(z2, R.z);
	fe_to_mont(t, r);
	fe_mul(x, t, z2);
	if (eq(x, R.x))
		return AHV_CRYPTO_OK;
	{
		uint64_t rn[4];
		u128 c = 0;
		for (int i = 0; i < 4; i++) {
			c = (u128)r[i] + N[i] + (uint64_t)(c >> 64);
			rn[i] = (uint64_t)c;
		}
		if ((uint64_t)(c >> 64) == 0 && lt(rn, P)) {
			fe_to_mont(t, rn);
			fe_mul(x, t, z2);
			if (eq(x, R.x))
				return AHV_CRYPTO_OK;
		}
	}
	return AHV_CRYPTO_EBADSIG;
}

/* ---- test hooks ----------------------------------------------------------------------- */
int ahv_p256_test_op(int modulus, int op, const uint8_t a[32], const uint8_t b[32],
		     uint8_t out[32])
{
	uint64_t x[4], y[4], z[4];

	from_be(x, a);
	from_be(y, b);
	if (modulus == 0) {
		if (!lt(x, P) || !lt(y, P))
			return -1;
		switch (op) {
		case AHV_P256_OP_ADD: fe_add(z, x, y); break;
		case AHV_P256_OP_SUB: fe_sub(z, x, y); break;
		case AHV_P256_OP_MUL:
			fe_to_mont(x, x);
			fe_to_mont(y, y);
			fe_mul(z, x, y);
			fe_from_mont(z, z);
			break;
		case AHV_P256_OP_SQR:
			fe_to_mont(x, x);
			fe_sqr(z, x);
			fe_from_mont(z, z);
			break;
		case AHV_P256_OP_INV:
			fe_to_mont(x, x);
			fe_inv(z, x);
			fe_from_mont(z, z);
			break;
		default: return -1;
		}
	} else {
		static const uint64_t one[4] = { 1, 0, 0, 0 };
		if (!lt(x, N) || !lt(y, N))
			return -1;
		sc_mul(x, x, RR_N);
		sc_mul(y, y, RR_N);
		switch (op) {
		case AHV_P256_OP_MUL: sc_mul(z, x, y); break;
		case AHV_P256_OP_SQR: sc_mul(z, x, x); break;
		case AHV_P256_OP_INV: sc_inv(z, x); break;
		default: return -1;
		}
		sc_mul(z, z, one);
	}
	to_be(out, z);
	return 0;
}

int ahv_p256_test_mul2(const uint8_t u1[32], const uint8_t u2[32], const uint8_t q[65],
		       uint8_t out[65])
{
	uint64_t k1[4], k2[4];
	jac Q, R;
	aff a;

	if (load_point(&Q, q))
		return -1;
	from_be(k1, u1);
	from_be(k2, u2);
	mul2(&R, k1, k2, &Q);
	if (is_zero(R.z))
		return 1;
	pt_to_aff(&a, &R);
	fe_from_mont(a.x, a.x);
	fe_from_mont(a.y, a.y);
	out[0] = 0x04;
	to_be(out + 1, a.x);
	to_be(out + 33, a.y);
	return 0;
}
