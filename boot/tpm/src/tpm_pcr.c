/* PCR selection, TPM2_PCR_Read, TPM2_PCR_Extend and the software PCR and
 * PolicyPCR arithmetic (ahv/tpm_commands.h). */
#include <string.h>

#include "ahv/crypto.h"
#include "ahv/tpm_commands.h"

static unsigned popcount(uint32_t v)
{
	unsigned n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

static int mask_ok(uint32_t mask)
{
	return mask != 0 && (mask & ~AHV_TPM_PCR_MASK_ALL) == 0;
}

void ahv_tpm_put_pcr_selection(struct ahv_tpm_wr *w, uint32_t mask)
{
	ahv_tpm_put_u32(w, 1);              /* TPML_PCR_SELECTION.count */
	ahv_tpm_put_u16(w, TPM_ALG_SHA256); /* TPMS_PCR_SELECTION.hash */
	ahv_tpm_put_u8(w, TPM_PCR_SELECT_MIN);
	for (unsigned i = 0; i < TPM_PCR_SELECT_MIN; i++)
		ahv_tpm_put_u8(w, (uint8_t)(mask >> (8 * i))); /* pcrSelect[i] bit j = PCR 8i+j */
}

/* One TPMS_PCR_SELECTION from a response, as a mask; any bank other than
 * SHA-256 is malformed (we asked for SHA-256 only). */
static uint32_t get_pcr_selection(struct ahv_tpm_rd *r)
{
	uint32_t mask = 0;
	uint16_t hash = ahv_tpm_get_u16(r);
	uint8_t n = ahv_tpm_get_u8(r);
	if (hash != TPM_ALG_SHA256 || n > 4) {
		r->err = r->err ? r->err : AHV_TPM_EFORMAT;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		mask |= (uint32_t)ahv_tpm_get_u8(r) << (8 * i);
	return mask;
}

/* One TPM2_PCR_Read round: the TPM returns at most 8 digests and says which
 * PCRs it read in pcrSelectionOut (P3 s22.4). */
static int pcr_read_round(struct ahv_tpm *t, uint32_t want, uint32_t *done,
			  ahv_tpm_pcr_values values)
{
	struct ahv_tpm_rd p;
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_PCR_READ, NULL, NULL);
	ahv_tpm_put_pcr_selection(w, want);
	int err = ahv_tpm_send(t, NULL, &p);
	if (err)
		return err;
	(void)ahv_tpm_get_u32(&p); /* pcrUpdateCounter */
	uint32_t count = ahv_tpm_get_u32(&p), got = 0;
	if (count > 1)
		return AHV_TPM_EFORMAT;
	if (count)
		got = get_pcr_selection(&p);
	uint32_t n_digests = ahv_tpm_get_u32(&p);
	if (p.err || (got & ~want) || n_digests > TPM_MAX_PCR_DIGESTS ||
	    n_digests != popcount(got))
		return AHV_TPM_EFORMAT;
	for (unsigned pcr = 0; pcr < TPM_NUM_PCRS; pcr++) {
		if (!(got & (1u << pcr)))
			continue;
		size_t n;
		ahv_tpm_get_tpm2b(&p, values[pcr], AHV_TPM_DIGEST_SIZE, &n);
		if (n != AHV_TPM_DIGEST_SIZE)
			return AHV_TPM_EFORMAT;
	}
	*done = got;
	return ahv_tpm_rd_done(&p);
}

int ahv_tpm_pcr_read(struct ahv_tpm *t, uint32_t mask, ahv_tpm_pcr_values values)
{
	if (!mask_ok(mask) || !values)
		return AHV_TPM_EINVAL;
	while (mask) {
		uint32_t done = 0;
		int err = pcr_read_round(t, mask, &done, values);
		if (err)
			return err;
		/* No progress: the SHA-256 bank lacks these PCRs. */
		if (!done)
			return AHV_TPM_EFORMAT;
		mask &= ~done;
	}
	return AHV_TPM_OK;
}

int ahv_tpm_pcr_extend(struct ahv_tpm *t, unsigned pcr,
		       const uint8_t digest[AHV_TPM_DIGEST_SIZE])
{
	struct ahv_tpm_rd p;
	if (pcr >= TPM_NUM_PCRS || !digest)
		return AHV_TPM_EINVAL;
	uint32_t handle = pcr; /* PCR handles are TPM_HT_PCR << 24 | index */
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_PCR_EXTEND, &handle, &pw);
	ahv_tpm_put_u32(w, 1);              /* TPML_DIGEST_VALUES.count */
	ahv_tpm_put_u16(w, TPM_ALG_SHA256); /* TPMT_HA.hashAlg (P2 s10.3.2) */
	ahv_tpm_put_bytes(w, digest, AHV_TPM_DIGEST_SIZE);
	int err = ahv_tpm_send(t, NULL, &p);
	return err ? err : ahv_tpm_rd_done(&p);
}

