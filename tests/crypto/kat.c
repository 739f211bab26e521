/*
 * kat.c - known-answer vectors. Hash digests are the FIPS 180-4 / FIPS 202
 * example messages (NIST CSRC "Examples with intermediate values"): empty,
 * "abc", the 448- and 896-bit messages and one million 'a' (fed in chunks
 * that cross block boundaries). The HMAC_DRBG vector was computed with an
 * independent SP 800-90A 10.1.2 implementation over Python's hmac module;
 * the ECDSA vectors were signed by OpenSSL 3.0.
 */
#include <string.h>
#include "kat.h"
#include "ahv/hex.h"

struct hash_kat {
	const char *name;
	const char *msg;  /* NULL: one million 'a' */
	const char *digest[6]; /* by ahv_hash_alg - 1 */
};

static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
			   "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static const struct hash_kat hash_kats[] = {
	{ "empty", "", {
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	  "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
	  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
	  "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
	  "0c63a75b845e4f7d01107d852e4c2485c51a50aaaa94fc61995e71bbee983a2ac3713831264adb47fb6bd1e058d5f004",
	  "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26" } },
	{ "abc", "abc", {
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	  "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
	  "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25",
	  "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0" } },
	{ "448-bit", m448, {
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	  "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b",
	  "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
	  "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376",
	  "991c665755eb3a4b6bbdfb75c78a492e8c56a22c5c4d7e429bfdbc32b9d4ad5aa04a1f076e62fea19eef51acd0657c22",
	  "04a371e84ecfb5b8b77cb48610fca8182dd457ce6f326a0fd3d7ec2f1e91636dee691fbe0c985302ba1b0d8dc78c086346b533b49c030d99a27daf1139d6e75e" } },
	{ "896-bit", m896, {
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
	  "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039",
	  "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
	  "916f6061fe879741ca6469b43971dfdb28b1a32dc36cb3254e812be27aad1d18",
	  "79407d3b5916b59c3e30b09822974791c313fb9ecc849e406f23592d04f625dc8c709b98b43b3852b337216179aa7fc7",
	  "afebb2ef542e6579c50cad06d2e578f9f8dd6881d7dc824d26360feebf18a4fa73e3261122948efcfd492e74e82e2189ed0fb440d187f382270cb455f21dd185" } },
	{ "million-a", NULL, {
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	  "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985",
	  "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
	  "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1",
	  "eee9e24d78c1855337983451df97c8ad9eedf256c6334f8e948d252d5e0e76847aa0774ddb90a842190d2c558b4b8340",
	  "3c3a876da14034ab60627c077bb98f7e120a2a5370212dffb3385a18d4f38859ed311d0a9d5141ce9cc5c66ee689b266a8aa18ace8282a0e0db596c90b0a7b87" } },
};

int ahv_kat_unhex(const char *hex, uint8_t *out, size_t cap)
{
	return (int)ahv_hex_decode(hex, strlen(hex), out, cap);
}

static int check(ahv_kat_report_fn report, void *arg, const char *group, const char *name, int ok)
{
	if (report)
		report(arg, group, name, ok);
	return ok ? 0 : 1;
}

/* One million 'a' streamed in 997-byte pieces (a prime, so updates end at
 * every offset within a block). */
static int hash_million_a(ahv_hash_alg alg, uint8_t *out)
{
	static const char a997[997] = { [0 ... 996] = 'a' };
	ahv_hash_ctx ctx;
	size_t left = 1000000;
	int rc = ahv_hash_init(&ctx, alg);

	while (rc == AHV_CRYPTO_OK && left) {
		size_t n = left < sizeof(a997) ? left : sizeof(a997);
		rc = ahv_hash_update(&ctx, a997, n);
		left -= n;
	}
	if (rc == AHV_CRYPTO_OK)
		return ahv_hash_final(&ctx, out);
	ahv_hash_abort(&ctx);
	return rc;
}

int ahv_kat_hashes(ahv_kat_report_fn report, void *arg)
{
	int fails = 0;

	for (size_t i = 0; i < sizeof(hash_kats) / sizeof(hash_kats[0]); i++) {
		const struct hash_kat *k = &hash_kats[i];
		for (int a = AHV_HASH_SHA256; a <= AHV_HASH_SHA3_512; a++) {
			uint8_t want[AHV_HASH_MAX_SIZE], got[AHV_HASH_MAX_SIZE];
			int n = ahv_kat_unhex(k->digest[a - 1], want, sizeof(want));
			int rc = k->msg ? ahv_hash((ahv_hash_alg)a, k->msg, strlen(k->msg), got)
					: hash_million_a((ahv_hash_alg)a, got);
			fails += check(report, arg, ahv_hash_name((ahv_hash_alg)a), k->name,
				       rc == AHV_CRYPTO_OK && n == (int)ahv_hash_size((ahv_hash_alg)a) &&
				       memcmp(want, got, (size_t)n) == 0);
		}
	}
	return fails;
}

