/* verifier.c - the client of attest-verifierd (docs/verifier.md): challenge,
 * submission, and the ES256 token check against the JWKS. libcurl + jansson
 * + OpenSSL. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "internal.h"

struct ahvl_verifier {
	char *base;
	char *ca;
	long timeout_ms;
	bool insecure_http;  /* http:// allowed: local tests only */
	char *jwks;          /* pinned, or fetched once from jwks_url */
	char *jwks_url;      /* the configured trusted source of the JWKS */
	char *issuer;        /* the token's "iss" must equal it */
	char err_code[64];
};

static bool is_https(const char *url)
{
	return !strncmp(url, "https://", 8);
}

static bool url_allowed(const ahvl_verifier *v, const char *url)
{
	return is_https(url) || (v->insecure_http && !strncmp(url, "http://", 7));
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int verifier_new(ahvl_verifier **out, const char *base_url, bool insecure_http)
{
	if (!out || !base_url)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (!is_https(base_url) && !(insecure_http && !strncmp(base_url, "http://", 7)))
		return ahvl_fail(AHVL_E_INVALID, insecure_http ? "the verifier URL must start with http:// or https://"
							       : "the verifier URL must start with https:// (http:// only "
								 "through ahvl_verifier_new_insecure_http, for local tests)");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return ahvl_fail(AHVL_E_NETWORK, "libcurl initialisation failed");
	ahvl_verifier *v = calloc(1, sizeof *v);
	if (!v || !(v->base = strdup(base_url))) {
		free(v);
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	size_t l = strlen(v->base);
	while (l && v->base[l - 1] == '/')
		v->base[--l] = 0;
	v->timeout_ms = 10000;
	v->insecure_http = insecure_http;
	*out = v;
	return AHVL_OK;
}

int ahvl_verifier_new(ahvl_verifier **out, const char *base_url)
{
	return verifier_new(out, base_url, false);
}

int ahvl_verifier_new_insecure_http(ahvl_verifier **out, const char *base_url)
{
	return verifier_new(out, base_url, true);
}

void ahvl_verifier_free(ahvl_verifier *v)
{
	if (!v)
		return;
	free(v->base);
	free(v->ca);
	free(v->jwks);
	free(v->jwks_url);
	free(v->issuer);
	free(v);
}

/* Replace *slot with a copy of s. */
static int set_str(char **slot, const char *s)
{
	char *c = strdup(s);
	if (!c)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	free(*slot);
	*slot = c;
	return AHVL_OK;
}

int ahvl_verifier_set_issuer(ahvl_verifier *v, const char *issuer)
{
	if (!v || !issuer || !issuer[0])
		return ahvl_fail(AHVL_E_INVALID, "the issuer must be a non-empty string");
	return set_str(&v->issuer, issuer);
}

int ahvl_verifier_pin_jwks(ahvl_verifier *v, const char *jwks_json)
{
	json_error_t je;
	json_t *j = jwks_json ? json_loads(jwks_json, JSON_REJECT_DUPLICATES, &je) : NULL;
	bool ok = json_is_array(json_object_get(j, "keys"));
	json_decref(j);
	if (!v || !ok)
		return ahvl_fail(AHVL_E_INVALID, "the pinned JWKS must be a JSON object with a \"keys\" array");
	return set_str(&v->jwks, jwks_json);
}

int ahvl_verifier_set_jwks_url(ahvl_verifier *v, const char *url)
{
	if (!v || !url || !url_allowed(v, url))
		return ahvl_fail(AHVL_E_INVALID, "the JWKS URL must start with https://");
	free(v->jwks); /* a new source: fetch again */
	v->jwks = NULL;
	return set_str(&v->jwks_url, url);
}

int ahvl_verifier_set_ca(ahvl_verifier *v, const char *ca_file)
{
	if (!v)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	free(v->ca);
	v->ca = ca_file ? strdup(ca_file) : NULL;
	return ca_file && !v->ca ? ahvl_fail(AHVL_E_NOMEM, "out of memory") : AHVL_OK;
}

int ahvl_verifier_set_timeout(ahvl_verifier *v, long ms)
{
	if (!v || ms <= 0)
		return ahvl_fail(AHVL_E_INVALID, "bad argument");
	v->timeout_ms = ms;
	return AHVL_OK;
}

const char *ahvl_verifier_error_code(const ahvl_verifier *v)
{
	return v ? v->err_code : "";
}

struct buf {
	char *p;
	size_t n;
};

static size_t sink(char *d, size_t s, size_t n, void *u)
{
	struct buf *b = u;
	size_t add = s * n;
	if (b->n + add > (1u << 20))
		return 0; /* answers are small; refuse a flood */
	char *np = realloc(b->p, b->n + add + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, d, add);
	b->p = np;
	b->n += add;
	b->p[b->n] = 0;
	return add;
}

/* One HTTP exchange with url. body NULL: GET (or an empty POST if post).
 * https only, unless the caller opted out for a local test; redirects are
 * not followed (libcurl's default). */
static int http_url(ahvl_verifier *v, const char *url, bool post, const char *body,
		    long *status, json_t **resp)
{
	struct buf b = {0};
	CURL *c = curl_easy_init();
	if (!c)
		return ahvl_fail(AHVL_E_NOMEM, "curl_easy_init failed");
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Accept: application/json");
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, v->insecure_http ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	if (v->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, v->ca);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	char eb[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, eb);
	CURLcode cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cr != CURLE_OK) {
		free(b.p);
		return ahvl_fail(AHVL_E_NETWORK, "%s: %s", url, eb[0] ? eb : curl_easy_strerror(cr));
	}
	json_error_t je;
	*resp = b.p ? json_loadb(b.p, b.n, 0, &je) : NULL;
	if (!*resp || !json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		int rc = ahvl_fail(AHVL_E_VERIFIER, "%s: HTTP %ld with a body that is not a JSON object: %.120s",
				   url, *status, b.p ? b.p : "");
		free(b.p);
		return rc;
	}
	free(b.p);
	return AHVL_OK;
}

/* An exchange with the verifier's base URL + path. */
static int http(ahvl_verifier *v, const char *path, bool post, const char *body,
		long *status, json_t **resp)
{
	char url[1024];
	if ((size_t)snprintf(url, sizeof url, "%s%s", v->base, path) >= sizeof url)
		return ahvl_fail(AHVL_E_INVALID, "verifier URL too long");
	return http_url(v, url, post, body, status, resp);
}

static int verifier_error(ahvl_verifier *v, long status, json_t *r)
{
	const char *code = json_string_value(json_object_get(r, "error"));
	const char *msg = json_string_value(json_object_get(r, "message"));
	const char *det = json_string_value(json_object_get(r, "detail"));
	snprintf(v->err_code, sizeof v->err_code, "%s", code ? code : "http_error");
	return ahvl_fail(AHVL_E_VERIFIER, "verifier: HTTP %ld %s: %s%s%s", status,
			 code ? code : "(no code)", msg ? msg : "", det ? ": " : "", det ? det : "");
}

int ahvl_verifier_challenge(ahvl_verifier *v, uint8_t *nonce, size_t cap, size_t *len)
{
	long st = 0;
	json_t *r = NULL;
	if (!v || !nonce || !len)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	v->err_code[0] = 0;
	int rc = http(v, "/v1/challenge", true, NULL, &st, &r);
	if (rc)
		return rc;
	if (st != 200)
		rc = verifier_error(v, st, r);
	else {
		const char *h = json_string_value(json_object_get(r, "nonce"));
		if (!h || ahvl_unhex(h, nonce, cap, len) || *len < AHV_NONCE_MIN || *len > AHV_NONCE_MAX)
			rc = ahvl_fail(AHVL_E_VERIFIER, "challenge answer has no usable \"nonce\" (hex, 8..64 bytes)");
	}
	json_decref(r);
	return rc;
}

int ahvl_verifier_submit(ahvl_verifier *v, const struct ahvl_evidence *ev,
			 const ahvl_request *req, char **token)
{
	if (!v || !ev || !ev->request || !ev->report || !token)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	*token = NULL;
	v->err_code[0] = 0;
	char *q = ahvl_b64(ev->request, ev->request_len, false);
	char *p = ahvl_b64(ev->report, ev->report_len, false);
	json_t *o = json_object();
	json_object_set_new(o, "request", json_string(q ? q : ""));
	json_object_set_new(o, "report", json_string(p ? p : ""));
	free(q);
	free(p);
	if (req && req->n) {
		json_t *a = json_array();
		for (unsigned i = 0; i < req->n; i++)
			json_array_append_new(a, req->r[i].name[0] ? json_string(req->r[i].name) : json_null());
		json_object_set_new(o, "region_names", a);
	}
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!body)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	long st = 0;
	json_t *r = NULL;
	int rc = http(v, "/v1/attest", true, body, &st, &r);
	free(body);
	if (rc)
		return rc;
	const char *t = json_string_value(json_object_get(r, "token"));
	const char *verdict = json_string_value(json_object_get(r, "verdict"));
	if (st != 200 || !t || !verdict || strcmp(verdict, "accept"))
		rc = verifier_error(v, st, r);
	else if (!(*token = strdup(t)))
		rc = ahvl_fail(AHVL_E_NOMEM, "out of memory");
	json_decref(r);
	return rc;
}

