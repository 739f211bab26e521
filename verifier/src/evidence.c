#include "evidence.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <attest/base64.h>
#include <attest/wire_parse.h>

#include "vutil.h"

static const struct {
	const char *code;
	unsigned http;
	const char *text;
} errtab[V_E__COUNT] = {
	[V_OK] = {"ok", 200, "accepted"},
	[V_E_NOT_FOUND] = {"not_found", 404, "no such endpoint"},
	[V_E_METHOD] = {"method_not_allowed", 405, "method not allowed on this endpoint"},
	[V_E_RATE_LIMITED] = {"rate_limited", 429, "too many requests or nonces from this client; retry later"},
	[V_E_CONTENT_TYPE] = {"unsupported_media_type", 415, "Content-Type must be application/json"},
	[V_E_BODY_TOO_LARGE] = {"body_too_large", 413, "request body exceeds the limit"},
	[V_E_MALFORMED_JSON] = {"malformed_json", 400, "body is not one valid JSON object"},
	[V_E_MISSING_FIELD] = {"missing_field", 400, "a required field is missing"},
	[V_E_BAD_FIELD] = {"bad_field", 400, "a field has the wrong type or value"},
	[V_E_BAD_BASE64] = {"bad_base64", 400, "request or report is not canonical base64"},
	[V_E_REQUEST_FORMAT] = {"bad_request_format", 400, "the attestation request is malformed"},
	[V_E_REPORT_FORMAT] = {"bad_report_format", 400, "the report is malformed"},
	[V_E_REPORT_VERSION] = {"unsupported_version", 400, "wire version not implemented"},
	[V_E_UNKNOWN_HV_KEY] = {"unknown_hv_key", 403, "hypervisor key not enrolled"},
	[V_E_HV_KEY_MISMATCH] = {"hv_key_mismatch", 403, "report sig_alg does not match the enrolled hypervisor key"},
	[V_E_REPORT_SIGNATURE] = {"bad_report_signature", 403, "hypervisor signature does not verify"},
	[V_E_UNKNOWN_GUEST_KEY] = {"unknown_guest_key", 403, "guest key not enrolled"},
	[V_E_GUEST_KEY_MISMATCH] = {"guest_key_mismatch", 403, "request sig_alg does not match the enrolled guest key"},
	[V_E_REQUEST_SIGNATURE] = {"bad_request_signature", 403, "guest signature does not verify"},
	[V_E_REQUEST_MISMATCH] = {"request_mismatch", 403, "the report does not belong to this request"},
	[V_E_COMPOSITE_MISMATCH] = {"composite_mismatch", 403, "composite digest does not recompute"},
	[V_E_NONCE_UNKNOWN] = {"nonce_unknown", 403, "nonce was not issued by this verifier"},
	[V_E_NONCE_EXPIRED] = {"nonce_expired", 403, "nonce expired"},
	[V_E_NONCE_REPLAYED] = {"nonce_replayed", 403, "nonce already used"},
	[V_E_TIMESTAMP_SKEW] = {"timestamp_skew", 403, "report timestamp too far from the verifier's clock"},
	[V_E_DEV_KEY] = {"dev_key_rejected", 403, "report signed with a development (unsealed) key"},
	[V_E_DEBUG] = {"debug_rejected", 403, "hypervisor runs with debug options"},
	[V_E_CLAIM_MISMATCH] = {"claim_mismatch", 403, "a claimed digest differs from the measurement"},
	[V_E_DMA_UNPROTECTED] = {"dma_unprotected_rejected", 403, "hypervisor runs without DMA protection (no IOMMU)"},
	[V_E_HV_VERSION] = {"hv_version_rejected", 403, "hypervisor version not allowed by policy"},
	[V_E_HV_MEASUREMENT] = {"hv_measurement_rejected", 403, "build id, image or config digest not allowed by policy"},
	[V_E_HASH_ALG] = {"hash_alg_rejected", 403, "hash algorithm not allowed by policy"},
	[V_E_REGION_UNKNOWN] = {"policy_region_unknown", 403, "a region names no policy entry"},
	[V_E_REGION_MISMATCH] = {"policy_region_mismatch", 403, "a region does not match its reference values"},
	[V_E_REGION_UNNAMED] = {"policy_region_unnamed", 403, "a region matches no policy entry"},
	[V_E_REGION_MISSING] = {"policy_region_missing", 403, "a required policy region was not measured"},
	[V_E_REGION_UNWATCHED] = {"policy_region_unwatched", 403,
				  "a region whose entry requires an unbroken watch is not under one"},
	[V_E_STORAGE] = {"storage_unavailable", 503, "storage failed; nothing was decided"},
	[V_E_INTERNAL] = {"internal_error", 500, "internal error"},
};

