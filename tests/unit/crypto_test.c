/*
 * crypto_test.c - host unit tests of the crypto API (label unit, run under
 * ASan/UBSan). OpenSSL serves as the independent oracle: digests, ECDSA
 * signatures and SubjectPublicKeyInfo encodings are cross-checked both ways.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include "ahv/crypto.h"
#include "../crypto/kat.h"

/* ---- helpers ---------------------------------------------------------------- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t prng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)prng();
}

static const char *evp_name(ahv_hash_alg a)
{
	static const char *n[] = { "", "SHA256", "SHA384", "SHA512", "SHA3-256", "SHA3-384", "SHA3-512" };
	return n[a];
}

static void kat_report(void *arg, const char *group, const char *name, int ok)
{
	(void)arg;
	if (!ok)
		print_error("KAT failed: %s/%s\n", group, name);
}

static ahv_drbg hw_rng;

static int setup_rng(void **state)
{
	(void)state;
	return ahv_drbg_init(&hw_rng, AHV_DRBG_HW, NULL, NULL, "unit", 4) == AHV_CRYPTO_OK ? 0 : -1;
}

static int teardown_rng(void **state)
{
	(void)state;
	ahv_drbg_free(&hw_rng);
	return 0;
}

/* ---- known answers (the same runner the UEFI self-test uses) ------------------ */
static void test_kat_all(void **state)
{
	(void)state;
	assert_int_equal(ahv_kat_all(&hw_rng, kat_report, NULL), 0);
}

static void test_kat_portable_sha256(void **state)
{
	(void)state;
	ahv_sha256_force_portable(1);
	assert_string_equal(ahv_sha256_impl(), "portable");
	assert_int_equal(ahv_kat_hashes(kat_report, NULL), 0);
	ahv_sha256_force_portable(0);
}

/* ---- hashes vs OpenSSL, random lengths and random chunking ------------------- */
static void test_hash_vs_openssl(void **state)
{
	static uint8_t buf[9000];
	(void)state;
	for (int alg = AHV_HASH_SHA256; alg <= AHV_HASH_SHA3_512; alg++) {
		const EVP_MD *md = EVP_get_digestbyname(evp_name((ahv_hash_alg)alg));
		assert_non_null(md);
		for (int iter = 0; iter < 60; iter++) {
			size_t len = iter < 3 ? (size_t)iter : prng() % sizeof(buf);
			uint8_t want[64], got[64], got2[64];
			unsigned wl = 0;
			ahv_hash_ctx ctx;
			size_t off = 0;

			fill(buf, len);
			assert_int_equal(EVP_Digest(buf, len, want, &wl, md, NULL), 1);
			assert_int_equal(wl, ahv_hash_size((ahv_hash_alg)alg));
			assert_int_equal(ahv_hash((ahv_hash_alg)alg, buf, len, got), AHV_CRYPTO_OK);
			assert_memory_equal(got, want, wl);
			assert_int_equal(ahv_hash_init(&ctx, (ahv_hash_alg)alg), AHV_CRYPTO_OK);
			while (off < len) {
				size_t n = prng() % 300;
				if (n > len - off)
					n = len - off;
				assert_int_equal(ahv_hash_update(&ctx, buf + off, n), AHV_CRYPTO_OK);
				off += n;
			}
			assert_int_equal(ahv_hash_final(&ctx, got2), AHV_CRYPTO_OK);
			assert_memory_equal(got2, want, wl);
		}
	}
}

static void test_sha256_shani_equals_portable(void **state)
{
	static uint8_t buf[70000];
	(void)state;
	if (strcmp(ahv_sha256_impl(), "sha-ni") != 0) {
		print_message("      (CPU has no SHA-NI: only the portable path exists here)\n");
		skip();
	}
	for (int iter = 0; iter < 200; iter++) {
		size_t len = prng() % sizeof(buf);
		uint8_t a[32], b[32];

		fill(buf, len);
		assert_int_equal(ahv_hash(AHV_HASH_SHA256, buf, len, a), AHV_CRYPTO_OK);
		ahv_sha256_force_portable(1);
		assert_int_equal(ahv_hash(AHV_HASH_SHA256, buf, len, b), AHV_CRYPTO_OK);
		ahv_sha256_force_portable(0);
		assert_memory_equal(a, b, 32);
	}
}

static void test_hash_bad_args(void **state)
{
	uint8_t out[64];
	ahv_hash_ctx ctx;
	(void)state;
	assert_int_equal(ahv_hash_size((ahv_hash_alg)0), 0);
	assert_int_equal(ahv_hash_size((ahv_hash_alg)7), 0);
	assert_null(ahv_hash_name((ahv_hash_alg)99));
	assert_int_equal(ahv_hash((ahv_hash_alg)7, "x", 1, out), AHV_CRYPTO_EINVAL);
	assert_int_equal(ahv_hash_init(&ctx, (ahv_hash_alg)0), AHV_CRYPTO_EINVAL);
	assert_int_equal(ahv_hash_init(NULL, AHV_HASH_SHA256), AHV_CRYPTO_EINVAL);
	assert_int_equal(ahv_hash_init(&ctx, AHV_HASH_SHA256), AHV_CRYPTO_OK);
	assert_int_equal(ahv_hash_update(&ctx, NULL, 5), AHV_CRYPTO_EINVAL);
	assert_int_equal(ahv_hash_update(&ctx, NULL, 0), AHV_CRYPTO_OK);
	assert_int_equal(ahv_hash_final(&ctx, out), AHV_CRYPTO_OK);
	/* A finished context is wiped: using it again is refused. */
	assert_int_equal(ahv_hash_update(&ctx, "x", 1), AHV_CRYPTO_EINVAL);
}

/* ---- ECDSA against OpenSSL ----------------------------------------------------- */
static EVP_PKEY *openssl_pub(const ahv_ec_pub *pub)
{
	uint8_t der[AHV_SPKI_MAX_DER];
	size_t len = 0;
	const unsigned char *p = der;

	assert_int_equal(ahv_spki_write_der(pub, der, sizeof(der), &len), AHV_CRYPTO_OK);
	return d2i_PUBKEY(NULL, &p, (long)len);
}

