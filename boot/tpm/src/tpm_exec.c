/* Command building and response checking for every command (ahv/tpm_cmd.h). */
#include <string.h>

#include "ahv/tpm_cmd.h"
#include "ahv/tpm_spec.h"

/* Offset of commandSize in the header (P1 s18.2). */
#define HDR_SIZE_OFFSET 2u

struct ahv_tpm_auth ahv_tpm_auth_password(const uint8_t *pw, uint16_t pw_len)
{
	struct ahv_tpm_auth a;
	memset(&a, 0, sizeof(a));
	a.handle = TPM_RS_PW;
	/* continueSession is meaningless for TPM_RS_PW; the TPM echoes it set. */
	a.attrs = TPMA_SESSION_CONTINUESESSION;
	a.hmac = pw;
	a.hmac_len = pw ? pw_len : 0;
	return a;
}

struct ahv_tpm_auth ahv_tpm_auth_policy(uint32_t session, int keep_open)
{
	struct ahv_tpm_auth a;
	memset(&a, 0, sizeof(a));
	a.handle = session;
	a.attrs = keep_open ? TPMA_SESSION_CONTINUESESSION : 0;
	return a;
}

void ahv_tpm_cmd_build(struct ahv_tpm_wr *w, const struct ahv_tpm_cmd_desc *d,
		       const uint32_t *handles, const struct ahv_tpm_auth *auths)
{
	if (!d || (d->n_handles && !handles) || (d->n_auth && !auths) ||
	    d->n_handles > AHV_TPM_MAX_HANDLES || d->n_auth > AHV_TPM_MAX_SESSIONS) {
		if (!w->err)
			w->err = AHV_TPM_EINVAL;
		return;
	}
	ahv_tpm_put_u16(w, d->n_auth ? TPM_ST_SESSIONS : TPM_ST_NO_SESSIONS);
	ahv_tpm_put_u32(w, 0); /* commandSize, patched by ahv_tpm_cmd_finish */
	ahv_tpm_put_u32(w, d->cc);
	for (unsigned i = 0; i < d->n_handles; i++)
		ahv_tpm_put_u32(w, handles[i]);
	if (!d->n_auth)
		return;
	size_t area = w->len;
	ahv_tpm_put_u32(w, 0); /* authorizationSize */
	for (unsigned i = 0; i < d->n_auth; i++) {
		ahv_tpm_put_u32(w, auths[i].handle);
		ahv_tpm_put_tpm2b(w, auths[i].nonce, auths[i].nonce_len);
		ahv_tpm_put_u8(w, auths[i].attrs);
		ahv_tpm_put_tpm2b(w, auths[i].hmac, auths[i].hmac_len);
	}
	ahv_tpm_patch_u32(w, area, (uint32_t)(w->len - area - 4));
}

int ahv_tpm_cmd_finish(struct ahv_tpm_wr *w)
{
	if (!w->err && w->len < TPM_HEADER_SIZE)
		w->err = AHV_TPM_EINVAL;
	ahv_tpm_patch_u32(w, HDR_SIZE_OFFSET, (uint32_t)w->len);
	return w->err;
}

/* One TPMS_AUTH_RESPONSE: nonceTPM, sessionAttributes, hmac (P2 s10.13.3). */
static void skip_auth_response(struct ahv_tpm_rd *r)
{
	size_t n;
	(void)ahv_tpm_get_tpm2b_view(r, AHV_TPM_MAX_NONCE, &n);
	(void)ahv_tpm_get_u8(r);
	(void)ahv_tpm_get_tpm2b_view(r, AHV_TPM_MAX_NONCE, &n);
}

int ahv_tpm_rsp_check(const struct ahv_tpm_cmd_desc *d, const uint8_t *rsp,
		      size_t rsp_len, uint32_t *rc, uint32_t *rsp_handles,
		      struct ahv_tpm_rd *params)
{
	struct ahv_tpm_rd r;

