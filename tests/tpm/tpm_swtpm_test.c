/*
 * tpm_swtpm_test.c - the TPM library against a real TPM 2.0 (swtpm), label
 * unit. Each test gets its own swtpm with a fresh state directory, sends
 * TPM2_Startup itself and simulates the boot's measurements with PCR
 * extends. No timing assertions; only generous I/O timeouts.
 *
 * usage: tpm_swtpm_test /path/to/swtpm   (exit 77 = skipped: no swtpm)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ahv/crypto.h"
#include "ahv/tpm_commands.h"
#include "ahv/tpm_seal.h"
#include "swtpm_transport.h"
#include "tpm_test_util.h"

static const char *swtpm_bin;
static struct swtpm sw;
static struct ahv_tpm tpm;

/* A transport that remembers the last response (for the mutation test). */
static uint8_t last_rsp[AHV_TPM_BUF_SIZE];
static size_t last_len;
static int recording_submit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			    size_t rsp_cap, size_t *rsp_len)
{
	int r = swtpm_submit(ctx, cmd, cmd_len, rsp, rsp_cap, rsp_len);
	if (r == 0) {
		memcpy(last_rsp, rsp, *rsp_len);
		last_len = *rsp_len;
	}
	return r;
}

static void boot_tpm(void)
{
	assert_int_equal(swtpm_start(&sw, swtpm_bin), 0);
	ahv_tpm_init(&tpm, recording_submit, &sw);
	assert_int_equal(ahv_tpm_startup(&tpm, TPM_SU_CLEAR), AHV_TPM_OK);
}

static int setup(void **st)
{
	(void)st;
	memset(&sw, 0, sizeof(sw));
	boot_tpm();
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	swtpm_destroy(&sw);
	return 0;
}

/* What firmware and the loader do: extend a PCR with SHA-256(text). */
static void measure(unsigned pcr, const char *text)
{
	uint8_t d[32];
	assert_int_equal(ahv_hash(AHV_HASH_SHA256, text, strlen(text), d), AHV_CRYPTO_OK);
	assert_int_equal(ahv_tpm_pcr_extend(&tpm, pcr, d), AHV_TPM_OK);
}

static void measure_boot(const char *image, const char *config)
{
	measure(AHV_TPM_PCR_FIRMWARE, "OVMF firmware volume");
	measure(AHV_TPM_PCR_HV_IMAGE, image);
	measure(AHV_TPM_PCR_HV_CONFIG, config);
}

static const uint8_t secret[32] = "hypervisor ECDSA P-256 scalar..";

static size_t seal_now(uint8_t *blob, enum ahv_tpm_key_template parent)
{
	size_t len = 0;
	assert_int_equal(ahv_tpm_seal(&tpm, parent, AHV_TPM_SEAL_PCRS_DEFAULT, NULL, secret,
				      sizeof(secret), blob, AHV_TPM_BLOB_MAX, &len), AHV_TPM_OK);
	assert_true(len > AHV_TPM_BLOB_HEADER && len <= AHV_TPM_BLOB_MAX);
	return len;
}

static int unseal_now(const uint8_t *blob, size_t len)
{
	uint8_t out[AHV_TPM_SECRET_MAX];
	size_t n = 0;
	int err = ahv_tpm_unseal(&tpm, blob, len, out, sizeof(out), &n);
	if (err == AHV_TPM_OK) {
		assert_int_equal(n, sizeof(secret));
		assert_memory_equal(out, secret, sizeof(secret));
	}
	return err;
}

/* ---- tests ------------------------------------------------------------------ */
static void test_startup_and_random(void **st)
{
	(void)st;
	uint8_t a[100], b[100], zero[100] = { 0 };
	/* already started */
	assert_int_equal(ahv_tpm_startup(&tpm, TPM_SU_CLEAR), AHV_TPM_ERC);
	assert_int_equal(ahv_tpm_rc_base(tpm.last_rc), TPM_RC_INITIALIZE);
	assert_int_equal(ahv_tpm_get_random(&tpm, a, sizeof(a)), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_get_random(&tpm, b, sizeof(b)), AHV_TPM_OK);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
}