static int openssl_verify(EVP_PKEY *pk, const uint8_t *dig, size_t dlen, const uint8_t *der, size_t der_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	int ok = c && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_verify(c, der, der_len, dig, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static void test_ecdsa_cross_openssl(void **state)
{
	static const ahv_curve curves[] = { AHV_CURVE_P256, AHV_CURVE_P384 };
	(void)state;
	for (int i = 0; i < 2; i++) {
		size_t n = ahv_curve_size(curves[i]);
		for (int iter = 0; iter < 5; iter++) {
			ahv_ec_key key;
			uint8_t dig[48], der[AHV_EC_MAX_SIG_DER], raw[AHV_EC_MAX_SIG_RAW];
			size_t der_len = 0, raw_len = 0, dlen = n;
			EVP_PKEY *pk;

			fill(dig, dlen);
			assert_int_equal(ahv_ec_keygen(curves[i], &hw_rng, &key), AHV_CRYPTO_OK);
			assert_int_equal(ahv_ec_pub_check(&key.pub), AHV_CRYPTO_OK);
			pk = openssl_pub(&key.pub);
			assert_non_null(pk);
			/* ours -> OpenSSL */
			assert_int_equal(ahv_ecdsa_sign_der(&key, &hw_rng, dig, dlen, der, sizeof(der), &der_len),
					 AHV_CRYPTO_OK);
			assert_true(openssl_verify(pk, dig, dlen, der, der_len));
			dig[0] ^= 1;
			assert_false(openssl_verify(pk, dig, dlen, der, der_len));
			dig[0] ^= 1;
			/* OpenSSL -> ours (needs the private key in OpenSSL) */
			{
				EVP_PKEY *sk = NULL;
				OSSL_PARAM_BLD *b = NULL;
				(void)b;
				EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
				EVP_PKEY_CTX *sc;
				unsigned char sig[128];
				size_t sl = sizeof(sig);
				ahv_ec_pub p2;
				uint8_t spki[AHV_SPKI_MAX_DER];
				unsigned char *sp = spki;
				int sl2;

				assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
				assert_int_equal(EVP_PKEY_CTX_set_group_name(kc, i == 0 ? "P-256" : "P-384"), 1);
				assert_int_equal(EVP_PKEY_keygen(kc, &sk), 1);
				sc = EVP_PKEY_CTX_new(sk, NULL);
				assert_int_equal(EVP_PKEY_sign_init(sc), 1);
				assert_int_equal(EVP_PKEY_sign(sc, sig, &sl, dig, dlen), 1);
				sl2 = i2d_PUBKEY(sk, &sp);
				assert_true(sl2 > 0);
				assert_int_equal(ahv_spki_read_der(spki, (size_t)sl2, &p2), AHV_CRYPTO_OK);
				assert_int_equal(ahv_ecdsa_verify_der(&p2, dig, dlen, sig, sl), AHV_CRYPTO_OK);
				assert_int_equal(ahv_ecdsa_sig_der_to_raw(curves[i], sig, sl, raw, sizeof(raw), &raw_len),
						 AHV_CRYPTO_OK);
				assert_int_equal(raw_len, 2 * n);
				assert_int_equal(ahv_ecdsa_verify_raw(&p2, dig, dlen, raw, raw_len), AHV_CRYPTO_OK);
				/* the wrong key */
				assert_int_equal(ahv_ecdsa_verify_raw(&key.pub, dig, dlen, raw, raw_len), AHV_CRYPTO_EBADSIG);
				EVP_PKEY_CTX_free(sc);
				EVP_PKEY_CTX_free(kc);
				EVP_PKEY_free(sk);
			}
			EVP_PKEY_free(pk);
			ahv_ec_key_wipe(&key);
		}
	}
}

static void test_ecdsa_rejections(void **state)
{
	ahv_ec_key key, again;
	uint8_t dig[32], sig[AHV_EC_MAX_SIG_RAW], der[AHV_EC_MAX_SIG_DER], raw[AHV_EC_MAX_SIG_RAW];
	size_t sl = 0, dl = 0, rl = 0;
	ahv_ec_pub bad;
	(void)state;

	fill(dig, sizeof(dig));
	assert_int_equal(ahv_ec_keygen(AHV_CURVE_P256, &hw_rng, &key), AHV_CRYPTO_OK);
	assert_int_equal(ahv_ecdsa_sign_raw(&key, &hw_rng, dig, 32, sig, sizeof(sig), &sl), AHV_CRYPTO_OK);
	assert_int_equal(sl, 64);
	assert_int_equal(ahv_ecdsa_verify_raw(&key.pub, dig, 32, sig, sl), AHV_CRYPTO_OK);
	/* every single flipped bit of the signature is rejected */
	for (size_t i = 0; i < sl * 8; i += 7) {
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(ahv_ecdsa_verify_raw(&key.pub, dig, 32, sig, sl), AHV_CRYPTO_EBADSIG);
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* wrong lengths; zero r/s */
	assert_int_equal(ahv_ecdsa_verify_raw(&key.pub, dig, 32, sig, sl - 1), AHV_CRYPTO_EBADSIG);
	{
		uint8_t zero[64] = { 0 };
		assert_int_equal(ahv_ecdsa_verify_raw(&key.pub, dig, 32, zero, 64), AHV_CRYPTO_EBADSIG);
	}
	/* an altered public key: off the curve is a bad key */
	bad = key.pub;
	bad.point[10] ^= 1;
	assert_int_equal(ahv_ec_pub_check(&bad), AHV_CRYPTO_EBADKEY);
	assert_int_equal(ahv_ecdsa_verify_raw(&bad, dig, 32, sig, sl), AHV_CRYPTO_EBADKEY);
	bad = key.pub;
	bad.point[0] = 0x02; /* compressed form is not accepted */
	assert_int_equal(ahv_ec_pub_check(&bad), AHV_CRYPTO_EBADKEY);
	bad = key.pub;
	bad.curve = 9;
	assert_int_equal(ahv_ec_pub_check(&bad), AHV_CRYPTO_EBADKEY);
	/* rebuilding from the private scalar gives the same public key */
	assert_int_equal(ahv_ec_key_from_private(AHV_CURVE_P256, key.d, 32, &hw_rng, &again), AHV_CRYPTO_OK);
	assert_memory_equal(&again.pub, &key.pub, sizeof(key.pub));
	{
		uint8_t zero[32] = { 0 };
		assert_int_equal(ahv_ec_key_from_private(AHV_CURVE_P256, zero, 32, &hw_rng, &again),
				 AHV_CRYPTO_EBADKEY);
		assert_int_equal(ahv_ec_key_from_private(AHV_CURVE_P256, zero, 31, &hw_rng, &again),
				 AHV_CRYPTO_EINVAL);
	}
	/* DER strictness */
	assert_int_equal(ahv_ecdsa_sig_raw_to_der(AHV_CURVE_P256, sig, sl, der, sizeof(der), &dl), AHV_CRYPTO_OK);
	assert_int_equal(ahv_ecdsa_verify_der(&key.pub, dig, 32, der, dl), AHV_CRYPTO_OK);
	assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, der, dl, raw, sizeof(raw), &rl), AHV_CRYPTO_OK);
	assert_memory_equal(raw, sig, 64);
	{
		uint8_t t[AHV_EC_MAX_SIG_DER + 2];
		memcpy(t, der, dl);
		t[dl] = 0; /* trailing byte */
		assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, t, dl + 1, raw, sizeof(raw), &rl),
				 AHV_CRYPTO_EFORMAT);
		memcpy(t, der, dl);
		t[0] = 0x31; /* SET, not SEQUENCE */
		assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, t, dl, raw, sizeof(raw), &rl),
				 AHV_CRYPTO_EFORMAT);
		assert_int_equal(ahv_ecdsa_verify_der(&key.pub, dig, 32, t, dl), AHV_CRYPTO_EBADSIG);
		/* non-minimal INTEGER: 02 02 00 01 */
		static const uint8_t nonmin[] = { 0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01 };
		assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, nonmin, sizeof(nonmin), raw,
							  sizeof(raw), &rl), AHV_CRYPTO_EFORMAT);
		/* negative INTEGER */
		static const uint8_t neg[] = { 0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01 };
		assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, neg, sizeof(neg), raw, sizeof(raw),
							  &rl), AHV_CRYPTO_EFORMAT);
		/* truncated */
		assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, der, dl - 1, raw, sizeof(raw), &rl),
				 AHV_CRYPTO_EFORMAT);
		/* too small output */
		assert_int_equal(ahv_ecdsa_sig_der_to_raw(AHV_CURVE_P256, der, dl, raw, 10, &rl),
				 AHV_CRYPTO_EBUFSIZE);
	}
	ahv_ec_key_wipe(&key);
	ahv_ec_key_wipe(&again);
}