/* ---- token ----------------------------------------------------------------- */
static EVP_PKEY *jwk_p256(json_t *k)
{
	const char *x = json_string_value(json_object_get(k, "x"));
	const char *y = json_string_value(json_object_get(k, "y"));
	size_t xl = 0, yl = 0;
	uint8_t *xb = x ? ahvl_unb64(x, strlen(x), &xl) : NULL;
	uint8_t *yb = y ? ahvl_unb64(y, strlen(y), &yl) : NULL;
	EVP_PKEY *pk = NULL;
	if (xb && yb && xl == 32 && yl == 32) {
		uint8_t pt[65];
		pt[0] = 4;
		memcpy(pt + 1, xb, 32);
		memcpy(pt + 33, yb, 32);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		OSSL_PARAM *ps = NULL;
		if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt))
			ps = OSSL_PARAM_BLD_to_param(bld);
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (!ps || !pc || EVP_PKEY_fromdata_init(pc) != 1 ||
		    EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, ps) != 1)
			pk = NULL;
		EVP_PKEY_CTX_free(pc);
		OSSL_PARAM_free(ps);
		OSSL_PARAM_BLD_free(bld);
	}
	free(xb);
	free(yb);
	return pk;
}

/* The JWKS comes from the configured trusted source only, never from the
 * verifier's origin by default: pinned (ahvl_verifier_pin_jwks) or fetched
 * from ahvl_verifier_set_jwks_url. */
