/*
 * ahv/tpm_status.h - the named statuses of attest-hv's TPM library.
 *
 * Every function returns AHV_TPM_OK (0) or one of the negative codes below.
 * AHV_TPM_ERC means "the TPM answered with a response code we do not map to
 * a more specific status"; the raw TPM_RC is in ahv_tpm.last_rc.
 */
#ifndef AHV_TPM_STATUS_H
#define AHV_TPM_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	AHV_TPM_OK = 0,
	AHV_TPM_EINVAL = -1,     /* bad argument (NULL, PCR out of range, ...) */
	AHV_TPM_ENOSPC = -2,     /* command or output does not fit its buffer */
	AHV_TPM_ETRANSPORT = -3, /* the submit callback failed */
	AHV_TPM_EFORMAT = -4,    /* malformed response (tag, size, trailing bytes) */
	AHV_TPM_ERC = -5,        /* the TPM returned an error code (see last_rc) */
	AHV_TPM_EPOLICY = -6,    /* PCR policy not satisfied: PCRs differ from the
	                          * sealed state (changed image/config/firmware, or
	                          * the lock extend already happened) */
	AHV_TPM_EBLOB = -7,      /* sealed blob malformed or of an unknown version */
	AHV_TPM_ECRYPTO = -8,    /* the crypto API (SHA-256) failed */
	AHV_TPM_EAUTH = -9,      /* authorization refused (e.g. a password session
	                          * on an object that only a policy may use) */
	AHV_TPM_ENOLOAD = -10,   /* the TPM refuses to load a sealed blob: another
	                          * TPM, owner hierarchy cleared, blob altered */
};

const char *ahv_tpm_strerror(int err);

/* The response code without its handle/session/parameter number, so that
 * e.g. TPM_RC_POLICY_FAIL reported against session 1 (0x99D) compares equal
 * to TPM_RC_POLICY_FAIL (0x09D). P2 s6.6.2. */
uint32_t ahv_tpm_rc_base(uint32_t rc);
/* The named status for a TPM error on an authorized command: POLICY_FAIL
 * and PCR_CHANGED are AHV_TPM_EPOLICY, AUTH_UNAVAILABLE/AUTH_FAIL/BAD_AUTH
 * AHV_TPM_EAUTH, anything else AHV_TPM_ERC. */
int ahv_tpm_auth_status(uint32_t rc);
/* A short name for the common codes ("TPM_RC_POLICY_FAIL"), else NULL. */
const char *ahv_tpm_rc_name(uint32_t rc);

#ifdef __cplusplus
}
#endif
#endif /* AHV_TPM_STATUS_H */