/* ---- SubjectPublicKeyInfo ------------------------------------------------------- */
static void test_spki(void **state)
{
	static const ahv_curve curves[] = { AHV_CURVE_P256, AHV_CURVE_P384 };
	(void)state;
	for (int i = 0; i < 2; i++) {
		ahv_ec_key key;
		ahv_ec_pub back;
		uint8_t der[AHV_SPKI_MAX_DER], id[32], want_id[32];
		char pem[AHV_SPKI_MAX_PEM];
		size_t dl = 0, pl = 0;
		EVP_PKEY *pk;
		unsigned char *o = NULL;
		int ol;
		BIO *bio;
		char *bp;
		long bl;

		assert_int_equal(ahv_ec_keygen(curves[i], &hw_rng, &key), AHV_CRYPTO_OK);
		assert_int_equal(ahv_spki_write_der(&key.pub, der, sizeof(der), &dl), AHV_CRYPTO_OK);
		assert_int_equal(dl, i == 0 ? 91 : 120);
		/* OpenSSL parses it and re-encodes byte-identically */
		pk = openssl_pub(&key.pub);
		assert_non_null(pk);
		ol = i2d_PUBKEY(pk, &o);
		assert_int_equal(ol, (int)dl);
		assert_memory_equal(o, der, dl);
		OPENSSL_free(o);
		/* PEM round trip and OpenSSL's PEM accepted */
		assert_int_equal(ahv_spki_write_pem(&key.pub, pem, sizeof(pem), &pl), AHV_CRYPTO_OK);
		assert_int_equal(strlen(pem), pl);
		assert_int_equal(ahv_spki_read_pem(pem, pl, &back), AHV_CRYPTO_OK);
		assert_memory_equal(&back, &key.pub, sizeof(back));
		bio = BIO_new(BIO_s_mem());
		assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
		bl = BIO_get_mem_data(bio, &bp);
		assert_int_equal((size_t)bl, pl);
		assert_memory_equal(bp, pem, pl);
		memset(&back, 0, sizeof(back));
		assert_int_equal(ahv_spki_read_pem(bp, (size_t)bl, &back), AHV_CRYPTO_OK);
		assert_memory_equal(&back, &key.pub, sizeof(back));
		BIO_free(bio);
		EVP_PKEY_free(pk);
		/* key id = SHA-256(SPKI DER) */
		assert_int_equal(ahv_spki_key_id(&key.pub, id), AHV_CRYPTO_OK);
		assert_int_equal(ahv_hash(AHV_HASH_SHA256, der, dl, want_id), AHV_CRYPTO_OK);
		assert_memory_equal(id, want_id, 32);
		/* malformed inputs */
		assert_int_equal(ahv_spki_read_der(der, dl - 1, &back), AHV_CRYPTO_EFORMAT);
		der[5] ^= 1;
		assert_int_equal(ahv_spki_read_der(der, dl, &back), AHV_CRYPTO_EFORMAT);
		der[5] ^= 1;
		der[dl - 1] ^= 1; /* point off the curve */
		assert_int_equal(ahv_spki_read_der(der, dl, &back), AHV_CRYPTO_EBADKEY);
		assert_int_equal(ahv_spki_read_pem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
						   60, &back), AHV_CRYPTO_EFORMAT);
		assert_int_equal(ahv_spki_read_pem("no pem here", 11, &back), AHV_CRYPTO_EFORMAT);
		assert_int_equal(ahv_spki_write_pem(&key.pub, pem, 20, &pl), AHV_CRYPTO_EBUFSIZE);
		ahv_ec_key_wipe(&key);
	}
}

/* ---- DRBG ------------------------------------------------------------------------ */
struct counting_src {
	int calls;
	int fail;
};

static int counting_entropy(void *arg, uint8_t *out, size_t len)
{
	struct counting_src *s = arg;
	s->calls++;
	if (s->fail)
		return -1;
	memset(out, s->calls, len);
	return 0;
}