static void test_pcr_extend_matches_software(void **st)
{
	(void)st;
	ahv_tpm_pcr_values v, w;
	uint8_t d[32], want[32];
	uint32_t ten = 0x3FF | (1u << 16); /* 11 PCRs: two PCR_Read rounds */

	assert_int_equal(ahv_tpm_pcr_read(&tpm, ten, v), AHV_TPM_OK);
	memcpy(want, v[8], 32);
	for (int i = 0; i < 3; i++) {
		memset(d, 0x40 + i, sizeof(d));
		assert_int_equal(ahv_tpm_pcr_extend(&tpm, 8, d), AHV_TPM_OK);
		assert_int_equal(ahv_tpm_pcr_extend_sw(want, d, want), AHV_TPM_OK);
	}
	assert_int_equal(ahv_tpm_pcr_read(&tpm, ten, w), AHV_TPM_OK);
	assert_memory_equal(w[8], want, 32);
	for (unsigned pcr = 0; pcr < 24; pcr++)
		if ((ten & (1u << pcr)) && pcr != 8)
			assert_memory_equal(w[pcr], v[pcr], 32);
	assert_int_equal(ahv_tpm_pcr_extend(&tpm, 24, d), AHV_TPM_EINVAL);
}

static void test_policy_digest_matches_tpm(void **st)
{
	(void)st;
	ahv_tpm_pcr_values v;
	uint8_t nonce[16], sw_digest[32], trial[32], real[32];
	uint32_t s;

	measure_boot("attest-hv.efi v1", "config v1");
	assert_int_equal(ahv_tpm_pcr_read(&tpm, AHV_TPM_SEAL_PCRS_DEFAULT, v), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_policy_pcr_digest(NULL, AHV_TPM_SEAL_PCRS_DEFAULT,
						   (const uint8_t (*)[32])v, sw_digest), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_get_random(&tpm, nonce, sizeof(nonce)), AHV_TPM_OK);
	for (int trial_session = 1; trial_session >= 0; trial_session--) {
		uint8_t *out = trial_session ? trial : real;
		assert_int_equal(ahv_tpm_start_policy_session(&tpm, trial_session, nonce,
							      sizeof(nonce), &s), AHV_TPM_OK);
		assert_int_equal(s >> 24, TPM_HT_POLICY_SESSION);
		assert_int_equal(ahv_tpm_policy_pcr(&tpm, s, AHV_TPM_SEAL_PCRS_DEFAULT), AHV_TPM_OK);
		assert_int_equal(ahv_tpm_policy_get_digest(&tpm, s, out), AHV_TPM_OK);
		assert_int_equal(ahv_tpm_flush(&tpm, s), AHV_TPM_OK);
	}
	assert_memory_equal(trial, sw_digest, 32);
	assert_memory_equal(real, sw_digest, 32);
	/* and a single-PCR, high-index selection */
	assert_int_equal(ahv_tpm_pcr_read(&tpm, 1u << 23, v), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_policy_pcr_digest(NULL, 1u << 23, (const uint8_t (*)[32])v,
						   sw_digest), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_start_policy_session(&tpm, 1, nonce, sizeof(nonce), &s), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_policy_pcr(&tpm, s, 1u << 23), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_policy_get_digest(&tpm, s, trial), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_flush(&tpm, s), AHV_TPM_OK);
	assert_memory_equal(trial, sw_digest, 32);
}

static void test_seal_unseal_ecc(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX];
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_ECC);
	/* repeatedly: a leaked object or session would exhaust swtpm's 3 slots */
	for (int i = 0; i < 6; i++)
		assert_int_equal(unseal_now(blob, len), AHV_TPM_OK);
}

static void test_seal_unseal_rsa(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX];
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_RSA);
	assert_int_equal(unseal_now(blob, len), AHV_TPM_OK);
}

