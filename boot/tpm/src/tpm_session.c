/* Policy sessions: TPM2_StartAuthSession, TPM2_PolicyPCR,
 * TPM2_PolicyGetDigest (ahv/tpm_commands.h). */
#include <string.h>

#include "ahv/tpm_commands.h"

int ahv_tpm_start_policy_session(struct ahv_tpm *t, int trial, const uint8_t *nonce,
				 size_t nonce_len, uint32_t *session)
{
	struct ahv_tpm_rd p;
	size_t n;

	/* nonceCaller: at least 16 octets, at most the session hash size
	 * (P3 s11.1, TPM_RC_SIZE otherwise). */
	if (!nonce || nonce_len < 16 || nonce_len > AHV_TPM_DIGEST_SIZE || !session)
		return AHV_TPM_EINVAL;
	uint32_t handles[2] = { TPM_RH_NULL /* tpmKey: unsalted */,
				TPM_RH_NULL /* bind: unbound */ };
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_START_AUTH_SESSION, handles, NULL);
	ahv_tpm_put_tpm2b(w, nonce, nonce_len);              /* nonceCaller */
	ahv_tpm_put_tpm2b(w, NULL, 0);                       /* encryptedSalt */
	ahv_tpm_put_u8(w, trial ? TPM_SE_TRIAL : TPM_SE_POLICY);
	ahv_tpm_put_u16(w, TPM_ALG_NULL);                    /* symmetric: none */
	ahv_tpm_put_u16(w, TPM_ALG_SHA256);                  /* authHash */
	int err = ahv_tpm_send(t, session, &p);
	if (err)
		return err;
	(void)ahv_tpm_get_tpm2b_view(&p, AHV_TPM_MAX_NONCE, &n); /* nonceTPM */
	err = ahv_tpm_rd_done(&p);
	if (!err && (*session >> TPM_HT_SHIFT) != TPM_HT_POLICY_SESSION)
		err = AHV_TPM_EFORMAT;
	if (err)
		(void)ahv_tpm_flush(t, *session);
	return err;
}

int ahv_tpm_policy_pcr(struct ahv_tpm *t, uint32_t session, uint32_t mask)
{
	struct ahv_tpm_rd p;

	if (mask == 0 || (mask & ~AHV_TPM_PCR_MASK_ALL))
		return AHV_TPM_EINVAL;
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_POLICY_PCR, &session, NULL);
	ahv_tpm_put_tpm2b(w, NULL, 0);        /* pcrDigest: empty = current values */
	ahv_tpm_put_pcr_selection(w, mask);   /* pcrs */
	int err = ahv_tpm_send(t, NULL, &p);
	return err ? err : ahv_tpm_rd_done(&p);
}

int ahv_tpm_policy_get_digest(struct ahv_tpm *t, uint32_t session,
			      uint8_t digest[AHV_TPM_DIGEST_SIZE])
{
	struct ahv_tpm_rd p;
	size_t n;

	if (!digest)
		return AHV_TPM_EINVAL;
	ahv_tpm_begin(t, AHV_TPM_CMD_POLICY_GET_DIGEST, &session, NULL);
	int err = ahv_tpm_send(t, NULL, &p);
	if (err)
		return err;
	ahv_tpm_get_tpm2b(&p, digest, AHV_TPM_DIGEST_SIZE, &n);
	err = ahv_tpm_rd_done(&p);
	if (!err && n != AHV_TPM_DIGEST_SIZE)
		err = AHV_TPM_EFORMAT;
	return err;
}
