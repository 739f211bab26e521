/*
 * ahv/tpm_seal.h - seal a secret (the hypervisor's ECDSA private key) to
 * PCR values, unseal it, and lock it for the rest of the boot.
 *
 *   first boot:  ahv_tpm_seal()   -> blob (store it on the ESP)
 *   later boots: ahv_tpm_unseal() -> secret, or AHV_TPM_EPOLICY when the
 *                firmware, hypervisor image or config PCRs differ
 *   every boot:  ahv_tpm_lock()   after seal/unseal, before the guest runs:
 *                extends the lock PCR so the policy can no longer be met.
 *
 * The blob format and the PCR policy are documented in docs/tpm.md.
 */
#ifndef AHV_TPM_SEAL_H
#define AHV_TPM_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "ahv/tpm_commands.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which PCRs the hypervisor's key is sealed to (docs/tpm.md). */
#define AHV_TPM_PCR_FIRMWARE 0u  /* SRTM: platform firmware code */
#define AHV_TPM_PCR_HV_IMAGE 4u  /* boot manager code: the firmware's
                                  * measurement of the attest-hv EFI image */
#define AHV_TPM_PCR_HV_CONFIG 8u /* the loader's measurement of the config
                                  * and the enrolled guest keys */
#define AHV_TPM_PCR_LOCK AHV_TPM_PCR_HV_CONFIG /* extended by ahv_tpm_lock */
#define AHV_TPM_SEAL_PCRS_DEFAULT \
	((1u << AHV_TPM_PCR_FIRMWARE) | (1u << AHV_TPM_PCR_HV_IMAGE) | \
	 (1u << AHV_TPM_PCR_HV_CONFIG))
/* The lock event: PCR AHV_TPM_PCR_LOCK is extended with SHA-256 of these
 * bytes (no NUL). A loader that logs it with HashLogExtendEvent over the
 * same bytes extends the same SHA-256 value. */
#define AHV_TPM_LOCK_EVENT "attest-hv: sealed key locked for this boot"

/* ---- blob ---------------------------------------------------------------- */
#define AHV_TPM_BLOB_MAGIC "AHVTPMSL" /* 8 bytes, no NUL */
#define AHV_TPM_BLOB_MAGIC_LEN 8u
#define AHV_TPM_BLOB_VERSION 1u
#define AHV_TPM_BLOB_HEADER 18u       /* magic, version, parent, bank, mask */
#define AHV_TPM_BLOB_MAX (AHV_TPM_BLOB_HEADER + 2u + AHV_TPM_DIGEST_SIZE + \
			  2u + AHV_TPM_MAX_PRIVATE + 2u + AHV_TPM_MAX_PUBLIC)
#define AHV_TPM_SECRET_MAX TPM_MAX_SYM_DATA /* 128 bytes */

struct ahv_tpm_blob {
	uint16_t parent_alg;   /* TPM_ALG_ECC or TPM_ALG_RSA: the SRK template */
	uint32_t pcr_mask;     /* the PolicyPCR selection (SHA-256 bank) */
	uint8_t policy[AHV_TPM_DIGEST_SIZE]; /* the object's authPolicy */
	struct ahv_tpm_object obj;           /* TPM2B_PRIVATE, TPM2B_PUBLIC */
};

int ahv_tpm_blob_write(const struct ahv_tpm_blob *b, uint8_t *out, size_t cap,
		       size_t *len);
/* Strict: magic, version, known parent and bank, PCR mask within 0..23,
 * a 32-byte policy, a TPMT_PUBLIC that is a KEYEDHASH object with
 * userWithAuth clear and authPolicy equal to the policy, no trailing
 * bytes. Anything else: AHV_TPM_EBLOB. */
int ahv_tpm_blob_read(const uint8_t *in, size_t len, struct ahv_tpm_blob *b);

/* ---- flows --------------------------------------------------------------- */
/* Seal secret (1..128 bytes) under the owner hierarchy's primary storage key
 * made from template parent (AHV_TPM_KEY_STORAGE_ECC or _RSA; recreated on
 * every use, never persisted), with authPolicy = PolicyPCR(pcr_mask) over
 * `expected` values, or over the PCRs' current values when expected is NULL.
 * Assumes an empty owner authorization. */
int ahv_tpm_seal(struct ahv_tpm *t, enum ahv_tpm_key_template parent, uint32_t pcr_mask,
		 const ahv_tpm_pcr_values expected, const void *secret, size_t secret_len,
		 uint8_t *blob, size_t blob_cap, size_t *blob_len);
/* Unseal a blob. AHV_TPM_EPOLICY: the PCRs are not in the sealed state
 * (changed firmware/image/config, or locked); AHV_TPM_ENOLOAD: the TPM
 * refuses the blob (another TPM, owner hierarchy cleared, blob altered);
 * AHV_TPM_EBLOB: malformed blob. No TPM object or session stays loaded. */
int ahv_tpm_unseal(struct ahv_tpm *t, const uint8_t *blob, size_t blob_len,
		   void *secret, size_t secret_cap, size_t *secret_len);
/* SHA-256(AHV_TPM_LOCK_EVENT). */
int ahv_tpm_lock_digest(uint8_t out[AHV_TPM_DIGEST_SIZE]);
/* Extend pcr (normally AHV_TPM_PCR_LOCK) with ahv_tpm_lock_digest(). */
int ahv_tpm_lock(struct ahv_tpm *t, unsigned pcr);

#ifdef __cplusplus
}
#endif
#endif /* AHV_TPM_SEAL_H */
