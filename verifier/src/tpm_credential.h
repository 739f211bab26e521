/*
 * tpm_credential.h - the verifier's side of TPM credential protection
 * (TPM 2.0 Part 1 s24 "Credential Protection"; Part 3 s12.6
 * TPM2_MakeCredential, done in software as a remote verifier must): a secret
 * that only the TPM holding both the endorsement key and an object of a
 * given Name can recover with TPM2_ActivateCredential.
 */
#ifndef AHV_V_TPM_CREDENTIAL_H
#define AHV_V_TPM_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* KDFa with HMAC-SHA-256 (Part 1 s11.4.10.2): out (bits / 8 bytes) =
 * HMAC(key, [i]32 || label || 0x00 || ctx_u || ctx_v || [bits]32), i = 1.. */
int v_kdfa_sha256(const uint8_t *key, size_t key_len, const char *label,
		  const uint8_t *ctx_u, size_t u_len, const uint8_t *ctx_v,
		  size_t v_len, unsigned bits, uint8_t *out);

/* MakeCredential for an RSA 2048 EK of Template L-1 (nameAlg SHA-256,
 * AES-128-CFB) and the object name (TPM2B_NAME contents: nameAlg || digest).
 * out gets TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET (each with its 16-bit
 * size), what the loader reads from \attest-hv\tpm\credential.bin. 0 on
 * success, -1 with err. */
int v_make_credential(EVP_PKEY *ek, const uint8_t *name, size_t name_len,
		      const uint8_t *secret, size_t secret_len, uint8_t *out,
		      size_t cap, size_t *out_len, char *err, size_t errlen);

#endif
