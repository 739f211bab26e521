/*
 * boot/tpm_boot.c - the loader's TPM flow (see tpm_boot.h, docs/tpm.md).
 *
 *   every boot   measure the config and the enrolled guest keys into PCR 8
 *                (HashLogExtendEvent, EV_IPL), before any seal/unseal;
 *   first boot   (no blob on the ESP) generate the P-256 key (DRBG seeded
 *                from RDSEED/RDRAND with TPM2_GetRandom mixed in), seal its
 *                scalar to PCRs 0, 4, 8, write the blob, the public key, and
 *                the evidence (TPM2_Quote by a primary AK over SHA-256 of the
 *                public key's SPKI DER, PCRs 0/4/8, plus the event log);
 *   later boots  unseal; a seal that does not open gives no key at all;
 *   every boot   a credential from the verifier on the ESP is answered
 *                (TPM2_ActivateCredential with the EK and the primary AK);
 *   every boot   lock: extend PCR 8 with AHV_TPM_LOCK_EVENT (logged), before
 *                the next stage is loaded.
 * Secrets (the scalar, the TPM buffers that carried it, the DRBG) live in
 * this image's static memory and are wiped once handed over or on failure.
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "ahv/tpm_seal.h"
#include "ahv/x86/log.h"
#include "tcg2_efi.h"
#include "tpm_boot.h"

void ahv_boot_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define say ahv_boot_say

static ahv_tcg2 *tcg2;
static struct ahv_tpm tpm; /* ~8.2 KiB: static, not on the firmware's stack */
static ahv_tpmb_read_fn read_file;
static EFI_HANDLE dev;
static int locked;
static int have_key;
static uint8_t key_d[32];
static ahv_drbg drbg;
static uint8_t blob[AHV_TPM_BLOB_MAX];

static void hexs(char *out, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = 0;
}

int ahv_tpmb_open(ahv_tpmb_read_fn reader, EFI_HANDLE device)
{
	read_file = reader;
	dev = device;
	tcg2 = ahv_tcg2_locate();
	if (!tcg2)
		return 0;
	ahv_tpm_init(&tpm, ahv_tcg2_submit, tcg2);
	return 1;
}

int ahv_tpmb_present(void) { return tcg2 != NULL; }

static int extend_event(const char *desc, const void *data, size_t len)
{
	uint8_t ev[4 + AHV_TCG2_EVENT_HEADER_SIZE + 200];
	size_t dl = strlen(desc);
	if (!tcg2 || dl > 200)
		return -1;
	/* EFI_TCG2_EVENT, packed: Size, Header{HeaderSize, HeaderVersion 1,
	 * PCRIndex, EventType}, Event[] (the description, no NUL). */
	uint32_t size = (uint32_t)(4 + AHV_TCG2_EVENT_HEADER_SIZE + dl), hs = AHV_TCG2_EVENT_HEADER_SIZE;
	uint16_t ver = 1;
	uint32_t pcr = AHV_TPMB_PCR, type = AHV_TPMB_EV_IPL;
	memcpy(ev, &size, 4);
	memcpy(ev + 4, &hs, 4);
	memcpy(ev + 8, &ver, 2);
	memcpy(ev + 10, &pcr, 4);
	memcpy(ev + 14, &type, 4);
	memcpy(ev + 18, desc, dl);
	EFI_STATUS st = uefi_call_wrapper(tcg2->HashLogExtendEvent, 5, tcg2, 0ull,
					  (EFI_PHYSICAL_ADDRESS)(uintptr_t)data, (UINT64)len, ev);
	return EFI_ERROR(st) ? -1 : 0;
}

int ahv_tpmb_measure(const char *desc, const void *data, size_t len)
{
	if (locked)
		return -1;
	return extend_event(desc, data, len);
}

/* ---- files ---------------------------------------------------------------- */
static void wide(CHAR16 *w, size_t cap, const char *s)
{
	size_t i;
	for (i = 0; s[i] && i + 1 < cap; i++)
		w[i] = (CHAR16)(uint8_t)s[i];
	w[i] = 0;
}