static void test_drbg_reseeding(void **state)
{
	struct counting_src src = { 0 };
	ahv_drbg d, e;
	uint8_t a[32], b[32];
	(void)state;

	assert_int_equal(ahv_drbg_init(&d, 0, counting_entropy, &src, NULL, 0), AHV_CRYPTO_OK);
	int after_seed = src.calls;
	assert_true(after_seed >= 1);
	assert_int_equal(ahv_drbg_set_reseed_interval(&d, 3), AHV_CRYPTO_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ahv_drbg_generate(&d, a, sizeof(a)), AHV_CRYPTO_OK);
	assert_int_equal(src.calls, after_seed);          /* no reseed yet */
	assert_int_equal(ahv_drbg_reseed_counter(&d), 3);
	assert_int_equal(ahv_drbg_generate(&d, b, sizeof(b)), AHV_CRYPTO_OK);
	assert_int_equal(src.calls, after_seed + 1);      /* automatic reseed */
	assert_int_equal(ahv_drbg_reseed_counter(&d), 1);
	assert_memory_not_equal(a, b, sizeof(a));
	/* explicit reseed pulls entropy and resets the counter */
	assert_int_equal(ahv_drbg_reseed(&d, "x", 1), AHV_CRYPTO_OK);
	assert_int_equal(src.calls, after_seed + 2);
	assert_int_equal(ahv_drbg_reseed_counter(&d), 0);
	/* a failing source fails the reseed, clearly */
	src.fail = 1;
	assert_int_equal(ahv_drbg_reseed(&d, NULL, 0), AHV_CRYPTO_ENOENTROPY);
	assert_int_equal(ahv_drbg_init(&e, 0, counting_entropy, &src, NULL, 0), AHV_CRYPTO_ENOENTROPY);
	ahv_drbg_free(&d);
	/* bad arguments */
	assert_int_equal(ahv_drbg_init(&e, 0, NULL, NULL, NULL, 0), AHV_CRYPTO_EINVAL);
	assert_int_equal(ahv_drbg_init(&e, 0x80, counting_entropy, &src, NULL, 0), AHV_CRYPTO_EINVAL);
	/* two hardware-seeded instances differ */
	assert_int_equal(ahv_drbg_init(&d, AHV_DRBG_HW, NULL, NULL, NULL, 0), AHV_CRYPTO_OK);
	assert_int_equal(ahv_drbg_init(&e, AHV_DRBG_HW, NULL, NULL, NULL, 0), AHV_CRYPTO_OK);
	assert_int_equal(ahv_drbg_generate(&d, a, sizeof(a)), AHV_CRYPTO_OK);
	assert_int_equal(ahv_drbg_generate(&e, b, sizeof(b)), AHV_CRYPTO_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	ahv_drbg_free(&d);
	ahv_drbg_free(&e);
}

static void test_misc(void **state)
{
	(void)state;
	assert_int_equal(ahv_ct_memcmp("abc", "abc", 3), 0);
	assert_int_not_equal(ahv_ct_memcmp("abc", "abd", 3), 0);
	assert_string_equal(ahv_crypto_strerror(AHV_CRYPTO_EBADSIG), "signature does not verify");
	assert_string_equal(ahv_crypto_strerror(-1000), "unknown crypto error");
	assert_int_equal(ahv_curve_size((ahv_curve)3), 0);
}

/* ---- P-256 verification (crypto/src/p256.c) against OpenSSL ----------------------- */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include "../../crypto/src/p256.h"

static const char P256_P_HEX[] = "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF";
static const char P256_N_HEX[] = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

static BIGNUM *bn_hex(const char *h)
{
	BIGNUM *b = NULL;
	assert_true(BN_hex2bn(&b, h) > 0);
	return b;
}

static void bn_be32(const BIGNUM *b, uint8_t out[32])
{
	assert_int_equal(BN_bn2binpad(b, out, 32), 32);
}

/* A 256-bit value biased to carry/borrow edges: each 32-bit half-limb is 0,
 * all ones, 1, 0x80000000 or random. */
static void edgy(uint8_t out[32])
{
	for (int i = 0; i < 32; i += 4) {
		uint32_t v;
		switch (prng() % 6) {
		case 0: v = 0; break;
		case 1: v = 0xffffffffu; break;
		case 2: v = 1; break;
		case 3: v = 0x80000000u; break;
		case 4: v = 0xfffffffeu; break;
		default: v = prng(); break;
		}
		out[i] = (uint8_t)(v >> 24); out[i + 1] = (uint8_t)(v >> 16);
		out[i + 2] = (uint8_t)(v >> 8); out[i + 3] = (uint8_t)v;
	}
}

/* A random operand below m: edge values (0, 1, 2, m-1, m-2, m-2^k), edgy
 * patterns or uniform, reduced mod m. */
static BIGNUM *operand(const BIGNUM *m, BN_CTX *ctx)
{
	BIGNUM *b = BN_new();
	uint8_t raw[32];
	unsigned pick = prng() % 10;

	assert_non_null(b);
	if (pick == 0) {
		assert_true(BN_set_word(b, prng() % 3));
	} else if (pick == 1) {
		assert_true(BN_copy(b, m) != NULL);
		assert_true(BN_sub_word(b, 1 + prng() % 2));
	} else if (pick == 2) {
		BIGNUM *t = BN_new();
		BN_zero(t);
		assert_true(BN_set_bit(t, (int)(prng() % 256)));
		assert_true(BN_mod_sub(b, m, t, m, ctx));
		BN_free(t);
	} else {
		if (pick < 6)
			edgy(raw);
		else
			fill(raw, 32);
		assert_non_null(BN_bin2bn(raw, 32, b));
		assert_true(BN_nnmod(b, b, m, ctx));
	}
	return b;
}

static void test_p256_arith_vs_bn(void **state)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *mod[2] = { bn_hex(P256_P_HEX), bn_hex(P256_N_HEX) };
	long checks = 0;
	uint8_t big[32];
	(void)state;

	/* operands >= the modulus are refused */
	bn_be32(mod[0], big);
	assert_int_equal(ahv_p256_test_op(0, AHV_P256_OP_ADD, big, big, big), -1);
	for (int m = 0; m < 2; m++) {
		for (int iter = 0; iter < 20000; iter++) {
			BIGNUM *a = operand(mod[m], ctx), *b = operand(mod[m], ctx), *w = BN_new();
			uint8_t ab[32], bb[32], got[32], want[32];
			int ops[] = { AHV_P256_OP_MUL, AHV_P256_OP_SQR, AHV_P256_OP_ADD, AHV_P256_OP_SUB,
				      AHV_P256_OP_INV };
			int nops = m == 0 ? 5 : 3;

			bn_be32(a, ab);
			bn_be32(b, bb);
			for (int k = 0; k < nops; k++) {
				int op = m == 0 ? ops[k] : (k == 0 ? AHV_P256_OP_MUL : k == 1 ? AHV_P256_OP_SQR
									     : AHV_P256_OP_INV);
				if (op == AHV_P256_OP_INV && iter % 8)
					continue; /* inversions are slow: every 8th operand */
				switch (op) {
				case AHV_P256_OP_MUL: assert_true(BN_mod_mul(w, a, b, mod[m], ctx)); break;
				case AHV_P256_OP_SQR: assert_true(BN_mod_sqr(w, a, mod[m], ctx)); break;
				case AHV_P256_OP_ADD: assert_true(BN_mod_add(w, a, b, mod[m], ctx)); break;
				case AHV_P256_OP_SUB: assert_true(BN_mod_sub(w, a, b, mod[m], ctx)); break;
				case AHV_P256_OP_INV:
					if (BN_is_zero(a))
						BN_zero(w);
					else
						assert_non_null(BN_mod_inverse(w, a, mod[m], ctx));
					break;
				}
				bn_be32(w, want);
				assert_int_equal(ahv_p256_test_op(m, op, ab, bb, got), 0);
				if (memcmp(got, want, 32) != 0) {
					char *ha = BN_bn2hex(a), *hb = BN_bn2hex(b);
					print_error("mod %d op %d a=%s b=%s\n", m, op, ha, hb);
					OPENSSL_free(ha);
					OPENSSL_free(hb);
					fail();
				}
				checks++;
			}
			BN_free(a);
			BN_free(b);
			BN_free(w);
		}
	}
	print_message("      p256 arithmetic: %ld results equal to OpenSSL BIGNUM\n", checks);
	BN_free(mod[0]);
	BN_free(mod[1]);
	BN_CTX_free(ctx);
}

