/* Enrollment commands: TPM2_PolicySecret, TPM2_ActivateCredential and the
 * NV reads that fetch the EK certificate (ahv/tpm_commands.h). */
#include <string.h>

#include "ahv/crypto.h"
#include "ahv/tpm_commands.h"

/* Bytes per TPM2_NV_Read; within every TPM's TPM_PT_NV_BUFFER_MAX (the PC
 * Client platform TPM profile requires at least 512). */
#define NV_CHUNK 512u

int ahv_tpm_policy_secret(struct ahv_tpm *t, uint32_t auth_handle, uint32_t session)
{
	struct ahv_tpm_rd p;
	size_t n;
	uint32_t handles[2] = { auth_handle, session };
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_POLICY_SECRET, handles, &pw);
	ahv_tpm_put_tpm2b(w, NULL, 0); /* nonceTPM: none, no expiration binding */
	ahv_tpm_put_tpm2b(w, NULL, 0); /* cpHashA */
	ahv_tpm_put_tpm2b(w, NULL, 0); /* policyRef */
	ahv_tpm_put_u32(w, 0);         /* expiration: none */
	int err = ahv_tpm_send(t, NULL, &p);
	if (err)
		return err;
	(void)ahv_tpm_get_tpm2b_view(&p, 64, &n);  /* timeout */
	(void)ahv_tpm_get_u16(&p);                 /* policyTicket: TPMT_TK_AUTH tag */
	(void)ahv_tpm_get_u32(&p);                 /* hierarchy */
	(void)ahv_tpm_get_tpm2b_view(&p, 64, &n);  /* digest */
	return ahv_tpm_rd_done(&p);
}

int ahv_tpm_activate_credential(struct ahv_tpm *t, uint32_t activate, uint32_t key,
				const struct ahv_tpm_auth *ek_auth,
				const uint8_t *cred, size_t cred_len,
				const uint8_t *secret, size_t secret_len,
				uint8_t *out, size_t cap, size_t *out_len)
{
	struct ahv_tpm_rd p;
	size_t n;

	if (!ek_auth || !cred || !secret || !out || !out_len || cred_len > 1024 || secret_len > 512)
		return AHV_TPM_EINVAL;
	uint32_t handles[2] = { activate, key };
	struct ahv_tpm_auth auths[2] = { ahv_tpm_auth_password(NULL, 0), *ek_auth };
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_ACTIVATE_CREDENTIAL, handles, auths);
	ahv_tpm_put_tpm2b(w, cred, cred_len);     /* credentialBlob: TPM2B_ID_OBJECT */
	ahv_tpm_put_tpm2b(w, secret, secret_len); /* secret: TPM2B_ENCRYPTED_SECRET */
	int err = ahv_tpm_send(t, NULL, &p);
	if (err)
		return err;
	const uint8_t *ci = ahv_tpm_get_tpm2b_view(&p, 64, &n); /* certInfo: TPM2B_DIGEST */
	err = ahv_tpm_rd_done(&p);
	if (!err && n > cap)
		err = AHV_TPM_ENOSPC;
	if (!err) {
		memcpy(out, ci, n);
		*out_len = n;
	}
	ahv_wipe(t->rsp, sizeof(t->rsp));
	return err;
}

/* TPM2_NV_ReadPublic (P3 s31.6): dataSize of the index's TPMS_NV_PUBLIC
 * (P2 s13.5: nvIndex, nameAlg, attributes, authPolicy, dataSize). */
static int nv_size(struct ahv_tpm *t, uint32_t idx, uint16_t *size)
{
	struct ahv_tpm_rd p;
	size_t n;
	ahv_tpm_begin(t, AHV_TPM_CMD_NV_READ_PUBLIC, &idx, NULL);
	int err = ahv_tpm_send(t, NULL, &p);
	if (err)
		return err;
	size_t m = ahv_tpm_get_u16(&p);           /* TPM2B_NV_PUBLIC size */
	if (ahv_tpm_get_u32(&p) != idx && !p.err)
		p.err = AHV_TPM_EFORMAT;
	(void)ahv_tpm_get_u16(&p);                /* nameAlg */
	(void)ahv_tpm_get_u32(&p);                /* attributes */
	(void)ahv_tpm_get_tpm2b_view(&p, 64, &n); /* authPolicy */
	*size = ahv_tpm_get_u16(&p);              /* dataSize */
	if (!p.err && m != 4 + 2 + 4 + 2 + n + 2)
		p.err = AHV_TPM_EFORMAT;
	(void)ahv_tpm_get_tpm2b_view(&p, 2 + 64, &n); /* nvName */
	return ahv_tpm_rd_done(&p);
}

int ahv_tpm_nv_read_all(struct ahv_tpm *t, uint32_t idx, uint8_t *out, size_t cap,
			size_t *out_len)
{
	uint16_t size = 0;
	if (!out || !out_len || (idx >> TPM_HT_SHIFT) != TPM_HT_NV_INDEX)
		return AHV_TPM_EINVAL;
	int err = nv_size(t, idx, &size);
	if (err)
		return err;
	if (size > cap)
		return AHV_TPM_ENOSPC;
	for (size_t off = 0; off < size;) {
		struct ahv_tpm_rd p;
		size_t n, want = size - off < NV_CHUNK ? size - off : NV_CHUNK;
		uint32_t handles[2] = { idx, idx };
		struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
		struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_NV_READ, handles, &pw);
		ahv_tpm_put_u16(w, (uint16_t)want); /* size */
		ahv_tpm_put_u16(w, (uint16_t)off);  /* offset */
		err = ahv_tpm_send(t, NULL, &p);
		if (err)
			return err;
		const uint8_t *d = ahv_tpm_get_tpm2b_view(&p, NV_CHUNK, &n); /* data */
		err = ahv_tpm_rd_done(&p);
		if (!err && n != want)
			err = AHV_TPM_EFORMAT;
		if (err)
			return err;
		memcpy(out + off, d, n);
		off += n;
	}
	*out_len = size;
	return 0;
}