static EFI_STATUS write_file(const char *path, const void *data, size_t n)
{
	CHAR16 w[128];
	EFI_FILE_HANDLE root = LibOpenRoot(dev), fh;
	EFI_STATUS st;
	if (!root)
		return EFI_NOT_FOUND;
	wide(w, 128, AHV_TPMB_DIR);
	st = uefi_call_wrapper(root->Open, 5, root, &fh, w,
			       EFI_FILE_MODE_CREATE | EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE, EFI_FILE_DIRECTORY);
	if (!EFI_ERROR(st))
		uefi_call_wrapper(fh->Close, 1, fh);
	wide(w, 128, path);
	/* Replace, never append to, an older file. */
	if (!EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &fh, w, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE, 0)))
		uefi_call_wrapper(fh->Delete, 1, fh);
	st = uefi_call_wrapper(root->Open, 5, root, &fh, w,
			       EFI_FILE_MODE_CREATE | EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE, 0);
	uefi_call_wrapper(root->Close, 1, root);
	if (EFI_ERROR(st))
		return st;
	UINTN got = n;
	st = uefi_call_wrapper(fh->Write, 3, fh, &got, (void *)data);
	if (!EFI_ERROR(st) && got != n)
		st = EFI_DEVICE_ERROR;
	EFI_STATUS st2 = uefi_call_wrapper(fh->Flush, 1, fh);
	uefi_call_wrapper(fh->Close, 1, fh);
	return EFI_ERROR(st) ? st : st2;
}

/* ---- evidence --------------------------------------------------------------- */
static void export_ek_cert(void);
static size_t ev_digest_size(uint16_t alg)
{
	switch (alg) {
	case 0x0004: return 20; /* SHA-1 */
	case 0x000B: return 32; /* SHA-256 */
	case 0x000C: return 48; /* SHA-384 */
	case 0x000D: return 64; /* SHA-512 */
	case 0x0012: return 32; /* SM3-256 */
	default: return 0;
	}
}

/* The TCG2 event log so far (crypto-agile format, PFP spec s10.2): from the
 * start to the end of the last entry (TCG_PCR_EVENT2, s10.2.2). */
static void export_event_log(void)
{
	EFI_PHYSICAL_ADDRESS loc = 0, last = 0;
	BOOLEAN trunc = 0;
	if (EFI_ERROR(uefi_call_wrapper(tcg2->GetEventLog, 5, tcg2, AHV_TCG2_EVENT_LOG_FORMAT_TCG_2, &loc, &last,
					&trunc)) || !loc || last < loc) {
		say("AHV-BOOT: TPM: no TCG2 event log from the firmware");
		return;
	}
	const uint8_t *p = (const uint8_t *)(uintptr_t)last;
	uint32_t esz;
	size_t n;
	if (last == loc) { /* only the TCG_PCR_EVENT header (Spec ID event) */
		memcpy(&esz, p + 28, 4);
		n = 32 + esz;
	} else {
		uint32_t cnt;
		memcpy(&cnt, p + 8, 4);
		n = 12;
		for (uint32_t i = 0; i < cnt && i < 8; i++) {
			uint16_t alg;
			memcpy(&alg, p + n, 2);
			size_t ds = ev_digest_size(alg);
			if (!ds) {
				say("AHV-BOOT: TPM: event log has an unknown digest algorithm %x", alg);
				return;
			}
			n += 2 + ds;
		}
		memcpy(&esz, p + n, 4);
		n += 4 + esz;
	}
	size_t total = (size_t)(last - loc) + n;
	EFI_STATUS st = write_file(AHV_TPMB_LOG, (const void *)(uintptr_t)loc, total);
	say("AHV-BOOT: TPM: event log (%lu bytes%s) written to %s: %s", (uint64_t)total,
	    trunc ? ", TRUNCATED" : "", AHV_TPMB_LOG, EFI_ERROR(st) ? "FAILED" : "ok");
}