const char *v_err_code(enum v_err e)
{
	return (unsigned)e < V_E__COUNT ? errtab[e].code : "internal_error";
}
unsigned v_err_http(enum v_err e)
{
	return (unsigned)e < V_E__COUNT ? errtab[e].http : 500;
}
const char *v_err_text(enum v_err e)
{
	return (unsigned)e < V_E__COUNT ? errtab[e].text : "internal error";
}

bool v_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

#define FAIL(code, ...)                                                        \
	do {                                                                   \
		snprintf(detail, dlen, __VA_ARGS__);                           \
		return code;                                                   \
	} while (0)

/* A member's string value as canonical base64 (standard alphabet, padded:
 * AHV_B64_STD) into out. */
static enum v_err put_b64(const char *key, const char *str, size_t sl, uint8_t *out, size_t cap,
			  size_t *outlen, char *detail, size_t dlen)
{
	if (sl > ahv_b64_encoded_len(cap, AHV_B64_STD))
		FAIL(V_E_BAD_FIELD, "field \"%s\" is longer than any valid %s",
		     key, key);
	long n = ahv_b64_decode(out, cap, str, sl, AHV_B64_STD);
	if (n < 0)
		FAIL(V_E_BAD_BASE64, "field \"%s\" is not canonical base64", key);
	*outlen = (size_t)n;
	return V_OK;
}

static enum v_err get_b64(json_t *root, const char *key, uint8_t *out,
			  size_t cap, size_t *outlen, char *detail, size_t dlen)
{
	json_t *v = json_object_get(root, key);
	if (!v)
		FAIL(V_E_MISSING_FIELD, "field \"%s\" is missing", key);
	if (!json_is_string(v))
		FAIL(V_E_BAD_FIELD, "field \"%s\" must be a base64 string", key);
	return put_b64(key, json_string_value(v), json_string_length(v), out, cap, outlen, detail, dlen);
}

static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'; /* RFC 8259 s2 */
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/' || c == '=';
}

/* A plain JSON string at b[*i] (the opening quote): every byte in ok() up
 * to the closing quote, so no escapes and nothing jansson would decode. */
