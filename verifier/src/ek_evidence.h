/*
 * ek_evidence.h - enrollment of a hypervisor key rooted in the TPM's
 * endorsement key (docs/operator-verifier.md "Enrollment"):
 *
 *   ek.crt     the EK certificate (DER), checked against the operator's
 *              manufacturer CA roots (TCG EK Credential Profile 2.0);
 *   ak.pub     the attestation key's TPMT_PUBLIC: a restricted, fixedTPM
 *              ECDSA P-256 signing key; its Name goes into the credential;
 *   quote.msg  TPMS_ATTEST of TPM2_Quote over PCRs 0, 4, 8 (SHA-256) with
 *              extraData = SHA-256 of the hypervisor key's SPKI DER;
 *   quote.sig  its TPMT_SIGNATURE (ECDSA, SHA-256) by the AK.
 *
 * The quote's PCR digest must equal SHA-256(PCR0 || PCR4 || PCR8) of the
 * reference values the operator names. What the files cannot show, that
 * the AK lives in the TPM of that EK, the credential (tpm_credential.h)
 * proves: only that TPM can answer it.
 */
#ifndef AHV_V_EK_EVIDENCE_H
#define AHV_V_EK_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define V_EK_MAX_FILES 8

struct v_ek_trust {
	const char *roots[V_EK_MAX_FILES];         /* PEM files: trusted CA roots */
	const char *intermediates[V_EK_MAX_FILES]; /* PEM files: untrusted chain */
	int n_roots, n_intermediates;
	uint8_t pcr[3][32];                        /* references for PCRs 0, 4, 8 */
	unsigned pcr_set;                          /* bit i: pcr[i] given */
};

/* What a checked evidence directory vouches for. */
struct v_ek_result {
	EVP_PKEY *ek;          /* the certified EK's public key (caller frees) */
	uint8_t ek_cert_sha256[32];
	char ek_subject[160];  /* issuer of the EK certificate, for the record */
	uint8_t ak_name[34];   /* TPM_ALG_SHA256 || SHA-256(TPMT_PUBLIC) */
};

/* Check the evidence in dir for the key whose SPKI DER hashes to key_id.
 * 0 and *res filled, or -1 with the reason in err. */
int v_ek_check(const char *dir, const uint8_t key_id[32], const struct v_ek_trust *tr,
	       struct v_ek_result *res, char *err, size_t errlen);

#endif