/* TPM2_Quote by a primary ECDSA AK over SHA-256(SPKI DER of the key) with the
 * seal PCRs, the AK's public key (PEM), the signature as a TPMT_SIGNATURE
 * (what tpm2_checkquote reads), the event log. Taken after the measurements
 * and before the lock, so it shows the PCRs the key is sealed to. */
static void export_evidence(const uint8_t *spki, size_t spki_len)
{
	static uint8_t ak_pub[AHV_TPM_MAX_PUBLIC], attest[AHV_TPM_MAX_ATTEST];
	uint8_t q[32], sig[64], tsig[2 + 2 + 2 + 32 + 2 + 32];
	char pem[AHV_SPKI_MAX_PEM];
	size_t ak_len = 0, at_len = 0, pem_len = 0;
	uint32_t ak = 0;
	struct ahv_tpm_public_info info;
	ahv_ec_pub akp;
	int rc;

	ahv_hash(AHV_HASH_SHA256, spki, spki_len, q);
	rc = ahv_tpm_create_primary(&tpm, TPM_RH_OWNER, AHV_TPM_KEY_AK_ECC, &ak, ak_pub, sizeof(ak_pub), &ak_len);
	if (!rc) {
		rc = ahv_tpm_quote(&tpm, ak, q, 32, AHV_TPM_SEAL_PCRS_DEFAULT, attest, sizeof(attest), &at_len, sig);
		ahv_tpm_flush(&tpm, ak);
	}
	if (!rc)
		rc = ahv_tpm_public_parse(ak_pub, ak_len, &info);
	if (rc) {
		say("AHV-BOOT: TPM: no enrollment evidence (quote failed: %s, TPM rc %x)", ahv_tpm_strerror(rc),
		    tpm.last_rc);
		return;
	}
	memset(&akp, 0, sizeof(akp));
	akp.curve = AHV_CURVE_P256;
	akp.point_len = 65;
	memcpy(akp.point, info.ecc_point, 65);
	if (ahv_spki_write_pem(&akp, pem, sizeof(pem), &pem_len)) {
		say("AHV-BOOT: TPM: the AK is not a P-256 key");
		return;
	}
	/* TPMT_SIGNATURE { TPM_ALG_ECDSA, TPMS_SIGNATURE_ECDSA { TPM_ALG_SHA256,
	 * TPM2B r, TPM2B s } } (TPM 2.0 Part 2 s11.3.4, s11.2.3.1). */
	struct ahv_tpm_wr w;
	ahv_tpm_wr_init(&w, tsig, sizeof(tsig));
	ahv_tpm_put_u16(&w, TPM_ALG_ECDSA);
	ahv_tpm_put_u16(&w, TPM_ALG_SHA256);
	ahv_tpm_put_tpm2b(&w, sig, 32);
	ahv_tpm_put_tpm2b(&w, sig + 32, 32);
	int bad = write_file(AHV_TPMB_AK, pem, pem_len) != EFI_SUCCESS;
	bad |= write_file(AHV_TPMB_QUOTE, attest, at_len) != EFI_SUCCESS;
	bad |= w.err || write_file(AHV_TPMB_SIG, tsig, w.len) != EFI_SUCCESS;
	bad |= write_file(AHV_TPMB_AKPUB, ak_pub, ak_len) != EFI_SUCCESS;
	say("AHV-BOOT: TPM: enrollment evidence (quote over PCRs 0,4,8 by the AK, nonce = key id) written to %s: %s",
	    AHV_TPMB_DIR, bad ? "FAILED" : "ok");
	export_event_log();
	export_ek_cert();
}

/* The EK certificate from its NV index (TCG EK Credential Profile 2.0
 * s2.2.1.4), for the verifier to check against the manufacturers' CAs. */