static void test_unseal_fails_when_pcrs_change(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX];
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_ECC);
	assert_int_equal(unseal_now(blob, len), AHV_TPM_OK);
	measure(AHV_TPM_PCR_HV_IMAGE, "something else loaded");
	for (int i = 0; i < 5; i++) /* and no handle leaks on the failure path */
		assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
	/* a PCR outside the policy does not matter */
	measure(9, "unrelated");
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
}

static void test_unseal_policy_fail_from_tpm(void **st)
{
	(void)st;
	/* Bypass the library's PolicyGetDigest pre-check: satisfy PolicyPCR on
	 * the changed PCRs and let the TPM itself refuse TPM2_Unseal. */
	uint8_t blob[AHV_TPM_BLOB_MAX], nonce[16], out[128];
	struct ahv_tpm_blob b;
	uint32_t primary, item, s;
	size_t n;
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_ECC);
	measure(AHV_TPM_PCR_HV_CONFIG, "config v2");
	assert_int_equal(ahv_tpm_blob_read(blob, len, &b), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_create_primary(&tpm, TPM_RH_OWNER, AHV_TPM_KEY_STORAGE_ECC,
						&primary, NULL, 0, NULL), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_load(&tpm, primary, &b.obj, &item), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_flush(&tpm, primary), AHV_TPM_OK);
	memset(nonce, 7, sizeof(nonce));
	assert_int_equal(ahv_tpm_start_policy_session(&tpm, 0, nonce, sizeof(nonce), &s), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_policy_pcr(&tpm, s, b.pcr_mask), AHV_TPM_OK);
	struct ahv_tpm_auth a = ahv_tpm_auth_policy(s, 1);
	assert_int_equal(ahv_tpm_unseal_object(&tpm, item, &a, out, sizeof(out), &n), AHV_TPM_EPOLICY);
	assert_int_equal(ahv_tpm_rc_base(tpm.last_rc), TPM_RC_POLICY_FAIL);
	/* and a password cannot stand in for the policy (userWithAuth clear) */
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	assert_int_equal(ahv_tpm_unseal_object(&tpm, item, &pw, out, sizeof(out), &n), AHV_TPM_EAUTH);
	assert_int_equal(ahv_tpm_rc_base(tpm.last_rc), TPM_RC_AUTH_UNAVAILABLE);
	assert_int_equal(ahv_tpm_flush(&tpm, s), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_flush(&tpm, item), AHV_TPM_OK);
}

static void test_lock_prevents_unseal(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX], lock[32], want[32];
	ahv_tpm_pcr_values v;
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_ECC);
	assert_int_equal(unseal_now(blob, len), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_pcr_read(&tpm, 1u << AHV_TPM_PCR_LOCK, v), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_lock_digest(lock), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_pcr_extend_sw(v[AHV_TPM_PCR_LOCK], lock, want), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_lock(&tpm, AHV_TPM_PCR_LOCK), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_pcr_read(&tpm, 1u << AHV_TPM_PCR_LOCK, v), AHV_TPM_OK);
	assert_memory_equal(v[AHV_TPM_PCR_LOCK], want, 32);
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
	/* the guest cannot re-seal its way back either: the blob's policy is
	 * fixed; only a reboot (PCR reset) reopens it */
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
}

static void test_reboot_unseals_same_secret(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX];
	/* first boot: provision, lock */
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_ECC);
	assert_int_equal(ahv_tpm_lock(&tpm, AHV_TPM_PCR_LOCK), AHV_TPM_OK);
	/* second boot, same measurements: unseal, lock */
	swtpm_stop(&sw);
	boot_tpm();
	measure_boot("attest-hv.efi v1", "config v1");
	assert_int_equal(unseal_now(blob, len), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_lock(&tpm, AHV_TPM_PCR_LOCK), AHV_TPM_OK);
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
	/* third boot with a modified config */
	swtpm_stop(&sw);
	boot_tpm();
	measure_boot("attest-hv.efi v1", "config v2");
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
	/* fourth boot with a modified image */
	swtpm_stop(&sw);
	boot_tpm();
	measure_boot("attest-hv.efi v2", "config v1");
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
}

