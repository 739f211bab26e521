#include "token.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcrypto.h"
#include "vutil.h"

int v_signer_load(struct v_signer *s, const char *path, char *err,
		  size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->pk = vc_load_es256_private(path, err, errlen);
	if (!s->pk)
		return -1;
	uint8_t x[32], y[32], th[32];
	char bx[48], by[48], tp[200];
	if (vc_p256_xy(s->pk, x, y)) {
		snprintf(err, errlen, "cannot read the token public key");
		return -1;
	}
	v_b64url_encode(bx, x, 32);
	v_b64url_encode(by, y, 32);
	/* RFC 7638: members in lexicographic order, no whitespace */
	int tl = snprintf(tp, sizeof tp, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
	vc_hash(1, tp, (size_t)tl, th);
	v_b64url_encode(s->kid, th, 32);
	json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", bx, "y", by,
			      "kid", s->kid, "use", "sig", "alg", "ES256");
	json_t *doc = json_pack("{s:[o]}", "keys", k);
	s->jwks = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s->jwks ? 0 : -1;
}

void v_signer_free(struct v_signer *s)
{
	EVP_PKEY_free(s->pk);
	free(s->jwks);
	memset(s, 0, sizeof *s);
}

static json_t *hexj(const uint8_t *b, size_t n)
{
	char h[129];
	v_hex(h, b, n);
	return json_string(h);
}

json_t *v_decision_json(const struct v_submission *sub,
			const struct v_decision *dec,
			const struct v_policy *pol)
{
	const uint8_t *r = sub->report;
	const struct ahv_report_hdr *h = v_rhdr(r);
	unsigned d = dec->d, n = dec->n;
	char ver[24];
	snprintf(ver, sizeof ver, "%u.%u.%u", AHV_HV_VERSION_MAJOR(h->hv_version),
		 AHV_HV_VERSION_MINOR(h->hv_version), AHV_HV_VERSION_PATCH(h->hv_version));
	json_t *m = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I}", "hash_alg", vc_hash_name(h->hash_alg),
			      "composite_digest", hexj(h->composite_digest, d),
			      "request_digest", hexj(h->request_digest, d),
			      "hv_image_digest", hexj(h->hv_image_digest, 32),
			      "hv_config_digest", hexj(h->hv_config_digest, 32),
			      "build_id", hexj(h->build_id, 32), "total_bytes", (json_int_t)h->total_bytes);
	json_t *o = json_pack("{s:o,s:s,s:{s:i,s:i},s:o,s:o,s:o,s:I,s:I,s:s,s:i,s:i,s:b,s:b,s:b}",
			      "measurements", m, "hv_version", ver,
			      "wire_version", "major", h->version_major, "minor", h->version_minor,
			      "hv_key_id", hexj(h->hv_key_id, 32), "guest_key_id", hexj(h->guest_key_id, 32),
			      "boot_id", hexj(h->boot_id, 16), "report_counter", (json_int_t)h->counter,
			      "timestamp_ns", (json_int_t)h->timestamp_ns,
			      "backend", h->backend == AHV_BACKEND_SVM ? "svm" : "vmx",
			      "caller_cpl", h->caller_cpl, "paging_levels", h->paging_levels,
			      "dev_key", (h->flags & AHV_REPORT_F_DEV_KEY) != 0,
			      "debug", (h->flags & AHV_REPORT_F_DEBUG) != 0,
			      "time_valid", !(h->flags & AHV_REPORT_F_TIME_INVALID) && h->timestamp_ns);
	json_t *regs = json_array();
	for (unsigned i = 0; i < n; i++) {
		const struct ahv_region_result *rr = (const void *)(r + AHV_REPORT_RESULT_OFFSET(i));
		char addr[24];
		snprintf(addr, sizeof addr, "0x%" PRIx64, rr->address);
		json_t *e = json_pack("{s:i,s:s,s:I,s:s,s:o,s:b,s:b}", "index", (int)i, "address", addr,
				      "size", (json_int_t)rr->size, "space", rr->space == AHV_SPACE_GPA ? "gpa" : "gva",
				      "digest", hexj(rr->digest, d), "claimed", (rr->flags & AHV_RESULT_F_CLAIMED) != 0,
				      "claim_match", (rr->flags & AHV_RESULT_F_MATCH) != 0);
		if (dec->regions_evaluated) {
			int idx = dec->policy_idx[i];
			const char *nm = sub->has_names && i < sub->n_names && sub->names[i][0]
						 ? sub->names[i]
					 : idx >= 0 && pol ? pol->regions[idx].name
							   : NULL;
			json_object_set_new(e, "name", nm ? json_string(nm) : json_null());
			json_object_set_new(e, "verdict", json_string(v_rv_name(dec->rv[i])));
		}
		json_array_append_new(regs, e);
	}
	json_object_set_new(o, "regions", regs);
	return o;
}

static char *b64url_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return NULL;
	size_t l = strlen(s);
	char *o = malloc(v_b64url_len(l) + 1);
	if (o)
		v_b64url_encode(o, (const uint8_t *)s, l);
	free(s);
	return o;
}

char *v_token_issue(const struct v_signer *s, const char *issuer,
		    int64_t iat, int64_t ttl_s, const char *jti,
		    const struct v_submission *sub, json_t *c)
{
	const struct ahv_report_hdr *h = v_rhdr(sub->report);
	char nonce[129];
	v_hex(nonce, h->nonce, h->nonce_len);
	json_t *hdr = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "JWT", "kid", s->kid);
	json_object_set_new(c, "iss", json_string(issuer));
	json_object_set_new(c, "iat", json_integer(iat));
	json_object_set_new(c, "nbf", json_integer(iat));
	json_object_set_new(c, "exp", json_integer(iat + ttl_s));
	json_object_set_new(c, "jti", json_string(jti));
	json_object_set_new(c, "eat_nonce", json_string(nonce));
	json_object_set_new(c, "eat_profile", json_string("tag:attest-hv,2025:verifier-v1"));
	json_object_set_new(c, "verdict", json_string("affirming"));
	char *eh = b64url_json(hdr), *ec = b64url_json(c), *out = NULL;
	json_decref(hdr);
	if (eh && ec) {
		size_t l1 = strlen(eh), l2 = strlen(ec);
		out = malloc(l1 + l2 + 2 + v_b64url_len(64) + 1);
		if (out) {
			memcpy(out, eh, l1);
			out[l1] = '.';
			memcpy(out + l1 + 1, ec, l2 + 1);
			uint8_t sig[64];
			if (vc_sign_es256(s->pk, out, l1 + 1 + l2, sig)) {
				free(out);
				out = NULL;
			} else {
				out[l1 + 1 + l2] = '.';
				v_b64url_encode(out + l1 + 2 + l2, sig, 64);
			}
		}
	}
	free(eh);
	free(ec);
	return out;
}