static void export_ek_cert(void)
{
	static uint8_t crt[2048];
	size_t n = 0;
	int rc = ahv_tpm_nv_read_all(&tpm, TPM_NV_EK_CERT_RSA, crt, sizeof(crt), &n);
	if (rc) {
		say("AHV-BOOT: TPM: no EK certificate in NV %x (%s, TPM rc %x)", TPM_NV_EK_CERT_RSA,
		    ahv_tpm_strerror(rc), tpm.last_rc);
		return;
	}
	EFI_STATUS st = write_file(AHV_TPMB_EKCRT, crt, n);
	say("AHV-BOOT: TPM: EK certificate (%lu bytes) written to %s: %s", (uint64_t)n, AHV_TPMB_EKCRT,
	    EFI_ERROR(st) ? "FAILED" : "ok");
}

/* The verifier's challenge (TPM 2.0 Part 1 s24 "Credential Protection"): the
 * EK (Template L-1, recreated from the endorsement seed) decrypts the seed,
 * the TPM checks that the credential names the AK it has loaded (the primary
 * AK, recreated from the owner seed) and returns the secret, which goes back
 * to the verifier in AHV_TPMB_ANSWER. Nothing here is secret from the OS: it
 * proves only that this TPM holds both keys. */
static void answer_credential(void)
{
	void *data = NULL;
	UINTN size = 0;
	static uint8_t nonce[16];
	uint8_t secret[64];
	size_t n = 0, idl, esl;
	uint32_t ek = 0, ak = 0, sess = 0;
	struct ahv_tpm_rd r;

	if (read_file(AHV_TPMB_CRED, &data, &size) != EFI_SUCCESS)
		return;
	ahv_tpm_rd_init(&r, data, size);
	const uint8_t *id = ahv_tpm_get_tpm2b_view(&r, 1024, &idl);
	const uint8_t *es = ahv_tpm_get_tpm2b_view(&r, 512, &esl);
	int rc = ahv_tpm_rd_done(&r);
	if (!rc)
		rc = ahv_tpm_create_primary(&tpm, TPM_RH_ENDORSEMENT, AHV_TPM_KEY_EK_RSA, &ek, NULL, 0, NULL);
	if (!rc)
		rc = ahv_tpm_create_primary(&tpm, TPM_RH_OWNER, AHV_TPM_KEY_AK_ECC, &ak, NULL, 0, NULL);
	if (!rc)
		rc = ahv_tpm_get_random(&tpm, nonce, sizeof(nonce));
	if (!rc)
		rc = ahv_tpm_start_policy_session(&tpm, 0, nonce, sizeof(nonce), &sess);
	if (!rc)
		rc = ahv_tpm_policy_secret(&tpm, TPM_RH_ENDORSEMENT, sess);
	if (!rc) {
		struct ahv_tpm_auth pa = ahv_tpm_auth_policy(sess, 0);
		rc = ahv_tpm_activate_credential(&tpm, ak, ek, &pa, id, idl, es, esl, secret, sizeof(secret), &n);
		if (!rc)
			sess = 0; /* continueSession clear: the TPM flushed it */
	}
	uint32_t last = tpm.last_rc;
	if (sess)
		ahv_tpm_flush(&tpm, sess);
	if (ak)
		ahv_tpm_flush(&tpm, ak);
	if (ek)
		ahv_tpm_flush(&tpm, ek);
	FreePool(data);
	if (rc) {
		say("AHV-BOOT: TPM: the credential in %s does not activate (%s, TPM rc %x): not made for this TPM's EK "
		    "and AK", AHV_TPMB_CRED, ahv_tpm_strerror(rc), last);
		return;
	}
	EFI_STATUS st = write_file(AHV_TPMB_ANSWER, secret, n);
	ahv_wipe(secret, sizeof(secret));
	say("AHV-BOOT: TPM: credential activated; answer written to %s: %s", AHV_TPMB_ANSWER,
	    EFI_ERROR(st) ? "FAILED" : "ok");
}

/* ---- the key ------------------------------------------------------------------ */
static int tpm_entropy(void *arg, uint8_t *out, size_t len)
{
	(void)arg;
	return ahv_tpm_get_random(&tpm, out, len) ? -1 : 0;
}