static void test_p256_table(void **state)
{
	(void)state;
	assert_int_equal(ahv_p256_test_table(), 0);
}

/* OpenSSL's view of P-256. */
struct ossl256 {
	EC_GROUP *g;
	BN_CTX *ctx;
	BIGNUM *n, *p;
};

static void ossl256_init(struct ossl256 *o)
{
	o->g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	o->ctx = BN_CTX_new();
	o->n = bn_hex(P256_N_HEX);
	o->p = bn_hex(P256_P_HEX);
	assert_non_null(o->g);
	assert_non_null(o->ctx);
}

static void ossl256_free(struct ossl256 *o)
{
	EC_GROUP_free(o->g);
	BN_CTX_free(o->ctx);
	BN_free(o->n);
	BN_free(o->p);
}

/* out = u1 G + u2 Q (Q as 65 bytes, or G when q == NULL); returns 1 for
 * infinity. */
static int ossl_mul2(struct ossl256 *o, const BIGNUM *u1, const BIGNUM *u2, const uint8_t *q,
		     uint8_t out[65])
{
	EC_POINT *Q = EC_POINT_new(o->g), *R = EC_POINT_new(o->g);
	int inf;

	assert_true(EC_POINT_oct2point(o->g, Q, q, 65, o->ctx));
	assert_true(EC_POINT_mul(o->g, R, u1, Q, u2, o->ctx));
	inf = EC_POINT_is_at_infinity(o->g, R);
	if (!inf)
		assert_int_equal(EC_POINT_point2oct(o->g, R, POINT_CONVERSION_UNCOMPRESSED, out, 65,
						    o->ctx), 65);
	EC_POINT_free(Q);
	EC_POINT_free(R);
	return inf;
}

/* The public point d G, 65 bytes. */
static void ossl_pub_of(struct ossl256 *o, const BIGNUM *d, uint8_t out[65])
{
	EC_POINT *R = EC_POINT_new(o->g);

	assert_true(EC_POINT_mul(o->g, R, d, NULL, NULL, o->ctx));
	assert_false(EC_POINT_is_at_infinity(o->g, R));
	assert_int_equal(EC_POINT_point2oct(o->g, R, POINT_CONVERSION_UNCOMPRESSED, out, 65, o->ctx), 65);
	EC_POINT_free(R);
}

static void test_p256_mul2_vs_openssl(void **state)
{
	struct ossl256 o;
	long checks = 0, infs = 0;
	(void)state;

	ossl256_init(&o);
	for (int iter = 0; iter < 1500; iter++) {
		BIGNUM *u[2], *d = BN_new();
		uint8_t ub[2][32], q[65], got[65], want[65];
		int wi, gi;

		/* Q: G, -G, small multiples (+-), or random */
		switch (iter % 5) {
		case 0: assert_true(BN_set_word(d, 1 + prng() % 8)); break;
		case 1: assert_true(BN_sub(d, o.n, BN_value_one())); break;
		case 2: assert_true(BN_set_word(d, 1 + prng() % 8));
			assert_true(BN_sub(d, o.n, d)); break;
		default: assert_true(BN_rand_range(d, o.n)); if (BN_is_zero(d)) BN_one(d); break;
		}
		ossl_pub_of(&o, d, q);
		for (int k = 0; k < 2; k++) {
			u[k] = BN_new();
			switch (prng() % 8) {
			case 0: assert_true(BN_set_word(u[k], prng() % 40)); break;
			case 1: assert_true(BN_sub(u[k], o.n, BN_value_one())); break;
			case 2: assert_true(BN_set_word(u[k], prng() % 40));
				assert_true(BN_sub(u[k], o.n, u[k])); break;
			case 3: edgy(ub[k]); assert_non_null(BN_bin2bn(ub[k], 32, u[k])); break;
			default: assert_true(BN_rand_range(u[k], o.n)); break;
			}
			bn_be32(u[k], ub[k]);
		}
		/* force collisions: u2 Q == +-u1 G and friends */
		if (iter % 7 == 0 && iter % 5 == 0) /* Q = kG: u1 = k u2 -> doubling */
			assert_true(BN_mod_mul(u[0], d, u[1], o.n, o.ctx));
		else if (iter % 7 == 1) { /* u1 = -d u2 -> infinity */
			assert_true(BN_mod_mul(u[0], d, u[1], o.n, o.ctx));
			assert_true(BN_mod_sub(u[0], o.n, u[0], o.n, o.ctx));
		}
		bn_be32(u[0], ub[0]);
		wi = ossl_mul2(&o, u[0], u[1], q, want);
		gi = ahv_p256_test_mul2(ub[0], ub[1], q, got);
		assert_int_equal(gi, wi);
		if (!wi)
			assert_memory_equal(got, want, 65);
		infs += wi;
		checks++;
		BN_free(u[0]);
		BN_free(u[1]);
		BN_free(d);
	}
	/* tiny scalars against tiny multiples: every doubling-in-addition and
	 * cancellation the wNAF ladder can meet at its first steps */
	for (int k = -4; k <= 4; k++) {
		BIGNUM *d, *a, *b;
		uint8_t q[65];
		if (k == 0)
			continue;
		d = BN_new();
		a = BN_new();
		b = BN_new();
		assert_true(BN_set_word(d, (BN_ULONG)(k < 0 ? -k : k)));
		if (k < 0)
			assert_true(BN_sub(d, o.n, d));
		ossl_pub_of(&o, d, q);
		for (int i = 0; i <= 24; i++)
			for (int j = 0; j <= 24; j++) {
				uint8_t ab[32], bb[32], got[65], want[65];
				int wi;
				assert_true(BN_set_word(a, (BN_ULONG)i));
				assert_true(BN_set_word(b, (BN_ULONG)j));
				bn_be32(a, ab);
				bn_be32(b, bb);
				wi = ossl_mul2(&o, a, b, q, want);
				assert_int_equal(ahv_p256_test_mul2(ab, bb, q, got), wi);
				if (!wi)
					assert_memory_equal(got, want, 65);
				infs += wi;
				checks++;
			}
		BN_free(d);
		BN_free(a);
		BN_free(b);
	}
	print_message("      p256 u1*G + u2*Q: %ld results equal to OpenSSL (%ld at infinity)\n", checks, infs);
	ossl256_free(&o);
}

