/*
 * ahv/tpm_commands.h - the TPM 2.0 commands attest-hv uses, each one
 * function over struct ahv_tpm (ahv/tpm_cmd.h), plus the software side of
 * PCR arithmetic (extend, PolicyPCR trial digest) with our SHA-256.
 *
 * PCRs are named by a mask: bit n = PCR n (n < 24); only the SHA-256 bank is
 * used. PCR values are passed as arrays indexed by PCR number.
 */
#ifndef AHV_TPM_COMMANDS_H
#define AHV_TPM_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "ahv/tpm_cmd.h"
#include "ahv/tpm_spec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AHV_TPM_DIGEST_SIZE TPM_SHA256_DIGEST_SIZE
#define AHV_TPM_PCR_MASK_ALL ((1u << TPM_NUM_PCRS) - 1u)
#define AHV_TPM_MAX_PRIVATE 512u /* TPM2B_PRIVATE contents we keep */
#define AHV_TPM_MAX_PUBLIC 512u  /* TPM2B_PUBLIC contents (TPMT_PUBLIC) */
#define AHV_TPM_MAX_ATTEST 1024u /* TPM2B_ATTEST contents */

typedef uint8_t ahv_tpm_pcr_values[TPM_NUM_PCRS][AHV_TPM_DIGEST_SIZE];

/* ---- basics -------------------------------------------------------------- */
/* TPM2_Startup(su). A TPM that is already started answers TPM_RC_INITIALIZE
 * (AHV_TPM_ERC with last_rc == TPM_RC_INITIALIZE). Firmware normally does
 * this; the swtpm tests need it. */
int ahv_tpm_startup(struct ahv_tpm *t, uint16_t su);
/* Fill out with len bytes from TPM2_GetRandom (as many calls as needed). */
int ahv_tpm_get_random(struct ahv_tpm *t, void *out, size_t len);
/* TPM2_FlushContext of a transient object or session. */
int ahv_tpm_flush(struct ahv_tpm *t, uint32_t handle);

/* ---- PCRs (SHA-256 bank) ------------------------------------------------- */
/* TPML_PCR_SELECTION with one TPMS_PCR_SELECTION for SHA-256 (P2 s10.9.7,
 * s10.6.2); the one marshaling of PCR selections, shared by commands and the
 * software policy digest. */
void ahv_tpm_put_pcr_selection(struct ahv_tpm_wr *w, uint32_t mask);
/* TPM2_PCR_Read of every PCR in mask into values[pcr]. */
int ahv_tpm_pcr_read(struct ahv_tpm *t, uint32_t mask, ahv_tpm_pcr_values values);
/* TPM2_PCR_Extend(pcr, SHA-256 digest), empty-password authorization. */
int ahv_tpm_pcr_extend(struct ahv_tpm *t, unsigned pcr,
		       const uint8_t digest[AHV_TPM_DIGEST_SIZE]);
/* Software: out = SHA-256(cur || digest) (P3 s22.2 TPM2_PCR_Extend; P1 "PCR Operations"). */
int ahv_tpm_pcr_extend_sw(const uint8_t cur[AHV_TPM_DIGEST_SIZE],
			  const uint8_t digest[AHV_TPM_DIGEST_SIZE],
			  uint8_t out[AHV_TPM_DIGEST_SIZE]);
/* Software trial of TPM2_PolicyPCR (P3 s23.7):
 *   new = SHA-256(old || TPM_CC_PolicyPCR || pcrs || SHA-256(PCR values))
 * with pcrs = ahv_tpm_put_pcr_selection(mask) and the values of the selected
 * PCRs concatenated in ascending PCR order. old NULL = 32 zero bytes (a
 * fresh session). */
int ahv_tpm_policy_pcr_digest(const uint8_t *old, uint32_t mask,
			      const ahv_tpm_pcr_values values,
			      uint8_t out[AHV_TPM_DIGEST_SIZE]);

