#include "token.h"

#include <inttypes.h>
#include <stdarg.h>
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
	struct ahv_report_hdr hb;
	const struct ahv_report_hdr *h = &hb;
	ahv_wire_get_report_hdr(r, &hb);
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
	json_t *o = json_pack("{s:o,s:s,s:{s:i,s:i},s:o,s:o,s:o,s:I,s:I,s:s,s:i,s:i,s:b,s:b,s:b,s:b}",
			      "measurements", m, "hv_version", ver,
			      "wire_version", "major", h->version_major, "minor", h->version_minor,
			      "hv_key_id", hexj(h->hv_key_id, 32), "guest_key_id", hexj(h->guest_key_id, 32),
			      "boot_id", hexj(h->boot_id, 16), "report_counter", (json_int_t)h->counter,
			      "timestamp_ns", (json_int_t)h->timestamp_ns,
			      "backend", h->backend == AHV_BACKEND_SVM ? "svm" : "vmx",
			      "caller_cpl", h->caller_cpl, "paging_levels", h->paging_levels,
			      "dev_key", (h->flags & AHV_REPORT_F_DEV_KEY) != 0,
			      "debug", (h->flags & AHV_REPORT_F_DEBUG) != 0,
			      "time_valid", !(h->flags & AHV_REPORT_F_TIME_INVALID) && h->timestamp_ns,
			      "dma_protected", !(h->flags & AHV_REPORT_F_DMA_UNPROTECTED));
	json_t *regs = json_array();
	for (unsigned i = 0; i < n; i++) {
		struct ahv_region_result rb;
		const struct ahv_region_result *rr = &rb;
		ahv_wire_get_region_result(r + AHV_REPORT_RESULT_OFFSET(i), &rb);
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
		uint64_t since;
		uint32_t wid;
		if (v_watch_unbroken(r, i, &since, &wid)) { /* docs/watch.md */
			json_object_set_new(e, "watch_id", json_integer(wid));
			json_object_set_new(e, "unmodified_since_ns", json_integer((json_int_t)since));
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
	struct ahv_report_hdr hb;
	const struct ahv_report_hdr *h = &hb;
	ahv_wire_get_report_hdr(sub->report, &hb);
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

/* ---- the same documents as text, without jansson trees (the daemon's hot
 * path: building, dumping and freeing the trees cost more than a verify).
 * Same members and values as v_decision_json() + the JWT/EAT claims of
 * v_token_issue(); the unit and API tests parse both. */
struct sb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_need(struct sb *b, size_t n)
{
	if (b->oom || b->len + n + 1 <= b->cap)
		return;
	size_t nc = b->cap ? b->cap : 4096;
	while (nc < b->len + n + 1)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = nc;
}

static void sb_mem(struct sb *b, const char *s, size_t n)
{
	sb_need(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_str(struct sb *b, const char *s)
{
	sb_mem(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) sb_fmt(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		b->oom = true;
		return;
	}
	sb_mem(b, tmp, (size_t)n);
}

/* A JSON string literal (escapes as jansson does; s is valid UTF-8). */
static void sb_jstr(struct sb *b, const char *s)
{
	sb_mem(b, "\"", 1);
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_mem(b, run, (size_t)(s - run));
		char e[8];
		switch (c) {
		case '"': sb_mem(b, "\\\"", 2); break;
		case '\\': sb_mem(b, "\\\\", 2); break;
		case '\b': sb_mem(b, "\\b", 2); break;
		case '\f': sb_mem(b, "\\f", 2); break;
		case '\n': sb_mem(b, "\\n", 2); break;
		case '\r': sb_mem(b, "\\r", 2); break;
		case '\t': sb_mem(b, "\\t", 2); break;
		default:
			snprintf(e, sizeof e, "\\u%04x", c);
			sb_mem(b, e, 6);
		}
		run = s + 1;
	}
	sb_mem(b, run, (size_t)(s - run));
	sb_mem(b, "\"", 1);
}

/* ,"key":"<hex>" */
static void sb_hexm(struct sb *b, const char *key, const uint8_t *v, size_t n)
{
	char h[129];
	v_hex(h, v, n);
	sb_fmt(b, ",\"%s\":\"", key);
	sb_mem(b, h, 2 * n);
	sb_mem(b, "\"", 1);
}

#define TF(x) ((x) ? "true" : "false")

char *v_decision_text(const struct v_submission *sub,
		      const struct v_decision *dec,
		      const struct v_policy *pol, bool authenticated,
		      size_t *lenout)
{
	const uint8_t *r = sub->report;
	struct ahv_report_hdr hb;
	const struct ahv_report_hdr *h = &hb;
	ahv_wire_get_report_hdr(r, &hb);
	unsigned d = dec->d, n = dec->n;
	struct sb b = {0};
	sb_need(&b, 1024 + 320 * (size_t)n);
	const char *ha = vc_hash_name(h->hash_alg);
	sb_fmt(&b, "{\"measurements\":{\"hash_alg\":\"%s\"", ha ? ha : "?");
	sb_hexm(&b, "composite_digest", h->composite_digest, d);
	sb_hexm(&b, "request_digest", h->request_digest, d);
	sb_hexm(&b, "hv_image_digest", h->hv_image_digest, 32);
	sb_hexm(&b, "hv_config_digest", h->hv_config_digest, 32);
	sb_hexm(&b, "build_id", h->build_id, 32);
	sb_fmt(&b, ",\"total_bytes\":%" PRId64 "},\"hv_version\":\"%u.%u.%u\",\"wire_version\":{\"major\":%d,\"minor\":%d}",
	       (int64_t)h->total_bytes, AHV_HV_VERSION_MAJOR(h->hv_version), AHV_HV_VERSION_MINOR(h->hv_version),
	       AHV_HV_VERSION_PATCH(h->hv_version), (int)h->version_major, (int)h->version_minor);
	sb_hexm(&b, "hv_key_id", h->hv_key_id, 32);
	sb_hexm(&b, "guest_key_id", h->guest_key_id, 32);
	sb_hexm(&b, "boot_id", h->boot_id, 16);
	sb_fmt(&b, ",\"report_counter\":%" PRId64 ",\"timestamp_ns\":%" PRId64 ",\"backend\":\"%s\",\"caller_cpl\":%d,\"paging_levels\":%d",
	       (int64_t)h->counter, (int64_t)h->timestamp_ns, h->backend == AHV_BACKEND_SVM ? "svm" : "vmx",
	       (int)h->caller_cpl, (int)h->paging_levels);
	sb_fmt(&b, ",\"dev_key\":%s,\"debug\":%s,\"time_valid\":%s,\"dma_protected\":%s,\"regions\":[",
	       TF(h->flags & AHV_REPORT_F_DEV_KEY), TF(h->flags & AHV_REPORT_F_DEBUG),
	       TF(!(h->flags & AHV_REPORT_F_TIME_INVALID) && h->timestamp_ns), TF(!(h->flags & AHV_REPORT_F_DMA_UNPROTECTED)));
	for (unsigned i = 0; i < n; i++) {
		struct ahv_region_result rb;
		const struct ahv_region_result *rr = &rb;
		ahv_wire_get_region_result(r + AHV_REPORT_RESULT_OFFSET(i), &rb);
		sb_fmt(&b, "%s{\"index\":%u,\"address\":\"0x%" PRIx64 "\",\"size\":%" PRId64 ",\"space\":\"%s\"", i ? "," : "", i,
		       rr->address, (int64_t)rr->size, rr->space == AHV_SPACE_GPA ? "gpa" : "gva");
		sb_hexm(&b, "digest", rr->digest, d);
		sb_fmt(&b, ",\"claimed\":%s,\"claim_match\":%s", TF(rr->flags & AHV_RESULT_F_CLAIMED),
		       TF(rr->flags & AHV_RESULT_F_MATCH));
		if (dec->regions_evaluated) {
			int idx = dec->policy_idx[i];
			const char *nm = sub->has_names && i < sub->n_names && sub->names[i][0]
						 ? sub->names[i]
					 : idx >= 0 && pol ? pol->regions[idx].name
							   : NULL;
			sb_str(&b, ",\"name\":");
			if (nm)
				sb_jstr(&b, nm);
			else
				sb_str(&b, "null");
			sb_fmt(&b, ",\"verdict\":\"%s\"", v_rv_name(dec->rv[i]));
		}
		uint64_t since;
		uint32_t wid;
		if (v_watch_unbroken(r, i, &since, &wid)) /* docs/watch.md */
			sb_fmt(&b, ",\"watch_id\":%u,\"unmodified_since_ns\":%" PRId64, wid, (int64_t)since);
		sb_str(&b, "}");
	}
	sb_fmt(&b, "],\"authenticated\":%s}", TF(authenticated));
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (lenout)
		*lenout = b.len;
	return b.p;
}

char *v_token_issue_text(const struct v_signer *s, const char *issuer,
			 int64_t iat, int64_t ttl_s, const char *jti,
			 const struct v_submission *sub, const char *ev,
			 size_t ev_len)
{
	struct ahv_report_hdr hb;
	const struct ahv_report_hdr *h = &hb;
	ahv_wire_get_report_hdr(sub->report, &hb);
	if (ev_len < 2 || ev[ev_len - 1] != '}')
		return NULL;
	char nonce[129];
	v_hex(nonce, h->nonce, h->nonce_len);
	/* claims: the decision object, its closing brace replaced */
	struct sb c = {0};
	sb_need(&c, ev_len + 512);
	sb_mem(&c, ev, ev_len - 1);
	sb_str(&c, ",\"iss\":");
	sb_jstr(&c, issuer);
	sb_fmt(&c, ",\"iat\":%" PRId64 ",\"nbf\":%" PRId64 ",\"exp\":%" PRId64, iat, iat, iat + ttl_s);
	sb_str(&c, ",\"jti\":");
	sb_jstr(&c, jti);
	sb_fmt(&c, ",\"eat_nonce\":\"%s\",\"eat_profile\":\"tag:attest-hv,2025:verifier-v1\",\"verdict\":\"affirming\"}", nonce);
	if (c.oom) {
		free(c.p);
		return NULL;
	}
	char hdr[160];
	int hl = snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", s->kid);
	if (hl < 0 || (size_t)hl >= sizeof hdr) {
		free(c.p);
		return NULL;
	}
	size_t l1 = v_b64url_len((size_t)hl), l2 = v_b64url_len(c.len);
	char *out = malloc(l1 + 1 + l2 + 1 + v_b64url_len(64) + 1);
	if (out) {
		v_b64url_encode(out, (const uint8_t *)hdr, (size_t)hl);
		out[l1] = '.';
		v_b64url_encode(out + l1 + 1, (const uint8_t *)c.p, c.len);
		uint8_t sig[64];
		if (vc_sign_es256(s->pk, out, l1 + 1 + l2, sig)) {
			free(out);
			out = NULL;
		} else {
			out[l1 + 1 + l2] = '.';
			v_b64url_encode(out + l1 + 2 + l2, sig, 64);
		}
	}
	free(c.p);
	return out;
}
