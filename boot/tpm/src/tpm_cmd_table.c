/* The command table: one row per TPM command attest-hv sends. Handle and
 * session counts come from each command's tables in Part 3 (section given
 * with the TPM_CC_* constant in ahv/tpm_spec.h); "n_auth" counts the handles
 * marked with an authorization role (@) in the command's handle area. */
#include <stddef.h>

#include "ahv/tpm_cmd.h"
#include "ahv/tpm_spec.h"

static const struct ahv_tpm_cmd_desc table[AHV_TPM_CMD_COUNT_] = {
	/*                              cc                        name                    hdl auth rsph */
	[AHV_TPM_CMD_STARTUP]            = { TPM_CC_Startup,          "TPM2_Startup",          0, 0, 0 },
	[AHV_TPM_CMD_GET_RANDOM]         = { TPM_CC_GetRandom,        "TPM2_GetRandom",        0, 0, 0 },
	[AHV_TPM_CMD_PCR_READ]           = { TPM_CC_PCR_Read,         "TPM2_PCR_Read",         0, 0, 0 },
	[AHV_TPM_CMD_PCR_EXTEND]         = { TPM_CC_PCR_Extend,       "TPM2_PCR_Extend",       1, 1, 0 },
	[AHV_TPM_CMD_CREATE_PRIMARY]     = { TPM_CC_CreatePrimary,    "TPM2_CreatePrimary",    1, 1, 1 },
	[AHV_TPM_CMD_CREATE]             = { TPM_CC_Create,           "TPM2_Create",           1, 1, 0 },
	[AHV_TPM_CMD_LOAD]               = { TPM_CC_Load,             "TPM2_Load",             1, 1, 1 },
	[AHV_TPM_CMD_START_AUTH_SESSION] = { TPM_CC_StartAuthSession, "TPM2_StartAuthSession", 2, 0, 1 },
	[AHV_TPM_CMD_POLICY_PCR]         = { TPM_CC_PolicyPCR,        "TPM2_PolicyPCR",        1, 0, 0 },
	[AHV_TPM_CMD_POLICY_GET_DIGEST]  = { TPM_CC_PolicyGetDigest,  "TPM2_PolicyGetDigest",  1, 0, 0 },
	[AHV_TPM_CMD_UNSEAL]             = { TPM_CC_Unseal,           "TPM2_Unseal",           1, 1, 0 },
	/* flushHandle is a parameter, not a handle (P3 s28.4) */
	[AHV_TPM_CMD_FLUSH_CONTEXT]      = { TPM_CC_FlushContext,     "TPM2_FlushContext",     0, 0, 0 },
	[AHV_TPM_CMD_QUOTE]              = { TPM_CC_Quote,            "TPM2_Quote",            1, 1, 0 },
	/* authHandle@, policySession (P3 s23.4) */
	[AHV_TPM_CMD_POLICY_SECRET]      = { TPM_CC_PolicySecret,     "TPM2_PolicySecret",     2, 1, 0 },
	/* activateHandle@ (ADMIN), keyHandle@ (USER) (P3 s12.5) */
	[AHV_TPM_CMD_ACTIVATE_CREDENTIAL]= { TPM_CC_ActivateCredential, "TPM2_ActivateCredential", 2, 2, 0 },
	[AHV_TPM_CMD_NV_READ_PUBLIC]     = { TPM_CC_NV_ReadPublic,    "TPM2_NV_ReadPublic",    1, 0, 0 },
	/* authHandle@, nvIndex (P3 s31.13) */
	[AHV_TPM_CMD_NV_READ]            = { TPM_CC_NV_Read,          "TPM2_NV_Read",          2, 1, 0 },
};

const struct ahv_tpm_cmd_desc *ahv_tpm_cmd_desc(enum ahv_tpm_cmd_id id)
{
	if ((unsigned)id >= AHV_TPM_CMD_COUNT_)
		return NULL;
	return &table[id];
}