/* ECDSA verdicts: ours (ahv_ecdsa_verify_raw) against OpenSSL's
 * EVP_PKEY_verify, on the same key bytes, digest and r, s. */
struct vstats {
	long total, valid, invalid, badkey;
};

static EVP_PKEY *ossl_pub_from_point(const uint8_t point[65])
{
	static const uint8_t prefix[26] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00 };
	uint8_t der[91];
	const unsigned char *p = der;

	memcpy(der, prefix, 26);
	memcpy(der + 26, point, 65);
	return d2i_PUBKEY(NULL, &p, sizeof(der));
}

static int ossl_verify_rs(const uint8_t point[65], const uint8_t *dig, size_t dlen,
			  const BIGNUM *r, const BIGNUM *s)
{
	EVP_PKEY *pk = ossl_pub_from_point(point);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	unsigned char *der = NULL;
	int der_len, ok = 0;

	assert_non_null(sig);
	assert_true(ECDSA_SIG_set0(sig, BN_dup(r), BN_dup(s)));
	der_len = i2d_ECDSA_SIG(sig, &der);
	assert_true(der_len > 0);
	ok = pk ? openssl_verify(pk, dig, dlen, der, (size_t)der_len) : -1;
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_PKEY_free(pk);
	return ok;
}

/* One verdict; r and s may be any non-negative value (>= 2^256 is not
 * representable in the raw form and is not asked for). */
static void same_verdict_k(struct vstats *st, const uint8_t point[65], const uint8_t *dig, size_t dlen,
			   const BIGNUM *r, const BIGNUM *s, int check_key)
{
	ahv_ec_pub pub;
	uint8_t raw[64];
	int want, got, key_ok;

	pub.curve = AHV_CURVE_P256;
	pub.point_len = 65;
	memcpy(pub.point, point, 65);
	bn_be32(r, raw);
	bn_be32(s, raw + 32);
	want = ossl_verify_rs(point, dig, dlen, r, s);
	got = ahv_ecdsa_verify_raw(&pub, dig, dlen, raw, 64);
	key_ok = want >= 0; /* OpenSSL accepted the point */
	if (want < 0)
		want = 0;
	if (check_key) /* and so do mbedTLS and ours */
		assert_int_equal(ahv_ec_pub_check(&pub) == AHV_CRYPTO_OK, key_ok);
	assert_int_equal(ahv_p256_pub_check(point) == AHV_CRYPTO_OK, key_ok);
	if (!key_ok)
		assert_int_equal(got, AHV_CRYPTO_EBADKEY);
	else if (got != (want ? AHV_CRYPTO_OK : AHV_CRYPTO_EBADSIG)) {
		char *hr = BN_bn2hex(r), *hs = BN_bn2hex(s);
		print_error("verdict differs: ours %d, OpenSSL %d, r=%s s=%s dlen=%zu\n", got, want, hr, hs,
			    dlen);
		OPENSSL_free(hr);
		OPENSSL_free(hs);
		fail();
	}
	st->total++;
	st->valid += want;
	st->invalid += !want && key_ok;
	st->badkey += !key_ok;
}

static void same_verdict(struct vstats *st, const uint8_t point[65], const uint8_t *dig, size_t dlen,
			 const BIGNUM *r, const BIGNUM *s)
{
	same_verdict_k(st, point, dig, dlen, r, s, 0);
}

/* r, s of a DER signature. */
static void rs_of_der(const uint8_t *der, size_t len, BIGNUM **r, BIGNUM **s)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);

	assert_non_null(sig);
	*r = BN_dup(ECDSA_SIG_get0_r(sig));
	*s = BN_dup(ECDSA_SIG_get0_s(sig));
	ECDSA_SIG_free(sig);
}

/* Every mutation of one (key, digest, r, s) that must verify. */
static void mutations(struct vstats *st, struct ossl256 *o, const uint8_t point[65],
		      const uint8_t *dig, size_t dlen, const BIGNUM *r, const BIGNUM *s)
{
	BIGNUM *t = BN_new(), *u = BN_new();
	uint8_t d2[64], p2[65];
	int bit;

	same_verdict(st, point, dig, dlen, r, s);                      /* as is: valid */
	assert_true(BN_sub(t, o->n, s));
	same_verdict(st, point, dig, dlen, r, t);                      /* (r, n - s): valid too */
	/* flipped bits */
	assert_true(BN_copy(t, r) != NULL);
	bit = (int)(prng() % 256);
	assert_true(BN_is_bit_set(t, bit) ? BN_clear_bit(t, bit) : BN_set_bit(t, bit));
	same_verdict(st, point, dig, dlen, t, s);
	assert_true(BN_copy(t, s) != NULL);
	bit = (int)(prng() % 256);
	assert_true(BN_is_bit_set(t, bit) ? BN_clear_bit(t, bit) : BN_set_bit(t, bit));
	same_verdict(st, point, dig, dlen, r, t);
	memcpy(d2, dig, dlen);
	d2[prng() % dlen] ^= (uint8_t)(1u << (prng() % 8));
	same_verdict(st, point, d2, dlen, r, s);
	memcpy(p2, point, 65);
	p2[1 + prng() % 64] ^= (uint8_t)(1u << (prng() % 8));          /* almost surely off the curve */
	same_verdict_k(st, p2, dig, dlen, r, s, 1);
	memcpy(p2, point, 65);
	p2[0] = 0x05;
	{
		ahv_ec_pub pub = { AHV_CURVE_P256, 65, { 0 } };
		uint8_t raw[64];
		memcpy(pub.point, p2, 65);
		bn_be32(r, raw);
		bn_be32(s, raw + 32);
		assert_int_equal(ahv_ecdsa_verify_raw(&pub, dig, dlen, raw, 64), AHV_CRYPTO_EBADKEY);
	}
	/* the other coordinate set to p - y: the negated key, on the curve */
	memcpy(p2, point, 65);
	assert_non_null(BN_bin2bn(point + 33, 32, t));
	assert_true(BN_sub(t, o->p, t));
	bn_be32(t, p2 + 33);
	same_verdict_k(st, p2, dig, dlen, r, s, 1);
	/* r, s at and beyond the range limits */
	BN_zero(t);
	same_verdict(st, point, dig, dlen, t, s);
	same_verdict(st, point, dig, dlen, r, t);
	same_verdict(st, point, dig, dlen, o->n, s);
	same_verdict(st, point, dig, dlen, r, o->n);
	assert_true(BN_sub(t, o->n, BN_value_one()));
	same_verdict(st, point, dig, dlen, t, s);
	same_verdict(st, point, dig, dlen, r, t);
	same_verdict(st, point, dig, dlen, o->p, s);
	same_verdict(st, point, dig, dlen, r, o->p);
	assert_true(BN_sub(t, o->p, BN_value_one()));
	same_verdict(st, point, dig, dlen, t, s);
	assert_true(BN_add(t, r, o->n));                                 /* r + n: same residue */
	if (BN_num_bits(t) <= 256)
		same_verdict(st, point, dig, dlen, t, s);
	assert_true(BN_add(t, s, o->n));
	if (BN_num_bits(t) <= 256)
		same_verdict(st, point, dig, dlen, r, t);
	BN_zero(u);
	assert_true(BN_set_bit(u, 256));
	assert_true(BN_sub_word(u, 1));                                  /* 2^256 - 1 */
	same_verdict(st, point, dig, dlen, u, s);
	same_verdict(st, point, dig, dlen, r, u);
	same_verdict(st, point, dig, dlen, s, r);                        /* swapped */
	BN_free(t);
	BN_free(u);
}

