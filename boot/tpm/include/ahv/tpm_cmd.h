/*
 * ahv/tpm_cmd.h - the one marshaling mechanism behind every TPM command.
 *
 * A command is described by a row of a table (code, name, number of handles,
 * number of authorization sessions, number of response handles). Building
 * writes the header, the handle area, the authorization area and leaves the
 * writer positioned at the parameter area; sending fixes commandSize, calls
 * the transport and checks the response against the same row:
 *
 *   command  = tag | commandSize | commandCode | handles
 *              [| authorizationSize | TPMS_AUTH_COMMAND...] | parameters
 *   response = tag | responseSize | responseCode | handles
 *              [| parameterSize] | parameters [| TPMS_AUTH_RESPONSE...]
 *   (P1 s18 "Command/Response Structure"; P3 s5 "Command Processing";
 *    TPMS_AUTH_COMMAND / TPMS_AUTH_RESPONSE: P2 s10.13.2 / s10.13.3)
 */
#ifndef AHV_TPM_CMD_H
#define AHV_TPM_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "ahv/tpm_buf.h"
#include "ahv/tpm_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest command and response we build or accept. EFI_TCG2_PROTOCOL with
 * swtpm reports 4096 for both (docs/qemu.md). */
#define AHV_TPM_BUF_SIZE 4096u
#define AHV_TPM_MAX_HANDLES 3u
#define AHV_TPM_MAX_SESSIONS 2u
#define AHV_TPM_MAX_NONCE 64u
/* Commands that the TPM answers with RETRY/YIELDED/TESTING are resent. */
#define AHV_TPM_MAX_RETRIES 16u

/* The transport: send cmd, receive at most rsp_cap bytes into rsp, set
 * *rsp_len. Returns 0 on success; anything else is AHV_TPM_ETRANSPORT.
 * The loader wraps EFI_TCG2_PROTOCOL.SubmitCommand; the tests a socket. */
typedef int (*ahv_tpm_submit_fn)(void *ctx, const uint8_t *cmd, size_t cmd_len,
				 uint8_t *rsp, size_t rsp_cap, size_t *rsp_len);

enum ahv_tpm_cmd_id {
	AHV_TPM_CMD_STARTUP,
	AHV_TPM_CMD_GET_RANDOM,
	AHV_TPM_CMD_PCR_READ,
	AHV_TPM_CMD_PCR_EXTEND,
	AHV_TPM_CMD_CREATE_PRIMARY,
	AHV_TPM_CMD_CREATE,
	AHV_TPM_CMD_LOAD,
	AHV_TPM_CMD_START_AUTH_SESSION,
	AHV_TPM_CMD_POLICY_PCR,
	AHV_TPM_CMD_POLICY_GET_DIGEST,
	AHV_TPM_CMD_UNSEAL,
	AHV_TPM_CMD_FLUSH_CONTEXT,
	AHV_TPM_CMD_QUOTE,
	AHV_TPM_CMD_POLICY_SECRET,
	AHV_TPM_CMD_ACTIVATE_CREDENTIAL,
	AHV_TPM_CMD_NV_READ_PUBLIC,
	AHV_TPM_CMD_NV_READ,
	AHV_TPM_CMD_COUNT_
};

struct ahv_tpm_cmd_desc {
	uint32_t cc;          /* TPM_CC_* */
	const char *name;     /* "TPM2_Unseal" */
	uint8_t n_handles;    /* handles in the command's handle area */
	uint8_t n_auth;       /* authorization sessions required (0: no area) */
	uint8_t n_rsp_handles;/* handles in the response's handle area */
};

/* The row for a command, or NULL for an out-of-range id. */
const struct ahv_tpm_cmd_desc *ahv_tpm_cmd_desc(enum ahv_tpm_cmd_id id);

/* One authorization (TPMS_AUTH_COMMAND): a password session (handle
 * TPM_RS_PW, hmac = the password) or a policy session without HMAC. */
struct ahv_tpm_auth {
	uint32_t handle;
	uint8_t attrs;        /* TPMA_SESSION */
	const uint8_t *nonce;
	uint16_t nonce_len;
	const uint8_t *hmac;  /* password or HMAC; may be NULL with len 0 */
	uint16_t hmac_len;
};
/* A password authorization: session handle TPM_RS_PW, empty nonce, the
 * password in the hmac field (P1 s19 "Password Authorizations"). */
struct ahv_tpm_auth ahv_tpm_auth_password(const uint8_t *pw, uint16_t pw_len);
/* A policy session used as the authorization of the command. */
struct ahv_tpm_auth ahv_tpm_auth_policy(uint32_t session, int keep_open);

/* ---- pure build/check steps (unit-tested without a TPM) ----------------- */

/* Header, handles (d->n_handles of them) and, if d->n_auth, the
 * authorization area (d->n_auth entries of auths). */
void ahv_tpm_cmd_build(struct ahv_tpm_wr *w, const struct ahv_tpm_cmd_desc *d,
		       const uint32_t *handles, const struct ahv_tpm_auth *auths);
/* Patch commandSize; returns AHV_TPM_OK or the writer's error. */
int ahv_tpm_cmd_finish(struct ahv_tpm_wr *w);

/* Check a response to the command d. On success: *rc = 0, rsp_handles
 * (d->n_rsp_handles of them) filled, *params a reader over exactly the
 * parameter area. A TPM error code gives AHV_TPM_ERC with *rc set; any
 * malformation gives AHV_TPM_EFORMAT. */
int ahv_tpm_rsp_check(const struct ahv_tpm_cmd_desc *d, const uint8_t *rsp,
		      size_t rsp_len, uint32_t *rc, uint32_t *rsp_handles,
		      struct ahv_tpm_rd *params);

/* ---- a TPM behind a transport ------------------------------------------ */

struct ahv_tpm {
	ahv_tpm_submit_fn submit;
	void *submit_ctx;
	uint32_t last_rc;     /* TPM_RC of the last command (0 on success) */
	uint32_t last_cc;     /* its TPM_CC */
	const struct ahv_tpm_cmd_desc *cur;
	struct ahv_tpm_wr w;  /* the command being built */
	uint8_t cmd[AHV_TPM_BUF_SIZE];
	uint8_t rsp[AHV_TPM_BUF_SIZE];
};

void ahv_tpm_init(struct ahv_tpm *t, ahv_tpm_submit_fn submit, void *ctx);

/* Start a command: returns the writer for its parameters (the caller
 * marshals them), or NULL for a bad id. */
struct ahv_tpm_wr *ahv_tpm_begin(struct ahv_tpm *t, enum ahv_tpm_cmd_id id,
				 const uint32_t *handles,
				 const struct ahv_tpm_auth *auths);
/* Send it and check the answer (see ahv_tpm_rsp_check); retries on
 * TPM_RC_RETRY/YIELDED/TESTING. rsp_handles may be NULL when the command
 * returns none. The caller then reads *params and ends with
 * ahv_tpm_rd_done(params) so that trailing parameter bytes are rejected. */
int ahv_tpm_send(struct ahv_tpm *t, uint32_t *rsp_handles, struct ahv_tpm_rd *params);

#ifdef __cplusplus
}
#endif
#endif /* AHV_TPM_CMD_H */