static void test_seal_to_expected_values(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX], d[32];
	ahv_tpm_pcr_values v;
	size_t len;
	/* predict the PCRs after the config is measured, seal before */
	measure(AHV_TPM_PCR_FIRMWARE, "OVMF firmware volume");
	measure(AHV_TPM_PCR_HV_IMAGE, "attest-hv.efi v1");
	assert_int_equal(ahv_tpm_pcr_read(&tpm, AHV_TPM_SEAL_PCRS_DEFAULT, v), AHV_TPM_OK);
	assert_int_equal(ahv_hash(AHV_HASH_SHA256, "config v3", 9, d), AHV_CRYPTO_OK);
	assert_int_equal(ahv_tpm_pcr_extend_sw(v[AHV_TPM_PCR_HV_CONFIG], d,
					       v[AHV_TPM_PCR_HV_CONFIG]), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_seal(&tpm, AHV_TPM_KEY_STORAGE_ECC, AHV_TPM_SEAL_PCRS_DEFAULT,
				      (const uint8_t (*)[32])v, secret, sizeof(secret), blob,
				      sizeof(blob), &len), AHV_TPM_OK);
	assert_int_equal(unseal_now(blob, len), AHV_TPM_EPOLICY);
	measure(AHV_TPM_PCR_HV_CONFIG, "config v3");
	assert_int_equal(unseal_now(blob, len), AHV_TPM_OK);
}

static void test_foreign_or_tampered_blob(void **st)
{
	(void)st;
	uint8_t blob[AHV_TPM_BLOB_MAX], bad[AHV_TPM_BLOB_MAX];
	struct ahv_tpm_blob b;
	measure_boot("attest-hv.efi v1", "config v1");
	size_t len = seal_now(blob, AHV_TPM_KEY_STORAGE_ECC);
	assert_int_equal(ahv_tpm_blob_read(blob, len, &b), AHV_TPM_OK);
	/* a flipped byte inside the encrypted private part: the TPM's integrity
	 * check refuses it */
	memcpy(bad, blob, len);
	bad[AHV_TPM_BLOB_HEADER + 2 + 32 + 2 + b.obj.priv_len / 2] ^= 0x01;
	assert_int_equal(unseal_now(bad, len), AHV_TPM_ENOLOAD);
	/* a structural change: the blob parser */
	memcpy(bad, blob, len);
	bad[0] ^= 0x20;
	assert_int_equal(unseal_now(bad, len), AHV_TPM_EBLOB);
	assert_int_equal(unseal_now(blob, len - 1), AHV_TPM_EBLOB);
	/* another TPM (fresh seeds) */
	swtpm_destroy(&sw);
	boot_tpm();
	measure_boot("attest-hv.efi v1", "config v1");
	assert_int_equal(unseal_now(blob, len), AHV_TPM_ENOLOAD);
}