static int fetch_jwks(ahvl_verifier *v)
{
	long st = 0;
	json_t *r = NULL;
	if (!v->jwks_url)
		return ahvl_fail(AHVL_E_INVALID, "no trusted JWKS: pin one (ahvl_verifier_pin_jwks) or configure "
						 "its source (ahvl_verifier_set_jwks_url)");
	int rc = http_url(v, v->jwks_url, false, NULL, &st, &r);
	if (rc)
		return rc;
	if (st != 200)
		rc = verifier_error(v, st, r);
	else if (!(v->jwks = json_dumps(r, JSON_COMPACT)))
		rc = ahvl_fail(AHVL_E_NOMEM, "out of memory");
	json_decref(r);
	return rc;
}

int ahvl_token_verify(ahvl_verifier *v, const char *token, const char *jwks_json,
		      const uint8_t *nonce, size_t nonce_len, char **claims)
{
	if (!token || !v)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (claims)
		*claims = NULL;
	if (!v->issuer)
		return ahvl_fail(AHVL_E_INVALID, "no issuer configured (ahvl_verifier_set_issuer)");
	if (!nonce || !nonce_len || nonce_len > AHV_NONCE_MAX)
		return ahvl_fail(AHVL_E_INVALID, "the nonce the token must carry is required (1..%u bytes)", AHV_NONCE_MAX);
	int rc;
	if (!jwks_json) {
		if (!v->jwks && (rc = fetch_jwks(v)))
			return rc;
		jwks_json = v->jwks;
	}
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return ahvl_fail(AHVL_E_TOKEN, "not a compact JWS (three dot-separated parts)");
	size_t hl, pl, sl;
	uint8_t *hb = ahvl_unb64(token, (size_t)(d1 - token), &hl);
	uint8_t *pb = ahvl_unb64(d1 + 1, (size_t)(d2 - d1 - 1), &pl);
	uint8_t *sb = ahvl_unb64(d2 + 1, strlen(d2 + 1), &sl);
	json_error_t je;
	json_t *hdr = hb ? json_loadb((const char *)hb, hl, 0, &je) : NULL;
	json_t *cl = pb ? json_loadb((const char *)pb, pl, 0, &je) : NULL;
	json_t *jw = json_loads(jwks_json, 0, &je);
	EVP_PKEY *pk = NULL;
	rc = AHVL_OK;
	if (!hdr || !cl || !sb || !json_is_object(cl)) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token header, claims or signature not decodable");
		goto out;
	}
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	if (!alg || strcmp(alg, "ES256") || sl != 64) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token algorithm is not ES256 (got %s)", alg ? alg : "none");
		goto out;
	}
	json_t *keys = json_object_get(jw, "keys"), *k;
	size_t i;
	json_array_foreach(keys, i, k)
	{
		const char *kk = json_string_value(json_object_get(k, "kid"));
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *crv = json_string_value(json_object_get(k, "crv"));
		if (kty && !strcmp(kty, "EC") && crv && !strcmp(crv, "P-256") &&
		    (!kid || (kk && !strcmp(kk, kid)))) {
			pk = jwk_p256(k);
			break;
		}
	}
	if (!pk) {
		rc = ahvl_fail(AHVL_E_TOKEN, "no P-256 key with kid %s in the JWKS", kid ? kid : "(none)");
		goto out;
	}
	if (ahvl_ecdsa_verify(pk, AHV_SIG_ECDSA_P256_SHA256, (const uint8_t *)token,
			      (size_t)(d2 - token), sb)) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token signature does not verify with the JWKS key");
		goto out;
	}
	time_t now = time(NULL);
	json_t *exp = json_object_get(cl, "exp"), *nbf = json_object_get(cl, "nbf");
	if (!json_is_integer(exp) || json_integer_value(exp) <= (json_int_t)now) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token has no \"exp\" or it has passed");
		goto out;
	}
	if (json_is_integer(nbf) && json_integer_value(nbf) > (json_int_t)now + 60) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token not valid before %lld", (long long)json_integer_value(nbf));
		goto out;
	}
	/* always: the issuer we trust, an affirming verdict, our nonce */
	const char *iss = json_string_value(json_object_get(cl, "iss"));
	if (!iss || strcmp(iss, v->issuer)) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token issuer \"%.80s\" is not \"%.80s\"", iss ? iss : "(none)", v->issuer);
		goto out;
	}
	const char *verdict = json_string_value(json_object_get(cl, "verdict"));
	if (!verdict || strcmp(verdict, "affirming")) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token verdict is \"%.40s\", not \"affirming\"", verdict ? verdict : "(none)");
		goto out;
	}
	char h[2 * AHV_NONCE_MAX + 1];
	const char *en = json_string_value(json_object_get(cl, "eat_nonce"));
	ahvl_hex(h, nonce, nonce_len);
	if (!en || strcasecmp(en, h)) {
		rc = ahvl_fail(AHVL_E_TOKEN, "token eat_nonce differs from our nonce");
		goto out;
	}
	if (claims && !(*claims = json_dumps(cl, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		rc = ahvl_fail(AHVL_E_NOMEM, "out of memory");
out:
	EVP_PKEY_free(pk);
	json_decref(hdr);
	json_decref(cl);
	json_decref(jw);
	free(hb);
	free(pb);
	free(sb);
	return rc;
}
