/* TPM2_Quote with an ECDSA attestation key (ahv/tpm_commands.h). */
#include <string.h>

#include "ahv/tpm_commands.h"

/* One signature half (TPM2B_ECC_PARAMETER), left-padded to 32 bytes. */
static void get_sig_half(struct ahv_tpm_rd *r, uint8_t out[32])
{
	size_t n;
	const uint8_t *p = ahv_tpm_get_tpm2b_view(r, 32, &n);
	memset(out, 0, 32);
	if (p && n)
		memcpy(out + 32 - n, p, n);
	else if (!r->err)
		r->err = AHV_TPM_EFORMAT;
}

int ahv_tpm_quote(struct ahv_tpm *t, uint32_t ak, const void *qualifying, size_t q_len,
		  uint32_t mask, uint8_t *attest, size_t attest_cap, size_t *attest_len,
		  uint8_t sig[64])
{
	struct ahv_tpm_rd p;
	size_t n;

	if (q_len > 64 || (q_len && !qualifying) || !attest || !attest_len || !sig ||
	    mask == 0 || (mask & ~AHV_TPM_PCR_MASK_ALL))
		return AHV_TPM_EINVAL;
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_QUOTE, &ak, &pw);
	ahv_tpm_put_tpm2b(w, qualifying, q_len); /* qualifyingData */
	ahv_tpm_put_u16(w, TPM_ALG_NULL);        /* inScheme: the key's own */
	ahv_tpm_put_pcr_selection(w, mask);      /* PCRselect */
	int err = ahv_tpm_send(t, NULL, &p);
	if (err)
		return err;
	const uint8_t *q = ahv_tpm_get_tpm2b_view(&p, AHV_TPM_MAX_ATTEST, &n); /* quoted */
	/* TPMT_SIGNATURE (P2 s11.3.4): sigAlg, TPMS_SIGNATURE_ECDSA{hash, r, s} */
	if (ahv_tpm_get_u16(&p) != TPM_ALG_ECDSA || ahv_tpm_get_u16(&p) != TPM_ALG_SHA256)
		return AHV_TPM_EFORMAT;
	get_sig_half(&p, sig);
	get_sig_half(&p, sig + 32);
	err = ahv_tpm_rd_done(&p);
	if (!err && n > attest_cap)
		err = AHV_TPM_ENOSPC;
	if (!err) {
		memcpy(attest, q, n);
		*attest_len = n;
	}
	return err;
}

int ahv_tpm_quote_parse(const uint8_t *attest, size_t len, struct ahv_tpm_quote_info *info)
{
	struct ahv_tpm_rd r;
	size_t n;

	if (!attest || !info)
		return AHV_TPM_EINVAL;
	memset(info, 0, sizeof(*info));
	ahv_tpm_rd_init(&r, attest, len);
	/* TPMS_ATTEST (P2 s10.12.12) */
	if (ahv_tpm_get_u32(&r) != TPM_GENERATED_VALUE ||
	    ahv_tpm_get_u16(&r) != TPM_ST_ATTEST_QUOTE)
		return AHV_TPM_EFORMAT;
	(void)ahv_tpm_get_tpm2b_view(&r, 2 + 64, &n);      /* qualifiedSigner */
	ahv_tpm_get_tpm2b(&r, info->extra, sizeof(info->extra), &n);
	info->extra_len = (uint16_t)n;
	(void)ahv_tpm_get_view(&r, 8 + 4 + 4 + 1);          /* TPMS_CLOCK_INFO */
	(void)ahv_tpm_get_view(&r, 8);                      /* firmwareVersion */
	/* TPMS_QUOTE_INFO (P2 s10.12.4): one SHA-256 selection, pcrDigest */
	if (ahv_tpm_get_u32(&r) != 1 || ahv_tpm_get_u16(&r) != TPM_ALG_SHA256)
		return AHV_TPM_EFORMAT;
	uint8_t sel = ahv_tpm_get_u8(&r);
	if (sel > 4)
		return AHV_TPM_EFORMAT;
	for (unsigned i = 0; i < sel; i++)
		info->pcr_mask |= (uint32_t)ahv_tpm_get_u8(&r) << (8 * i);
	ahv_tpm_get_tpm2b(&r, info->pcr_digest, sizeof(info->pcr_digest), &n);
	if (!r.err && n != AHV_TPM_DIGEST_SIZE)
		return AHV_TPM_EFORMAT;
	return ahv_tpm_rd_done(&r);
}