static void test_quote_binds_data_to_pcrs(void **st)
{
	(void)st;
	uint8_t pub[AHV_TPM_MAX_PUBLIC], attest[AHV_TPM_MAX_ATTEST], sig[64], q[32], h[32];
	size_t pub_len, attest_len;
	struct ahv_tpm_public_info info;
	struct ahv_tpm_quote_info qi;
	ahv_tpm_pcr_values v;
	uint32_t ak;
	ahv_ec_pub ec = { .curve = AHV_CURVE_P256, .point_len = 65 };

	measure_boot("attest-hv.efi v1", "config v1");
	assert_int_equal(ahv_tpm_create_primary(&tpm, TPM_RH_OWNER, AHV_TPM_KEY_AK_ECC, &ak,
						pub, sizeof(pub), &pub_len), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_public_parse(pub, pub_len, &info), AHV_TPM_OK);
	assert_int_equal(info.type, TPM_ALG_ECC);
	assert_true(info.attrs & TPMA_OBJECT_RESTRICTED);
	memcpy(ec.point, info.ecc_point, 65);
	assert_int_equal(ahv_ec_pub_check(&ec), AHV_CRYPTO_OK);
	/* qualifyingData: e.g. SHA-256 of the hypervisor's public key */
	assert_int_equal(ahv_hash(AHV_HASH_SHA256, "hv public key", 13, q), AHV_CRYPTO_OK);
	assert_int_equal(ahv_tpm_quote(&tpm, ak, q, sizeof(q), AHV_TPM_SEAL_PCRS_DEFAULT, attest,
				       sizeof(attest), &attest_len, sig), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_flush(&tpm, ak), AHV_TPM_OK);
	/* the verifier's side */
	assert_int_equal(ahv_hash(AHV_HASH_SHA256, attest, attest_len, h), AHV_CRYPTO_OK);
	assert_int_equal(ahv_ecdsa_verify_raw(&ec, h, 32, sig, 64), AHV_CRYPTO_OK);
	assert_int_equal(ahv_tpm_quote_parse(attest, attest_len, &qi), AHV_TPM_OK);
	assert_int_equal(qi.extra_len, 32);
	assert_memory_equal(qi.extra, q, 32);
	assert_int_equal(qi.pcr_mask, AHV_TPM_SEAL_PCRS_DEFAULT);
	assert_int_equal(ahv_tpm_pcr_read(&tpm, AHV_TPM_SEAL_PCRS_DEFAULT, v), AHV_TPM_OK);
	uint8_t cat[96];
	memcpy(cat, v[0], 32);
	memcpy(cat + 32, v[4], 32);
	memcpy(cat + 64, v[8], 32);
	assert_int_equal(ahv_hash(AHV_HASH_SHA256, cat, sizeof(cat), h), AHV_CRYPTO_OK);
	assert_memory_equal(qi.pcr_digest, h, 32);
	sig[10] ^= 1;
	assert_int_not_equal(ahv_ecdsa_verify_raw(&ec, h, 32, sig, 64), AHV_CRYPTO_OK);
}

/* ---- mutations of real swtpm responses ---------------------------------- */
static uint32_t g_parent, g_item, g_session, g_ak, g_out;
static struct ahv_tpm_object g_obj;
static uint8_t g_policy[32];

static int run_get_random(struct ahv_tpm *t)
{
	uint8_t b[16];
	return ahv_tpm_get_random(t, b, sizeof(b));
}
static int run_pcr_read(struct ahv_tpm *t)
{
	ahv_tpm_pcr_values v;
	return ahv_tpm_pcr_read(t, AHV_TPM_SEAL_PCRS_DEFAULT, v);
}
static int run_pcr_extend(struct ahv_tpm *t)
{
	uint8_t d[32] = { 1 };
	return ahv_tpm_pcr_extend(t, 16, d);
}
static int run_create_primary(struct ahv_tpm *t)
{
	uint8_t pub[AHV_TPM_MAX_PUBLIC];
	size_t n;
	return ahv_tpm_create_primary(t, TPM_RH_OWNER, AHV_TPM_KEY_STORAGE_ECC, &g_out, pub,
				      sizeof(pub), &n);
}
static int run_create_ak(struct ahv_tpm *t)
{
	return ahv_tpm_create_primary(t, TPM_RH_OWNER, AHV_TPM_KEY_AK_ECC, &g_out, NULL, 0, NULL);
}
static int run_create_sealed(struct ahv_tpm *t)
{
	static struct ahv_tpm_object o;
	int err = ahv_tpm_create_sealed(t, g_parent, g_policy, secret, sizeof(secret), &o);
	if (!err && t == &tpm)
		g_obj = o;
	return err;
}
static int run_load(struct ahv_tpm *t)
{
	return ahv_tpm_load(t, g_parent, &g_obj, &g_out);
}
static int run_start_session(struct ahv_tpm *t)
{
	uint8_t nonce[16] = { 3 };
	return ahv_tpm_start_policy_session(t, 0, nonce, sizeof(nonce), &g_out);
}
static int run_policy_pcr(struct ahv_tpm *t)
{
	return ahv_tpm_policy_pcr(t, g_session, AHV_TPM_SEAL_PCRS_DEFAULT);
}
static int run_policy_get_digest(struct ahv_tpm *t)
{
	uint8_t d[32];
	return ahv_tpm_policy_get_digest(t, g_session, d);
}
static int run_unseal(struct ahv_tpm *t)
{
	uint8_t out[128];
	size_t n;
	struct ahv_tpm_auth a = ahv_tpm_auth_policy(g_session, 1);
	return ahv_tpm_unseal_object(t, g_item, &a, out, sizeof(out), &n);
}
static int run_quote(struct ahv_tpm *t)
{
	uint8_t attest[AHV_TPM_MAX_ATTEST], sig[64];
	size_t n;
	return ahv_tpm_quote(t, g_ak, "nonce", 5, AHV_TPM_SEAL_PCRS_DEFAULT, attest,
			     sizeof(attest), &n, sig);
}