static size_t pick_dlen(void)
{
	static const size_t lens[] = { 32, 32, 48, 64, 1, 20, 31, 33, 47, 63 };
	return lens[prng() % (sizeof(lens) / sizeof(lens[0]))];
}

/* e of a digest as OpenSSL and FIPS 186-5 see it (leftmost 256 bits). */
static void digest_of_e(const BIGNUM *e, uint8_t *dig, size_t dlen)
{
	/* dlen 32 exactly: the digest is e itself */
	assert_int_equal(dlen, 32);
	bn_be32(e, dig);
}

/* A signature made to verify with chosen u1, u2 against the key d G:
 * R = (u1 + d u2) G, r = x(R) mod n, s = r / u2, e = u1 s. Returns 0 when R is
 * infinity or r == 0 (nothing to make). */
static int craft(struct ossl256 *o, const BIGNUM *d, const BIGNUM *u1, const BIGNUM *u2, BIGNUM *r,
		 BIGNUM *s, uint8_t dig[32])
{
	BIGNUM *k = BN_new(), *e = BN_new(), *x = BN_new(), *i = BN_new();
	EC_POINT *R = EC_POINT_new(o->g);
	int ok = 0;

	assert_true(BN_mod_mul(k, d, u2, o->n, o->ctx));
	assert_true(BN_mod_add(k, k, u1, o->n, o->ctx));
	assert_true(EC_POINT_mul(o->g, R, k, NULL, NULL, o->ctx));
	if (!EC_POINT_is_at_infinity(o->g, R)) {
		assert_true(EC_POINT_get_affine_coordinates(o->g, R, x, NULL, o->ctx));
		assert_true(BN_nnmod(r, x, o->n, o->ctx));
		if (!BN_is_zero(r)) {
			assert_non_null(BN_mod_inverse(i, u2, o->n, o->ctx));
			assert_true(BN_mod_mul(s, r, i, o->n, o->ctx));
			assert_true(BN_mod_mul(e, u1, s, o->n, o->ctx));
			digest_of_e(e, dig, 32);
			ok = 1;
		}
	}
	EC_POINT_free(R);
	BN_free(k);
	BN_free(e);
	BN_free(x);
	BN_free(i);
	return ok;
}