static int provision(char *why, size_t cap)
{
	ahv_ec_key key;
	uint8_t spki[AHV_SPKI_MAX_DER], id[32];
	char pem[AHV_SPKI_MAX_PEM], hex[65];
	size_t spki_len = 0, pem_len = 0, blob_len = 0;
	int rc;

	say("AHV-BOOT: TPM: no sealed key at %s: provisioning a new hypervisor key", AHV_TPMB_BLOB);
	rc = ahv_drbg_init(&drbg, AHV_DRBG_HW, tpm_entropy, NULL, "attest-hv sealed key", 20);
	if (rc || ahv_ec_keygen(AHV_CURVE_P256, &drbg, &key)) {
		ahv_wipe(&drbg, sizeof(drbg));
		ahv_snprintf(why, cap, "cannot generate the key (DRBG from RDRAND/RDSEED + TPM2_GetRandom failed)");
		return -1;
	}
	ahv_wipe(&drbg, sizeof(drbg));
	rc = ahv_tpm_seal(&tpm, AHV_TPM_KEY_STORAGE_ECC, AHV_TPM_SEAL_PCRS_DEFAULT, NULL, key.d, 32, blob,
			  sizeof(blob), &blob_len);
	if (rc) {
		ahv_ec_key_wipe(&key);
		ahv_snprintf(why, cap, "TPM seal failed: %s (TPM rc %x)", ahv_tpm_strerror(rc), tpm.last_rc);
		return -1;
	}
	memcpy(key_d, key.d, 32);
	have_key = 1;
	if (ahv_spki_write_der(&key.pub, spki, sizeof(spki), &spki_len) ||
	    ahv_spki_write_pem(&key.pub, pem, sizeof(pem), &pem_len) || ahv_spki_key_id(&key.pub, id)) {
		ahv_ec_key_wipe(&key);
		ahv_snprintf(why, cap, "cannot encode the public key");
		return -1;
	}
	ahv_ec_key_wipe(&key);
	hexs(hex, id, 32);
	EFI_STATUS st = write_file(AHV_TPMB_BLOB, blob, blob_len);
	EFI_STATUS st2 = write_file(AHV_TPMB_PEM, pem, pem_len);
	say("AHV-BOOT: TPM: sealed the hypervisor key to PCRs 0,4,8 (%lu-byte blob); key id %s", (uint64_t)blob_len,
	    hex);
	if (EFI_ERROR(st) || EFI_ERROR(st2))
		say("AHV-BOOT: TPM: WARNING: cannot write %s / %s (%lx/%lx): the key works for this boot only",
		    AHV_TPMB_BLOB, AHV_TPMB_PEM, (uint64_t)st, (uint64_t)st2);
	else
		say("AHV-BOOT: TPM: public key for enrollment: %s", AHV_TPMB_PEM);
	export_evidence(spki, spki_len);
	return 0;
}