/* Run once against swtpm (must succeed), then mutate its real response. */
static void real_then_mutate(tpm_runner run, uint64_t seed)
{
	uint8_t rsp[AHV_TPM_BUF_SIZE];
	last_len = 0;
	assert_int_equal(run(&tpm), AHV_TPM_OK);
	size_t len = last_len;
	memcpy(rsp, last_rsp, len);
	mutate_responses(run, rsp, len, 1500, seed);
}

static void test_real_response_mutations(void **st)
{
	(void)st;
	ahv_tpm_pcr_values v;
	measure_boot("attest-hv.efi v1", "config v1");
	assert_int_equal(ahv_tpm_pcr_read(&tpm, AHV_TPM_SEAL_PCRS_DEFAULT, v), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_policy_pcr_digest(NULL, AHV_TPM_SEAL_PCRS_DEFAULT,
						   (const uint8_t (*)[32])v, g_policy), AHV_TPM_OK);
	real_then_mutate(run_get_random, 11);
	real_then_mutate(run_pcr_read, 12);
	real_then_mutate(run_pcr_extend, 13);
	/* PCR 16 is outside the policy; the policy stays valid */
	real_then_mutate(run_create_primary, 14);
	g_parent = g_out;
	real_then_mutate(run_create_sealed, 15);
	real_then_mutate(run_load, 16);
	g_item = g_out;
	real_then_mutate(run_start_session, 17);
	g_session = g_out;
	real_then_mutate(run_policy_pcr, 18);
	real_then_mutate(run_policy_get_digest, 19);
	real_then_mutate(run_unseal, 20);
	assert_int_equal(ahv_tpm_flush(&tpm, g_session), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_flush(&tpm, g_item), AHV_TPM_OK);
	assert_int_equal(ahv_tpm_flush(&tpm, g_parent), AHV_TPM_OK);
	real_then_mutate(run_create_ak, 21);
	g_ak = g_out;
	real_then_mutate(run_quote, 22);
	assert_int_equal(ahv_tpm_flush(&tpm, g_ak), AHV_TPM_OK);
}

int main(int argc, char **argv)
{
	swtpm_bin = argc > 1 ? argv[1] : "swtpm";
	if (!swtpm_bin[0] || strstr(swtpm_bin, "NOTFOUND") || access(swtpm_bin, X_OK) != 0) {
		fprintf(stderr, "swtpm not found (%s): skipping\n", swtpm_bin);
		return 77;
	}
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_startup_and_random),
		T(test_pcr_extend_matches_software),
		T(test_policy_digest_matches_tpm),
		T(test_seal_unseal_ecc),
		T(test_seal_unseal_rsa),
		T(test_unseal_fails_when_pcrs_change),
		T(test_unseal_policy_fail_from_tpm),
		T(test_lock_prevents_unseal),
		T(test_reboot_unseals_same_secret),
		T(test_seal_to_expected_values),
		T(test_foreign_or_tampered_blob),
		T(test_quote_binds_data_to_pcrs),
		T(test_real_response_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