/* ---- objects ----------------------------------------------------------- */
enum ahv_tpm_key_template {
	/* Storage parents (restricted decrypt, AES-128-CFB), the SRK shape. */
	AHV_TPM_KEY_STORAGE_ECC,  /* ECC NIST P-256 */
	AHV_TPM_KEY_STORAGE_RSA,  /* RSA-2048 */
	/* Attestation key: restricted signing, ECDSA/SHA-256 on P-256. */
	AHV_TPM_KEY_AK_ECC,
	/* Endorsement key, EK Credential Profile Template L-1 (RSA 2048), under
	 * TPM_RH_ENDORSEMENT; its authPolicy is ahv_tpm_ek_policy. */
	AHV_TPM_KEY_EK_RSA,
	AHV_TPM_KEY_COUNT_
};
/* PolicySecret(TPM_RH_ENDORSEMENT) digest, the EK's authPolicy (EK Credential
 * Profile 2.0 s2.1.5.4 "Policy A"). */
extern const uint8_t ahv_tpm_ek_policy[AHV_TPM_DIGEST_SIZE];

/* A sealed data object as TPM2_Create returns it (the TPM2B contents). */
struct ahv_tpm_object {
	uint16_t priv_len;
	uint16_t pub_len;
	uint8_t priv[AHV_TPM_MAX_PRIVATE];
	uint8_t pub[AHV_TPM_MAX_PUBLIC];
};

/* What attest-hv reads back from a TPMT_PUBLIC (P2 s12.2.4). */
struct ahv_tpm_public_info {
	uint16_t type;        /* TPM_ALG_ECC / RSA / KEYEDHASH */
	uint16_t name_alg;
	uint32_t attrs;       /* TPMA_OBJECT */
	uint16_t policy_len;
	uint8_t policy[AHV_TPM_DIGEST_SIZE];
	uint8_t ecc_point[65]; /* ECC only: SEC1 uncompressed 0x04||X||Y */
};
/* Strict parse of a TPMT_PUBLIC (the contents of a TPM2B_PUBLIC) for the
 * shapes above: ECC (P-256), RSA and KEYEDHASH, every length checked. */
int ahv_tpm_public_parse(const uint8_t *pub, size_t len, struct ahv_tpm_public_info *info);

/* TPM2_CreatePrimary(hierarchy, template) with an empty-password
 * authorization of the hierarchy; *handle gets the transient handle.
 * pub/pub_cap/pub_len (may be NULL) receive the TPMT_PUBLIC. The same
 * template under the same hierarchy seed gives the same key every boot. */
int ahv_tpm_create_primary(struct ahv_tpm *t, uint32_t hierarchy,
			   enum ahv_tpm_key_template tmpl, uint32_t *handle,
			   uint8_t *pub, size_t pub_cap, size_t *pub_len);
/* TPM2_Create of a sealed data object (KEYEDHASH, TPM_ALG_NULL scheme)
 * holding secret (1..128 bytes) under parent: fixedTPM|fixedParent|noDA|
 * adminWithPolicy, userWithAuth CLEAR, authPolicy = policy. Only a policy
 * session whose digest equals policy can unseal it. */
int ahv_tpm_create_sealed(struct ahv_tpm *t, uint32_t parent,
			  const uint8_t policy[AHV_TPM_DIGEST_SIZE],
			  const void *secret, size_t secret_len,
			  struct ahv_tpm_object *out);
/* TPM2_Load of an object under parent. */
int ahv_tpm_load(struct ahv_tpm *t, uint32_t parent, const struct ahv_tpm_object *obj,
		 uint32_t *handle);
/* TPM2_Unseal(item) authorized by auth (a policy session for our objects). */
int ahv_tpm_unseal_object(struct ahv_tpm *t, uint32_t item, const struct ahv_tpm_auth *auth,
			  void *out, size_t cap, size_t *out_len);