/* ---- HMAC_DRBG-SHA-256 (SP 800-90A 10.1.2) -------------------------------------
 * Entropy source: byte i of the stream is (7 * i + 1) mod 256. */
struct counter_src {
	uint32_t next;
};

static int counter_entropy(void *arg, uint8_t *out, size_t len)
{
	struct counter_src *s = arg;

	for (size_t i = 0; i < len; i++, s->next++)
		out[i] = (uint8_t)(s->next * 7 + 1);
	return 0;
}

static const char drbg_out1[] =
	"9d9a2a68296bd5cde47539d06b5bbd1ee7f0d97c64a106abe5c23ea54dd6dfd7804addbe9e8a705b";
static const char drbg_out2[] =
	"402153dd7b1786e600e9ccdb71b920660329c4e680e93884fe99bcfb6b7bb6f0"
	"767ffe32e0d2a6ae569491ddb7f19e0bc18e108d05179fc2715f2ad06cfa7bf5";

int ahv_kat_drbg(ahv_kat_report_fn report, void *arg)
{
	struct counter_src src = { 0 };
	static const char pers[] = "attest-hv kat";
	static const char add[] = "reseed-additional";
	uint8_t want[64], got[64];
	ahv_drbg d;
	int fails = 0, rc;

	rc = ahv_drbg_init(&d, 0, counter_entropy, &src, pers, sizeof(pers) - 1);
	fails += check(report, arg, "drbg", "instantiate", rc == AHV_CRYPTO_OK);
	if (rc != AHV_CRYPTO_OK)
		return fails;
	rc = ahv_drbg_generate(&d, got, 40);
	fails += check(report, arg, "drbg", "generate-40",
		       rc == AHV_CRYPTO_OK && ahv_kat_unhex(drbg_out1, want, sizeof(want)) == 40 &&
		       memcmp(want, got, 40) == 0);
	fails += check(report, arg, "drbg", "counter-after-generate", ahv_drbg_reseed_counter(&d) == 1);
	rc = ahv_drbg_reseed(&d, add, sizeof(add) - 1);
	fails += check(report, arg, "drbg", "counter-after-reseed",
		       rc == AHV_CRYPTO_OK && ahv_drbg_reseed_counter(&d) == 0);
	rc = ahv_drbg_generate(&d, got, 64);
	fails += check(report, arg, "drbg", "reseed-generate-64",
		       rc == AHV_CRYPTO_OK && ahv_kat_unhex(drbg_out2, want, sizeof(want)) == 64 &&
		       memcmp(want, got, 64) == 0);
	ahv_drbg_free(&d);
	return fails;
}

/* ---- ECDSA verification vectors (OpenSSL 3.0 signatures) ------------------------ */
struct ecdsa_kat {
	const char *name;
	ahv_curve curve;
	ahv_hash_alg hash;
	const char *spki;
	const char *sig_der;
};

static const char ecdsa_msg[] = "attest-hv ecdsa kat";

static const struct ecdsa_kat ecdsa_kats[] = {
	{ "p256-sha256", AHV_CURVE_P256, AHV_HASH_SHA256,
	  "3059301306072a8648ce3d020106082a8648ce3d0301070342000415a593722aeeda6d07b24ff31818ebd67b"
	  "67f1ea1099d5b52c28c8d08b92d4c2c07869316ac76e25a0f690e5b18d23d557e116aed7203e57cdd932cf1d1c2b66",
	  "304502210089b2568002288856c127ffb8d3d2fe7d2e323d32651ad42cdad58610e205c0be022027f2a87960e4"
	  "0af52eeab3ada4584763ab394cb8a0ecaaefd769d03d452e169d" },
	{ "p384-sha384", AHV_CURVE_P384, AHV_HASH_SHA384,
	  "3076301006072a8648ce3d020106052b810400220362000455c4e1ce4510d27456f9c1a5e74c8ddc10c90b9c9c"
	  "036bb05890ccd803c9233bca034185846e5fa55c665afc72a3ab2098e5f7b49f11baa40e43f8a320b6a84277e6"
	  "f27965e5eb1b1392772efb5c6d833d6983572101675623ed5f9406283456",
	  "3065023100ce1516d63d8d0330b9e3078ab7881d3013df26cc9c84e63b708ad983a26e087949e50b565b0bf8c4"
	  "a6b38b9bdb3dc57b02306e909d4e8e96181c70bb2093256a6fe039c2fd02057ce76a0b2bf19bc0cf9681dd865d"
	  "f7d5916ffb07226e9280608867" },
};

