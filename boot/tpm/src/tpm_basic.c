/* TPM2_Startup, TPM2_GetRandom, TPM2_FlushContext (ahv/tpm_commands.h). */
#include <string.h>

#include "ahv/tpm_commands.h"

int ahv_tpm_startup(struct ahv_tpm *t, uint16_t su)
{
	struct ahv_tpm_rd p;
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_STARTUP, NULL, NULL);
	ahv_tpm_put_u16(w, su); /* startupType (P3 s9.3) */
	int err = ahv_tpm_send(t, NULL, &p);
	return err ? err : ahv_tpm_rd_done(&p);
}

int ahv_tpm_get_random(struct ahv_tpm *t, void *out, size_t len)
{
	uint8_t *dst = out;
	size_t got = 0;

	if (len && !out)
		return AHV_TPM_EINVAL;
	while (got < len) {
		struct ahv_tpm_rd p;
		size_t want = len - got, n;
		if (want > 64)
			want = 64; /* the TPM caps at its largest digest anyway */
		struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_GET_RANDOM, NULL, NULL);
		ahv_tpm_put_u16(w, (uint16_t)want); /* bytesRequested (P3 s16.1) */
		int err = ahv_tpm_send(t, NULL, &p);
		if (err)
			return err;
		/* randomBytes: TPM2B_DIGEST, at most what was asked; an empty
		 * answer would loop forever, so it is malformed here. */
		ahv_tpm_get_tpm2b(&p, dst + got, want, &n);
		err = ahv_tpm_rd_done(&p);
		if (err)
			return err;
		if (n == 0)
			return AHV_TPM_EFORMAT;
		got += n;
	}
	return AHV_TPM_OK;
}

int ahv_tpm_flush(struct ahv_tpm *t, uint32_t handle)
{
	struct ahv_tpm_rd p;
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_FLUSH_CONTEXT, NULL, NULL);
	ahv_tpm_put_u32(w, handle); /* flushHandle, a parameter (P3 s28.4) */
	int err = ahv_tpm_send(t, NULL, &p);
	return err ? err : ahv_tpm_rd_done(&p);
}