int ahv_tpmb_key(int dev_key_allowed, char *why, size_t cap)
{
	void *data = NULL;
	UINTN size = 0;
	size_t n = 0;
	int rc;

	why[0] = 0;
	if (!tcg2 || locked) {
		ahv_snprintf(why, cap, "no TPM");
		return dev_key_allowed ? AHV_TPMB_KEY_DEV : AHV_TPMB_KEY_NONE;
	}
	answer_credential();
	EFI_STATUS st = read_file(AHV_TPMB_BLOB, &data, &size);
	if (st == EFI_NOT_FOUND) {
		if (!provision(why, cap))
			return AHV_TPMB_KEY_SEALED;
		ahv_tpmb_wipe();
		/* The TPM refused to seal: a broken TPM, not a changed boot. */
		return dev_key_allowed ? AHV_TPMB_KEY_DEV : AHV_TPMB_KEY_NONE;
	}
	if (EFI_ERROR(st)) {
		ahv_snprintf(why, cap, "cannot read %s (%lx)", AHV_TPMB_BLOB, (uint64_t)st);
		return AHV_TPMB_KEY_NONE;
	}
	rc = ahv_tpm_unseal(&tpm, data, size, key_d, sizeof(key_d), &n);
	FreePool(data);
	if (!rc && n == 32) {
		ahv_ec_key key;
		uint8_t id[32];
		char hex[65];
		/* The blinding DRBG of the scalar multiplication: RDRAND only. */
		if (ahv_drbg_init(&drbg, AHV_DRBG_HW, NULL, NULL, "attest-hv unseal", 16) ||
		    ahv_ec_key_from_private(AHV_CURVE_P256, key_d, 32, &drbg, &key) || ahv_spki_key_id(&key.pub, id)) {
			ahv_wipe(&drbg, sizeof(drbg));
			ahv_tpmb_wipe();
			ahv_snprintf(why, cap, "the unsealed secret is not a P-256 private key");
			return AHV_TPMB_KEY_NONE;
		}
		ahv_wipe(&drbg, sizeof(drbg));
		ahv_ec_key_wipe(&key);
		have_key = 1;
		hexs(hex, id, 32);
		say("AHV-BOOT: TPM: unsealed the hypervisor key; key id %s", hex);
		return AHV_TPMB_KEY_SEALED;
	}
	ahv_tpmb_wipe();
	if (!rc)
		rc = AHV_TPM_EBLOB;
	switch (rc) {
	case AHV_TPM_EPOLICY:
		ahv_snprintf(why, cap, "the sealed key does not open (AHV_TPM_EPOLICY: %s): the firmware, the hypervisor image or its "
				       "configuration changed since it was sealed", ahv_tpm_strerror(rc));
		return AHV_TPMB_KEY_NONE;
	case AHV_TPM_ENOLOAD:
		ahv_snprintf(why, cap, "the TPM refuses the sealed blob (AHV_TPM_ENOLOAD: %s): TPM cleared or another TPM",
			     ahv_tpm_strerror(rc));
		return AHV_TPMB_KEY_NONE;
	case AHV_TPM_EBLOB:
		ahv_snprintf(why, cap, "%s is damaged (%s)", AHV_TPMB_BLOB, ahv_tpm_strerror(rc));
		return AHV_TPMB_KEY_NONE;
	default:
		ahv_snprintf(why, cap, "the TPM fails: %s (TPM rc %x)", ahv_tpm_strerror(rc), tpm.last_rc);
		return dev_key_allowed ? AHV_TPMB_KEY_DEV : AHV_TPMB_KEY_NONE;
	}
}

void ahv_tpmb_lock(void)
{
	static const char ev[] = AHV_TPM_LOCK_EVENT;
	if (!tcg2 || locked)
		return;
	/* The same SHA-256 value ahv_tpm_lock() extends, but logged (and in
	 * every active bank), so the event log still replays. */
	if (extend_event(ev, ev, sizeof(ev) - 1)) {
		int rc = ahv_tpm_lock(&tpm, AHV_TPM_PCR_LOCK);
		say("AHV-BOOT: TPM: HashLogExtendEvent of the lock failed; TPM2_PCR_Extend: %s", ahv_tpm_strerror(rc));
	}
	locked = 1;
	ahv_wipe(tpm.cmd, sizeof(tpm.cmd));
	ahv_wipe(tpm.rsp, sizeof(tpm.rsp));
	say("AHV-BOOT: TPM: locked: PCR %u extended with \"%s\"; the sealed key cannot be unsealed again this boot",
	    AHV_TPMB_PCR, ev);
}

void ahv_tpmb_take_key(uint8_t d[32])
{
	memcpy(d, key_d, 32);
	ahv_tpmb_wipe();
}

void ahv_tpmb_wipe(void)
{
	ahv_wipe(key_d, sizeof(key_d));
	ahv_wipe(tpm.cmd, sizeof(tpm.cmd));
	ahv_wipe(tpm.rsp, sizeof(tpm.rsp));
	ahv_wipe(&drbg, sizeof(drbg));
	have_key = 0;
}