int ahv_kat_ecdsa_verify(ahv_kat_report_fn report, void *arg)
{
	int fails = 0;

	for (size_t i = 0; i < sizeof(ecdsa_kats) / sizeof(ecdsa_kats[0]); i++) {
		const struct ecdsa_kat *k = &ecdsa_kats[i];
		uint8_t spki[AHV_SPKI_MAX_DER], der[AHV_EC_MAX_SIG_DER], raw[AHV_EC_MAX_SIG_RAW];
		uint8_t dig[AHV_HASH_MAX_SIZE];
		size_t raw_len = 0, dlen = ahv_hash_size(k->hash);
		int spki_len = ahv_kat_unhex(k->spki, spki, sizeof(spki));
		int der_len = ahv_kat_unhex(k->sig_der, der, sizeof(der));
		ahv_ec_pub pub;
		int ok;

		ok = spki_len > 0 && der_len > 0 &&
		     ahv_spki_read_der(spki, (size_t)spki_len, &pub) == AHV_CRYPTO_OK &&
		     pub.curve == (uint32_t)k->curve &&
		     ahv_hash(k->hash, ecdsa_msg, sizeof(ecdsa_msg) - 1, dig) == AHV_CRYPTO_OK;
		fails += check(report, arg, "ecdsa-kat", k->name, ok &&
			       ahv_ecdsa_verify_der(&pub, dig, dlen, der, (size_t)der_len) == AHV_CRYPTO_OK);
		fails += check(report, arg, "ecdsa-kat-raw", k->name, ok &&
			       ahv_ecdsa_sig_der_to_raw(k->curve, der, (size_t)der_len, raw, sizeof(raw),
							&raw_len) == AHV_CRYPTO_OK &&
			       ahv_ecdsa_verify_raw(&pub, dig, dlen, raw, raw_len) == AHV_CRYPTO_OK);
		/* The same signature over another digest must fail. */
		dig[0] ^= 1;
		fails += check(report, arg, "ecdsa-kat-reject", k->name, ok &&
			       ahv_ecdsa_verify_der(&pub, dig, dlen, der, (size_t)der_len) == AHV_CRYPTO_EBADSIG);
	}
	return fails;
}

int ahv_kat_ecdsa_roundtrip(ahv_drbg *rng, ahv_kat_report_fn report, void *arg)
{
	static const ahv_curve curves[] = { AHV_CURVE_P256, AHV_CURVE_P384 };
	int fails = 0;

	for (size_t i = 0; i < 2; i++) {
		const char *name = curves[i] == AHV_CURVE_P256 ? "p256" : "p384";
		uint8_t dig[32], sig[AHV_EC_MAX_SIG_RAW];
		size_t sig_len = 0;
		ahv_ec_key key, other;
		int ok;

		ok = ahv_ec_keygen(curves[i], rng, &key) == AHV_CRYPTO_OK &&
		     ahv_ec_keygen(curves[i], rng, &other) == AHV_CRYPTO_OK &&
		     ahv_hash(AHV_HASH_SHA256, name, 4, dig) == AHV_CRYPTO_OK &&
		     ahv_ecdsa_sign_raw(&key, rng, dig, sizeof(dig), sig, sizeof(sig), &sig_len) == AHV_CRYPTO_OK;
		fails += check(report, arg, "ecdsa-roundtrip", name, ok &&
			       ahv_ecdsa_verify_raw(&key.pub, dig, sizeof(dig), sig, sig_len) == AHV_CRYPTO_OK);
		fails += check(report, arg, "ecdsa-wrong-key", name, ok &&
			       ahv_ecdsa_verify_raw(&other.pub, dig, sizeof(dig), sig, sig_len) == AHV_CRYPTO_EBADSIG);
		sig[sig_len - 1] ^= 0x80;
		fails += check(report, arg, "ecdsa-altered-sig", name, ok &&
			       ahv_ecdsa_verify_raw(&key.pub, dig, sizeof(dig), sig, sig_len) == AHV_CRYPTO_EBADSIG);
		ahv_ec_key_wipe(&key);
		ahv_ec_key_wipe(&other);
	}
	return fails;
}

int ahv_kat_all(ahv_drbg *rng, ahv_kat_report_fn report, void *arg)
{
	int fails = ahv_kat_hashes(report, arg);

	fails += ahv_kat_drbg(report, arg);
	fails += ahv_kat_ecdsa_verify(report, arg);
	if (rng)
		fails += ahv_kat_ecdsa_roundtrip(rng, report, arg);
	return fails;
}
