/* Named statuses and TPM_RC helpers (ahv/tpm_status.h). */
#include <stddef.h>

#include "ahv/tpm_spec.h"
#include "ahv/tpm_status.h"

const char *ahv_tpm_strerror(int err)
{
	switch (err) {
	case AHV_TPM_OK: return "ok";
	case AHV_TPM_EINVAL: return "invalid argument";
	case AHV_TPM_ENOSPC: return "buffer too small";
	case AHV_TPM_ETRANSPORT: return "TPM transport failed";
	case AHV_TPM_EFORMAT: return "malformed TPM response";
	case AHV_TPM_ERC: return "TPM returned an error code";
	case AHV_TPM_EPOLICY: return "PCR policy not satisfied (PCRs changed or locked)";
	case AHV_TPM_EBLOB: return "malformed sealed blob";
	case AHV_TPM_ECRYPTO: return "crypto failure";
	case AHV_TPM_EAUTH: return "TPM authorization refused";
	case AHV_TPM_ENOLOAD: return "TPM refuses the sealed blob (other TPM, cleared, or altered)";
	default: return "unknown TPM library error";
	}
}

uint32_t ahv_tpm_rc_base(uint32_t rc)
{
	if (rc & TPM_RC_FMT1)
		return rc & TPM_RC_FMT1_ERROR_MASK;
	return rc;
}

int ahv_tpm_auth_status(uint32_t rc)
{
	switch (ahv_tpm_rc_base(rc)) {
	case TPM_RC_POLICY_FAIL:
	case TPM_RC_PCR_CHANGED:
		return AHV_TPM_EPOLICY;
	case TPM_RC_AUTH_UNAVAILABLE:
	case TPM_RC_AUTH_FAIL:
	case TPM_RC_BAD_AUTH:
		return AHV_TPM_EAUTH;
	default:
		return AHV_TPM_ERC;
	}
}

static const struct {
	uint32_t rc;
	const char *name;
} rc_names[] = {
	{ TPM_RC_SUCCESS, "TPM_RC_SUCCESS" },
	{ TPM_RC_INITIALIZE, "TPM_RC_INITIALIZE" },
	{ TPM_RC_PCR_CHANGED, "TPM_RC_PCR_CHANGED" },
	{ TPM_RC_VALUE, "TPM_RC_VALUE" },
	{ TPM_RC_POLICY_FAIL, "TPM_RC_POLICY_FAIL" },
	{ TPM_RC_AUTH_UNAVAILABLE, "TPM_RC_AUTH_UNAVAILABLE" },
	{ TPM_RC_INTEGRITY, "TPM_RC_INTEGRITY" },
	{ TPM_RC_AUTH_FAIL, "TPM_RC_AUTH_FAIL" },
	{ TPM_RC_BAD_AUTH, "TPM_RC_BAD_AUTH" },
	{ TPM_RC_YIELDED, "TPM_RC_YIELDED" },
	{ TPM_RC_TESTING, "TPM_RC_TESTING" },
	{ TPM_RC_RETRY, "TPM_RC_RETRY" },
};

const char *ahv_tpm_rc_name(uint32_t rc)
{
	uint32_t base = ahv_tpm_rc_base(rc);
	for (size_t i = 0; i < sizeof(rc_names) / sizeof(rc_names[0]); i++)
		if (rc_names[i].rc == base)
			return rc_names[i].name;
	return NULL;
}
