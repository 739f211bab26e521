/* Seal / unseal / lock flows over the TPM commands (ahv/tpm_seal.h). */
#include <string.h>

#include "ahv/crypto.h"
#include "ahv/tpm_seal.h"

static int parent_template(uint16_t alg, enum ahv_tpm_key_template *tmpl)
{
	if (alg == TPM_ALG_ECC)
		*tmpl = AHV_TPM_KEY_STORAGE_ECC;
	else if (alg == TPM_ALG_RSA)
		*tmpl = AHV_TPM_KEY_STORAGE_RSA;
	else
		return AHV_TPM_EINVAL;
	return AHV_TPM_OK;
}

int ahv_tpm_seal(struct ahv_tpm *t, enum ahv_tpm_key_template parent, uint32_t pcr_mask,
		 const ahv_tpm_pcr_values expected, const void *secret, size_t secret_len,
		 uint8_t *blob, size_t blob_cap, size_t *blob_len)
{
	struct ahv_tpm_blob b;
	ahv_tpm_pcr_values current;
	uint32_t primary = 0;
	int err;

	if (!t || !secret || secret_len == 0 || secret_len > AHV_TPM_SECRET_MAX ||
	    !blob || !blob_len || pcr_mask == 0 || (pcr_mask & ~AHV_TPM_PCR_MASK_ALL))
		return AHV_TPM_EINVAL;
	memset(&b, 0, sizeof(b));
	if (parent == AHV_TPM_KEY_STORAGE_ECC)
		b.parent_alg = TPM_ALG_ECC;
	else if (parent == AHV_TPM_KEY_STORAGE_RSA)
		b.parent_alg = TPM_ALG_RSA;
	else
		return AHV_TPM_EINVAL;
	b.pcr_mask = pcr_mask;
	if (!expected) {
		err = ahv_tpm_pcr_read(t, pcr_mask, current);
		if (err)
			return err;
		expected = (const uint8_t (*)[AHV_TPM_DIGEST_SIZE])current;
	}
	err = ahv_tpm_policy_pcr_digest(NULL, pcr_mask, expected, b.policy);
	if (err)
		return err;
	err = ahv_tpm_create_primary(t, TPM_RH_OWNER, parent, &primary, NULL, 0, NULL);
	if (err)
		return err;
	err = ahv_tpm_create_sealed(t, primary, b.policy, secret, secret_len, &b.obj);
	int ferr = ahv_tpm_flush(t, primary);
	if (!err)
		err = ferr;
	if (!err)
		err = ahv_tpm_blob_write(&b, blob, blob_cap, blob_len);
	return err;
}

/* Load the blob's object under a fresh primary; the primary is flushed. */
static int load_blob(struct ahv_tpm *t, const struct ahv_tpm_blob *b, uint32_t *item)
{
	enum ahv_tpm_key_template tmpl;
	uint32_t primary;

	int err = parent_template(b->parent_alg, &tmpl);
	if (err)
		return AHV_TPM_EBLOB;
	err = ahv_tpm_create_primary(t, TPM_RH_OWNER, tmpl, &primary, NULL, 0, NULL);
	if (err)
		return err;
	err = ahv_tpm_load(t, primary, &b->obj, item);
	/* A TPM error on Load means the blob is not this TPM's (its integrity
	 * HMAC or seed does not match). */
	if (err == AHV_TPM_ERC)
		err = AHV_TPM_ENOLOAD;
	int ferr = ahv_tpm_flush(t, primary);
	if (!err && ferr) {
		(void)ahv_tpm_flush(t, *item);
		err = ferr;
	}
	return err;
}

/* Start a policy session and satisfy PolicyPCR with the current PCRs;
 * AHV_TPM_EPOLICY if the result is not the blob's policy. */
static int satisfy_policy(struct ahv_tpm *t, const struct ahv_tpm_blob *b, uint32_t *session)
{
	uint8_t nonce[16], digest[AHV_TPM_DIGEST_SIZE];

	int err = ahv_tpm_get_random(t, nonce, sizeof(nonce));
	if (err)
		return err;
	err = ahv_tpm_start_policy_session(t, 0, nonce, sizeof(nonce), session);
	if (err)
		return err;
	err = ahv_tpm_policy_pcr(t, *session, b->pcr_mask);
	if (!err)
		err = ahv_tpm_policy_get_digest(t, *session, digest);
	if (!err && ahv_ct_memcmp(digest, b->policy, sizeof(digest)) != 0)
		err = AHV_TPM_EPOLICY;
	if (err)
		(void)ahv_tpm_flush(t, *session);
	return err;
}

int ahv_tpm_unseal(struct ahv_tpm *t, const uint8_t *blob, size_t blob_len,
		   void *secret, size_t secret_cap, size_t *secret_len)
{
	struct ahv_tpm_blob b;
	uint32_t item, session;

	if (!t || !blob || !secret || !secret_len)
		return AHV_TPM_EINVAL;
	int err = ahv_tpm_blob_read(blob, blob_len, &b);
	if (err)
		return err;
	err = load_blob(t, &b, &item);
	if (err)
		return err;
	err = satisfy_policy(t, &b, &session);
	if (!err) {
		/* continueSession clear: the TPM closes the session on success. */
		struct ahv_tpm_auth auth = ahv_tpm_auth_policy(session, 0);
		err = ahv_tpm_unseal_object(t, item, &auth, secret, secret_cap, secret_len);
		if (err)
			(void)ahv_tpm_flush(t, session);
	}
	(void)ahv_tpm_flush(t, item);
	return err;
}

int ahv_tpm_lock_digest(uint8_t out[AHV_TPM_DIGEST_SIZE])
{
	if (ahv_hash(AHV_HASH_SHA256, AHV_TPM_LOCK_EVENT, sizeof(AHV_TPM_LOCK_EVENT) - 1,
		     out) != AHV_CRYPTO_OK)
		return AHV_TPM_ECRYPTO;
	return AHV_TPM_OK;
}

int ahv_tpm_lock(struct ahv_tpm *t, unsigned pcr)
{
	uint8_t d[AHV_TPM_DIGEST_SIZE];
	int err = ahv_tpm_lock_digest(d);
	return err ? err : ahv_tpm_pcr_extend(t, pcr, d);
}
