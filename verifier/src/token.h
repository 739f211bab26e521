/*
 * token.h - ES256 JWT with EAT claims, the JWKS document, and the JSON
 * description of a decision shared by tokens and the audit log.
 */
#ifndef AHV_TOKEN_H
#define AHV_TOKEN_H

#include <jansson.h>
#include <openssl/evp.h>

#include "verify.h"

struct v_signer {
	EVP_PKEY *pk;
	char kid[48];  /* RFC 7638 thumbprint, base64url */
	char *jwks;    /* JWKS JSON text */
};

int v_signer_load(struct v_signer *s, const char *path, char *err,
		  size_t errlen);
void v_signer_free(struct v_signer *s);

/* Measurements and per-region verdicts of an authenticated-or-not report
 * that passed v_check_report (NULL otherwise). */
json_t *v_decision_json(const struct v_submission *sub,
			const struct v_decision *dec,
			const struct v_policy *pol);

/* Signed compact JWS (malloc'd) or NULL. claims: v_decision_json() output,
 * to which the JWT/EAT claims are added (it is modified). */
char *v_token_issue(const struct v_signer *s, const char *issuer,
		    int64_t iat, int64_t ttl_s, const char *jti,
		    const struct v_submission *sub, json_t *claims);

/* The same decision as JSON object text with "authenticated" (malloc'd,
 * NUL terminated, length in *len) or NULL: what the daemon stores in the
 * audit log, built without jansson trees. */
char *v_decision_text(const struct v_submission *sub,
		      const struct v_decision *dec,
		      const struct v_policy *pol, bool authenticated,
		      size_t *len);

/* v_token_issue() with v_decision_text() output as the base claims. */
char *v_token_issue_text(const struct v_signer *s, const char *issuer,
			 int64_t iat, int64_t ttl_s, const char *jti,
			 const struct v_submission *sub, const char *ev,
			 size_t ev_len);

#endif
