/* The sealed-blob file format (ahv/tpm_seal.h, docs/tpm.md). Big-endian,
 * written and read with the same bounded writer/reader as TPM commands. */
#include <string.h>

#include "ahv/tpm_seal.h"

int ahv_tpm_blob_write(const struct ahv_tpm_blob *b, uint8_t *out, size_t cap,
		       size_t *len)
{
	struct ahv_tpm_wr w;

	if (!b || !out || !len)
		return AHV_TPM_EINVAL;
	ahv_tpm_wr_init(&w, out, cap);
	ahv_tpm_put_bytes(&w, AHV_TPM_BLOB_MAGIC, AHV_TPM_BLOB_MAGIC_LEN);
	ahv_tpm_put_u16(&w, AHV_TPM_BLOB_VERSION);
	ahv_tpm_put_u16(&w, b->parent_alg);
	ahv_tpm_put_u16(&w, TPM_ALG_SHA256);
	ahv_tpm_put_u32(&w, b->pcr_mask);
	ahv_tpm_put_tpm2b(&w, b->policy, AHV_TPM_DIGEST_SIZE);
	ahv_tpm_put_tpm2b(&w, b->obj.priv, b->obj.priv_len);
	ahv_tpm_put_tpm2b(&w, b->obj.pub, b->obj.pub_len);
	if (w.err)
		return w.err;
	*len = w.len;
	return AHV_TPM_OK;
}

int ahv_tpm_blob_read(const uint8_t *in, size_t len, struct ahv_tpm_blob *b)
{
	struct ahv_tpm_rd r;
	struct ahv_tpm_public_info pub;
	size_t n;

	if (!in || !b)
		return AHV_TPM_EINVAL;
	memset(b, 0, sizeof(*b));
	ahv_tpm_rd_init(&r, in, len);
	const uint8_t *magic = ahv_tpm_get_view(&r, AHV_TPM_BLOB_MAGIC_LEN);
	if (!magic || memcmp(magic, AHV_TPM_BLOB_MAGIC, AHV_TPM_BLOB_MAGIC_LEN) != 0 ||
	    ahv_tpm_get_u16(&r) != AHV_TPM_BLOB_VERSION)
		return AHV_TPM_EBLOB;
	b->parent_alg = ahv_tpm_get_u16(&r);
	uint16_t bank = ahv_tpm_get_u16(&r);
	b->pcr_mask = ahv_tpm_get_u32(&r);
	ahv_tpm_get_tpm2b(&r, b->policy, sizeof(b->policy), &n);
	if (r.err || n != AHV_TPM_DIGEST_SIZE || bank != TPM_ALG_SHA256 ||
	    (b->parent_alg != TPM_ALG_ECC && b->parent_alg != TPM_ALG_RSA) ||
	    b->pcr_mask == 0 || (b->pcr_mask & ~AHV_TPM_PCR_MASK_ALL))
		return AHV_TPM_EBLOB;
	ahv_tpm_get_tpm2b(&r, b->obj.priv, sizeof(b->obj.priv), &n);
	b->obj.priv_len = (uint16_t)n;
	ahv_tpm_get_tpm2b(&r, b->obj.pub, sizeof(b->obj.pub), &n);
	b->obj.pub_len = (uint16_t)n;
	if (ahv_tpm_rd_done(&r) != AHV_TPM_OK || b->obj.priv_len == 0)
		return AHV_TPM_EBLOB;
	/* The public area must be what ahv_tpm_seal made: a sealed data object
	 * only the blob's own policy can open. */
	if (ahv_tpm_public_parse(b->obj.pub, b->obj.pub_len, &pub) != AHV_TPM_OK ||
	    pub.type != TPM_ALG_KEYEDHASH || pub.name_alg != TPM_ALG_SHA256 ||
	    (pub.attrs & TPMA_OBJECT_USERWITHAUTH) ||
	    pub.policy_len != AHV_TPM_DIGEST_SIZE ||
	    memcmp(pub.policy, b->policy, AHV_TPM_DIGEST_SIZE) != 0)
		return AHV_TPM_EBLOB;
	return AHV_TPM_OK;
}