static bool plain_string(const char *b, size_t len, size_t *i, bool (*ok)(char), const char **v, size_t *vl)
{
	if (*i >= len || b[*i] != '"')
		return false;
	size_t j = *i + 1;
	while (j < len && ok(b[j]))
		j++;
	if (j >= len || b[j] != '"')
		return false;
	*v = b + *i + 1;
	*vl = j - *i - 1;
	*i = j + 1;
	return true;
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

static bool printable(char c)
{
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

#define FAST_MEMBERS 6

/* The common body, {"report": "<base64>", "request": "<base64>"} plus other
 * members with plain string values (the guest library adds "nonce"), any
 * order, any JSON whitespace, read without building a JSON tree (jansson took
 * ~190k instructions a body, most of the parse). Only bodies whose strings
 * hold no escapes (base64 characters in report and request, printable ASCII
 * elsewhere), with no duplicate member, no region_names and at most
 * FAST_MEMBERS members are taken; anything else returns 0 and goes to
 * jansson, so every answer is the one the jansson parse gives. */
static int fast_submission(const char *b, size_t len, struct v_submission *s, enum v_err *e, char *detail,
			   size_t dlen)
{
	const char *key[FAST_MEMBERS], *val[2] = {NULL, NULL}; /* report, request */
	size_t kl[FAST_MEMBERS], vl[2] = {0, 0}, i = 0, nk = 0;
	while (i < len && json_ws(b[i]))
		i++;
	if (i == len || b[i++] != '{')
		return 0;
	for (;;) {
		const char *k, *v;
		size_t l, n;
		while (i < len && json_ws(b[i]))
			i++;
		if (nk == FAST_MEMBERS || !plain_string(b, len, &i, key_char, &k, &l))
			return 0;
		for (size_t j = 0; j < nk; j++)
			if (kl[j] == l && !memcmp(key[j], k, l))
				return 0; /* a duplicate: jansson refuses it */
		key[nk] = k;
		kl[nk++] = l;
		int slot = l == 6 && !memcmp(k, "report", 6) ? 0 : l == 7 && !memcmp(k, "request", 7) ? 1 : -1;
		while (i < len && json_ws(b[i]))
			i++;
		if (i == len || b[i++] != ':')
			return 0;
		while (i < len && json_ws(b[i]))
			i++;
		if (!plain_string(b, len, &i, slot >= 0 ? b64_char : printable, &v, &n) ||
		    (l == 12 && !memcmp(k, "region_names", 12)))
			return 0;
		if (slot >= 0) {
			val[slot] = v;
			vl[slot] = n;
		}
		while (i < len && json_ws(b[i]))
			i++;
		if (i == len)
			return 0;
		if (b[i] == '}')
			break;
		if (b[i++] != ',')
			return 0;
	}
	for (i++; i < len && json_ws(b[i]); i++)
		;
	if (i != len || !val[0] || !val[1])
		return 0;
	*e = put_b64("report", val[0], vl[0], s->report, sizeof s->report, &s->report_len, detail, dlen);
	if (*e == V_OK)
		*e = put_b64("request", val[1], vl[1], s->request, sizeof s->request, &s->request_len, detail, dlen);
	return 1;
}

enum v_err v_parse_submission(const char *body, size_t len,
			      struct v_submission *s, char *detail,
			      size_t dlen)
{
	json_error_t je;
	enum v_err e;
	s->request_len = s->report_len = 0;
	s->has_names = false;
	s->n_names = 0;
	if (fast_submission(body, len, s, &e, detail, dlen))
		return e;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		FAIL(V_E_MALFORMED_JSON, "JSON error at line %d column %d: %s",
		     je.line, je.column, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		FAIL(V_E_MALFORMED_JSON, "body must be a JSON object");
	}
	e = get_b64(root, "report", s->report, sizeof s->report,
		    &s->report_len, detail, dlen);
	if (e == V_OK)
		e = get_b64(root, "request", s->request, sizeof s->request,
			    &s->request_len, detail, dlen);
	json_t *names = e == V_OK ? json_object_get(root, "region_names") : NULL;
	if (names && !json_is_null(names)) {
		if (!json_is_array(names) ||
		    json_array_size(names) > AHV_MAX_REGIONS) {
			snprintf(detail, dlen,
				 "region_names must be an array of at most %u "
				 "strings or nulls",
				 AHV_MAX_REGIONS);
			e = V_E_BAD_FIELD;
		} else {
			s->has_names = true;
			size_t i;
			json_t *it;
			json_array_foreach(names, i, it)
			{
				s->names[i][0] = 0;
				if (json_is_null(it))
					continue;
				if (!json_is_string(it) ||
				    json_string_length(it) == 0 ||
				    json_string_length(it) > V_NAME_MAX ||
				    strlen(json_string_value(it)) !=
					    json_string_length(it)) {
					snprintf(detail, dlen,
						 "region_names[%zu] must be a "
						 "string of 1..%d bytes or null",
						 i, V_NAME_MAX);
					e = V_E_BAD_FIELD;
					break;
				}
				memcpy(s->names[i], json_string_value(it),
				       json_string_length(it) + 1);
			}
			s->n_names = (unsigned)json_array_size(names);
		}
	}
	json_decref(root);
	return e;
}

/* The structure checks are the wire library's (attest/wire_parse.h); a
 * report's major that is not ours is "unsupported_version". */
enum v_err v_check_report(const uint8_t *r, size_t len, char *detail, size_t dlen)
{
	struct ahv_wire_error we;
	enum ahv_wire_fault f = ahv_wire_check_report(r, len, &we);
	if (f)
		FAIL(f == AHV_WIRE_E_VERSION ? V_E_REPORT_VERSION : V_E_REPORT_FORMAT, "%s", we.text);
	return V_OK;
}

enum v_err v_check_request(const uint8_t *q, size_t len, char *detail, size_t dlen)
{
	struct ahv_wire_error we;
	if (ahv_wire_check_request(q, len, &we))
		FAIL(V_E_REQUEST_FORMAT, "%s", we.text);
	return V_OK;
}