int ahv_tpm_pcr_extend_sw(const uint8_t cur[AHV_TPM_DIGEST_SIZE],
			  const uint8_t digest[AHV_TPM_DIGEST_SIZE],
			  uint8_t out[AHV_TPM_DIGEST_SIZE])
{
	ahv_hash_ctx h;
	if (ahv_hash_init(&h, AHV_HASH_SHA256) != AHV_CRYPTO_OK)
		return AHV_TPM_ECRYPTO;
	if (ahv_hash_update(&h, cur, AHV_TPM_DIGEST_SIZE) != AHV_CRYPTO_OK ||
	    ahv_hash_update(&h, digest, AHV_TPM_DIGEST_SIZE) != AHV_CRYPTO_OK) {
		ahv_hash_abort(&h);
		return AHV_TPM_ECRYPTO;
	}
	return ahv_hash_final(&h, out) == AHV_CRYPTO_OK ? AHV_TPM_OK : AHV_TPM_ECRYPTO;
}

int ahv_tpm_policy_pcr_digest(const uint8_t *old, uint32_t mask,
			      const ahv_tpm_pcr_values values,
			      uint8_t out[AHV_TPM_DIGEST_SIZE])
{
	static const uint8_t zero[AHV_TPM_DIGEST_SIZE];
	uint8_t pcr_digest[AHV_TPM_DIGEST_SIZE];
	uint8_t tail[4 + 4 + 2 + 1 + TPM_PCR_SELECT_MIN];
	struct ahv_tpm_wr w;
	ahv_hash_ctx h;
	int ok = 1;

	if (!mask_ok(mask) || !values || !out)
		return AHV_TPM_EINVAL;
	/* digestTPM: hash of the selected PCR values, ascending PCR order. */
	if (ahv_hash_init(&h, AHV_HASH_SHA256) != AHV_CRYPTO_OK)
		return AHV_TPM_ECRYPTO;
	for (unsigned pcr = 0; pcr < TPM_NUM_PCRS; pcr++)
		if (mask & (1u << pcr))
			ok &= ahv_hash_update(&h, values[pcr], AHV_TPM_DIGEST_SIZE) == AHV_CRYPTO_OK;
	if (!ok) {
		ahv_hash_abort(&h);
		return AHV_TPM_ECRYPTO;
	}
	if (ahv_hash_final(&h, pcr_digest) != AHV_CRYPTO_OK)
		return AHV_TPM_ECRYPTO;
	/* TPM_CC_PolicyPCR || pcrs, marshaled as the command marshals them. */
	ahv_tpm_wr_init(&w, tail, sizeof(tail));
	ahv_tpm_put_u32(&w, TPM_CC_PolicyPCR);
	ahv_tpm_put_pcr_selection(&w, mask);
	if (w.err || w.len != sizeof(tail))
		return AHV_TPM_EINVAL;
	if (ahv_hash_init(&h, AHV_HASH_SHA256) != AHV_CRYPTO_OK)
		return AHV_TPM_ECRYPTO;
	ok &= ahv_hash_update(&h, old ? old : zero, AHV_TPM_DIGEST_SIZE) == AHV_CRYPTO_OK;
	ok &= ahv_hash_update(&h, tail, w.len) == AHV_CRYPTO_OK;
	ok &= ahv_hash_update(&h, pcr_digest, sizeof(pcr_digest)) == AHV_CRYPTO_OK;
	if (!ok) {
		ahv_hash_abort(&h);
		return AHV_TPM_ECRYPTO;
	}
	return ahv_hash_final(&h, out) == AHV_CRYPTO_OK ? AHV_TPM_OK : AHV_TPM_ECRYPTO;
}