static void test_p256_verify_differential(void **state)
{
	struct ossl256 o;
	struct vstats st = { 0 };
	long from_openssl = 0, from_ours = 0, crafted = 0, at_inf = 0, high_x = 0;
	(void)state;

	ossl256_init(&o);
	/* signatures from OpenSSL (random keys) and from ahv_ecdsa_sign_raw */
	for (int iter = 0; iter < 500; iter++) {
		uint8_t dig[64], point[65];
		size_t dlen = pick_dlen();
		BIGNUM *r = NULL, *s = NULL;

		if (iter % 10 == 0)
			memset(dig, 0, sizeof(dig));
		else
			fill(dig, sizeof(dig));
		if (iter % 2 == 0) {
			EVP_PKEY *sk = NULL;
			EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *sc;
			unsigned char der[128];
			size_t dl = sizeof(der), pl = 0;

			assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
			assert_int_equal(EVP_PKEY_CTX_set_group_name(kc, "P-256"), 1);
			assert_int_equal(EVP_PKEY_keygen(kc, &sk), 1);
			assert_int_equal(EVP_PKEY_get_octet_string_param(sk, OSSL_PKEY_PARAM_PUB_KEY, point,
									 sizeof(point), &pl), 1);
			assert_int_equal(pl, 65);
			sc = EVP_PKEY_CTX_new(sk, NULL);
			assert_int_equal(EVP_PKEY_sign_init(sc), 1);
			assert_int_equal(EVP_PKEY_sign(sc, der, &dl, dig, dlen), 1);
			rs_of_der(der, dl, &r, &s);
			EVP_PKEY_CTX_free(sc);
			EVP_PKEY_CTX_free(kc);
			EVP_PKEY_free(sk);
			from_openssl++;
		} else {
			ahv_ec_key key;
			uint8_t raw[64];
			size_t rl = 0;

			assert_int_equal(ahv_ec_keygen(AHV_CURVE_P256, &hw_rng, &key), AHV_CRYPTO_OK);
			assert_int_equal(ahv_ecdsa_sign_raw(&key, &hw_rng, dig, dlen, raw, sizeof(raw), &rl),
					 AHV_CRYPTO_OK);
			memcpy(point, key.pub.point, 65);
			r = BN_bin2bn(raw, 32, NULL);
			s = BN_bin2bn(raw + 32, 32, NULL);
			ahv_ec_key_wipe(&key);
			from_ours++;
		}
		mutations(&st, &o, point, dig, dlen, r, s);
		BN_free(r);
		BN_free(s);
	}
	/* crafted: chosen u1, u2 on keys d = +-1..6 (doubling inside the
	 * addition, cancellation to infinity at any step), u1 = 0 (digest 0),
	 * and e = -r d (R at infinity) on random keys */
	for (int k = -4; k <= 4; k++) {
		BIGNUM *d, *u1, *u2, *r, *s;
		uint8_t point[65], dig[32];
		if (k == 0)
			continue;
		d = BN_new(); u1 = BN_new(); u2 = BN_new(); r = BN_new(); s = BN_new();
		assert_true(BN_set_word(d, (BN_ULONG)(k < 0 ? -k : k)));
		if (k < 0)
			assert_true(BN_sub(d, o.n, d));
		ossl_pub_of(&o, d, point);
		for (int i = 0; i <= 16; i++)
			for (int j = 1; j <= 16; j++) {
				assert_true(BN_set_word(u1, (BN_ULONG)i));
				assert_true(BN_set_word(u2, (BN_ULONG)j));
				if (craft(&o, d, u1, u2, r, s, dig)) {
					same_verdict(&st, point, dig, 32, r, s); /* valid */
					crafted++;
				} else {
					/* R at infinity: e = u1 s, r = u2 s for any s */
					assert_true(BN_set_word(s, 1 + prng() % 1000));
					assert_true(BN_mod_mul(r, u2, s, o.n, o.ctx));
					assert_true(BN_mod_mul(u1, u1, s, o.n, o.ctx));
					digest_of_e(u1, dig, 32);
					same_verdict(&st, point, dig, 32, r, s);
					at_inf++;
				}
			}
		BN_free(d); BN_free(u1); BN_free(u2); BN_free(r); BN_free(s);
	}
	for (int iter = 0; iter < 200; iter++) {
		BIGNUM *d = BN_new(), *r = BN_new(), *s = BN_new(), *e = BN_new(), *u1 = BN_new(),
		       *u2 = BN_new();
		uint8_t point[65], dig[32];

		assert_true(BN_rand_range(d, o.n));
		if (BN_is_zero(d))
			BN_one(d);
		ossl_pub_of(&o, d, point);
		assert_true(BN_rand_range(r, o.n));
		assert_true(BN_rand_range(s, o.n));
		if (BN_is_zero(r)) BN_one(r);
		if (BN_is_zero(s)) BN_one(s);
		/* e = -r d: u1 G + u2 Q = (e + r d) / s G = infinity */
		assert_true(BN_mod_mul(e, r, d, o.n, o.ctx));
		assert_true(BN_mod_sub(e, o.n, e, o.n, o.ctx));
		digest_of_e(e, dig, 32);
		same_verdict(&st, point, dig, 32, r, s);
		at_inf++;
		/* random large u1 = u2 on Q = G style keys: a valid crafted one */
		assert_true(BN_rand_range(u1, o.n));
		assert_true(BN_rand_range(u2, o.n));
		if (BN_is_zero(u2)) BN_one(u2);
		if (craft(&o, d, u1, u2, r, s, dig)) {
			same_verdict(&st, point, dig, 32, r, s);
			crafted++;
		}
		BN_free(d); BN_free(r); BN_free(s); BN_free(e); BN_free(u1); BN_free(u2);
	}
	/* x(R) in [n, p): the signature's r is x(R) - n (the branch no random
	 * signature reaches: probability ~2^-128). Pick such an R, any s and e,
	 * then the key Q = u2^-1 (R - u1 G) (its discrete log is not needed). */
	for (int iter = 0; iter < 40; iter++) {
		BIGNUM *x = BN_new(), *r = BN_new(), *s = BN_new(), *e = BN_new(), *u1 = BN_new(),
		       *u2 = BN_new(), *t = BN_new();
		EC_POINT *R = EC_POINT_new(o.g), *Q = EC_POINT_new(o.g);
		uint8_t point[65], dig[32];

		assert_true(BN_rand(t, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY));
		assert_true(BN_add(x, o.n, t));
		while (!EC_POINT_set_compressed_coordinates(o.g, R, x, (int)(prng() & 1), o.ctx))
			assert_true(BN_add_word(x, 1));
		assert_true(BN_cmp(x, o.n) >= 0 && BN_cmp(x, o.p) < 0);
		assert_true(BN_sub(r, x, o.n));
		assert_true(BN_rand_range(s, o.n));
		assert_true(BN_rand_range(e, o.n));
		if (BN_is_zero(s)) BN_one(s);
		assert_non_null(BN_mod_inverse(t, s, o.n, o.ctx));
		assert_true(BN_mod_mul(u1, e, t, o.n, o.ctx));
		assert_true(BN_mod_mul(u2, r, t, o.n, o.ctx));
		/* Q = u2^-1 (R - u1 G) */
		assert_true(BN_mod_sub(t, o.n, u1, o.n, o.ctx));
		assert_true(EC_POINT_mul(o.g, Q, t, NULL, NULL, o.ctx));
		assert_true(EC_POINT_add(o.g, Q, Q, R, o.ctx));
		assert_non_null(BN_mod_inverse(t, u2, o.n, o.ctx));
		assert_true(EC_POINT_mul(o.g, Q, NULL, Q, t, o.ctx));
		assert_int_equal(EC_POINT_point2oct(o.g, Q, POINT_CONVERSION_UNCOMPRESSED, point, 65, o.ctx), 65);
		digest_of_e(e, dig, 32);
		same_verdict(&st, point, dig, 32, r, s);   /* valid */
		high_x++;
		same_verdict(&st, point, dig, 32, x, s);   /* r = x(R) itself: >= n, out of range */
		dig[31] ^= 1;
		same_verdict(&st, point, dig, 32, r, s);   /* another digest */
		BN_free(x); BN_free(r); BN_free(s); BN_free(e); BN_free(u1); BN_free(u2); BN_free(t);
		EC_POINT_free(R);
		EC_POINT_free(Q);
	}
	print_message("      p256 verify vs OpenSSL: %ld verdicts equal (%ld valid, %ld invalid, %ld bad key);\n"
		      "      signed by OpenSSL %ld, by ahv_ecdsa_sign_raw %ld; crafted valid %ld, "
		      "crafted R = infinity %ld, crafted x(R) >= n %ld\n",
		      st.total, st.valid, st.invalid, st.badkey, from_openssl, from_ours, crafted, at_inf,
		      high_x);
	assert_true(st.valid > 1000 && st.invalid > 5000 && st.badkey > 250 && at_inf > 200 &&
		    high_x == 40);
	ossl256_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_all),
		cmocka_unit_test(test_kat_portable_sha256),
		cmocka_unit_test(test_hash_vs_openssl),
		cmocka_unit_test(test_sha256_shani_equals_portable),
		cmocka_unit_test(test_hash_bad_args),
		cmocka_unit_test(test_ecdsa_cross_openssl),
		cmocka_unit_test(test_ecdsa_rejections),
		cmocka_unit_test(test_spki),
		cmocka_unit_test(test_drbg_reseeding),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_p256_arith_vs_bn),
		cmocka_unit_test(test_p256_table),
		cmocka_unit_test(test_p256_mul2_vs_openssl),
		cmocka_unit_test(test_p256_verify_differential),
	};
	return cmocka_run_group_tests(tests, setup_rng, teardown_rng);
}
