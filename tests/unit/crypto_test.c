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
	};
	return cmocka_run_group_tests(tests, setup_rng, teardown_rng);
}