/* ---- policy sessions ------------------------------------------------------ */
/* TPM2_StartAuthSession: unsalted (tpmKey = TPM_RH_NULL), unbound (bind =
 * TPM_RH_NULL), no symmetric, SHA-256; a policy session, or a trial one
 * (trial != 0) that only computes digests. nonce: 16..32 bytes. */
int ahv_tpm_start_policy_session(struct ahv_tpm *t, int trial, const uint8_t *nonce,
				 size_t nonce_len, uint32_t *session);
/* TPM2_PolicyPCR(session, pcrDigest = empty, pcrs = mask): the TPM uses the
 * current values of the PCRs. */
int ahv_tpm_policy_pcr(struct ahv_tpm *t, uint32_t session, uint32_t mask);
/* TPM2_PolicyGetDigest(session). */
int ahv_tpm_policy_get_digest(struct ahv_tpm *t, uint32_t session,
			      uint8_t digest[AHV_TPM_DIGEST_SIZE]);

/* ---- evidence ---------------------------------------------------------- */
/* TPM2_Quote(ak, qualifying data, PCR mask) with the key's own scheme
 * (ECDSA/SHA-256). attest gets the TPMS_ATTEST bytes (the signed message),
 * sig the raw r||s (64 bytes, left-padded). */
int ahv_tpm_quote(struct ahv_tpm *t, uint32_t ak, const void *qualifying, size_t q_len,
		  uint32_t mask, uint8_t *attest, size_t attest_cap, size_t *attest_len,
		  uint8_t sig[64]);

/* The fields of a quote's TPMS_ATTEST a verifier checks. */
struct ahv_tpm_quote_info {
	uint16_t extra_len;
	uint8_t extra[64];                      /* extraData = qualifyingData */
	uint32_t pcr_mask;                      /* the quoted PCRs (SHA-256) */
	uint8_t pcr_digest[AHV_TPM_DIGEST_SIZE];/* SHA-256 of their values */
};
/* Strict parse of a TPM_ST_ATTEST_QUOTE TPMS_ATTEST (P2 s10.12.12). The
 * signature over it is ECDSA over SHA-256(attest) (ahv_ecdsa_verify_raw). */
int ahv_tpm_quote_parse(const uint8_t *attest, size_t len, struct ahv_tpm_quote_info *info);

/* ---- enrollment: EK certificate and credential activation --------------- */
/* TPM2_PolicySecret(auth_handle, session) with an empty-password
 * authorization of auth_handle (P3 s23.4): no nonce, cpHash, policyRef or
 * expiration. With TPM_RH_ENDORSEMENT it satisfies the EK's policy. */
int ahv_tpm_policy_secret(struct ahv_tpm *t, uint32_t auth_handle, uint32_t session);
/* TPM2_ActivateCredential (P3 s12.5; P1 s24 "Credential Protection"):
 * activate (the AK, ADMIN role, empty password) and key (the EK, USER role,
 * authorized by ek_auth, e.g. a policy session after PolicySecret). The
 * credential blob (TPM2B_ID_OBJECT contents) and encrypted seed
 * (TPM2B_ENCRYPTED_SECRET contents) come from MakeCredential; out gets
 * certInfo, the secret. The TPM answers TPM_RC_INTEGRITY (AHV_TPM_ERC) when
 * the credential was made for another key name or another EK. */
int ahv_tpm_activate_credential(struct ahv_tpm *t, uint32_t activate, uint32_t key,
				const struct ahv_tpm_auth *ek_auth,
				const uint8_t *cred, size_t cred_len,
				const uint8_t *secret, size_t secret_len,
				uint8_t *out, size_t cap, size_t *out_len);
/* The whole data of NV index idx (TPM2_NV_ReadPublic for its size, then
 * TPM2_NV_Read in chunks, authorized by the index itself with an empty
 * password: TPMA_NV_AUTHREAD, P3 s31.13). */
int ahv_tpm_nv_read_all(struct ahv_tpm *t, uint32_t idx, uint8_t *out, size_t cap,
			size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* AHV_TPM_COMMANDS_H */