	*rc = 0;
	ahv_tpm_rd_init(params, NULL, 0);
	if (!d || (d->n_rsp_handles && !rsp_handles))
		return AHV_TPM_EINVAL;
	ahv_tpm_rd_init(&r, rsp, rsp_len);
	uint16_t tag = ahv_tpm_get_u16(&r);
	uint32_t size = ahv_tpm_get_u32(&r);
	uint32_t code = ahv_tpm_get_u32(&r);
	if (r.err || size != rsp_len)
		return AHV_TPM_EFORMAT;
	*rc = code;
	if (code != TPM_RC_SUCCESS) {
		/* An error response is the bare header, tagged NO_SESSIONS (or
		 * RSP_COMMAND for a TPM 1.2-format answer) (P3 s5.1). */
		if (size != TPM_HEADER_SIZE ||
		    (tag != TPM_ST_NO_SESSIONS && tag != TPM_ST_RSP_COMMAND))
			return AHV_TPM_EFORMAT;
		return AHV_TPM_ERC;
	}
	/* A command with sessions is answered with sessions (P1 s18.2.1). */
	if (tag != (d->n_auth ? TPM_ST_SESSIONS : TPM_ST_NO_SESSIONS))
		return AHV_TPM_EFORMAT;
	for (unsigned i = 0; i < d->n_rsp_handles; i++)
		rsp_handles[i] = ahv_tpm_get_u32(&r);
	if (d->n_auth) {
		uint32_t psize = ahv_tpm_get_u32(&r);
		if (r.err || psize > ahv_tpm_rd_left(&r))
			return AHV_TPM_EFORMAT;
		ahv_tpm_rd_sub(&r, psize, params);
		/* One TPMS_AUTH_RESPONSE per session of the command, and nothing
		 * after them. */
		for (unsigned i = 0; i < d->n_auth; i++)
			skip_auth_response(&r);
	} else {
		ahv_tpm_rd_sub(&r, ahv_tpm_rd_left(&r), params);
	}
	if (ahv_tpm_rd_done(&r) != AHV_TPM_OK) {
		ahv_tpm_rd_init(params, NULL, 0);
		return AHV_TPM_EFORMAT;
	}
	return AHV_TPM_OK;
}

void ahv_tpm_init(struct ahv_tpm *t, ahv_tpm_submit_fn submit, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->submit = submit;
	t->submit_ctx = ctx;
}

struct ahv_tpm_wr *ahv_tpm_begin(struct ahv_tpm *t, enum ahv_tpm_cmd_id id,
				 const uint32_t *handles,
				 const struct ahv_tpm_auth *auths)
{
	t->cur = ahv_tpm_cmd_desc(id);
	if (!t->cur)
		return NULL;
	t->last_cc = t->cur->cc;
	t->last_rc = 0;
	ahv_tpm_wr_init(&t->w, t->cmd, sizeof(t->cmd));
	ahv_tpm_cmd_build(&t->w, t->cur, handles, auths);
	return &t->w;
}

static int is_retry(uint32_t rc)
{
	return rc == TPM_RC_RETRY || rc == TPM_RC_YIELDED || rc == TPM_RC_TESTING;
}

int ahv_tpm_send(struct ahv_tpm *t, uint32_t *rsp_handles, struct ahv_tpm_rd *params)
{
	ahv_tpm_rd_init(params, NULL, 0);
	if (!t->cur || !t->submit)
		return AHV_TPM_EINVAL;
	int err = ahv_tpm_cmd_finish(&t->w);
	if (err)
		return err;
	for (unsigned attempt = 0;; attempt++) {
		size_t got = 0;
		if (t->submit(t->submit_ctx, t->cmd, t->w.len, t->rsp,
			      sizeof(t->rsp), &got) != 0 ||
		    got > sizeof(t->rsp))
			return AHV_TPM_ETRANSPORT;
		err = ahv_tpm_rsp_check(t->cur, t->rsp, got, &t->last_rc,
					rsp_handles, params);
		if (err != AHV_TPM_ERC || !is_retry(t->last_rc) ||
		    attempt + 1 >= AHV_TPM_MAX_RETRIES)
			return err;
	}
}
