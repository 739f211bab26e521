/*
 * evidence.h - the submission (JSON with base64 request + report), the
 * structural checks of both binary blobs (protocol.md §6, §11 items 1, 3)
 * and the verifier's error codes (docs/verifier.md "Error codes").
 *
 * Everything here is pure parsing: no keys, no storage, no network. It is
 * what the libFuzzer target verifier_submit exercises.
 */
#ifndef AHV_EVIDENCE_H
#define AHV_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <attest/wire.h>
/* Fields are read with the wire library's getters (ahv_wire_get_report_hdr
 * and the others), never by laying a structure over the bytes. */
#include <attest/wire_parse.h>

/* Error codes: stable strings on the wire; never renumber the strings. */
enum v_err {
	V_OK = 0,
	/* transport / syntax (HTTP 4xx other than 403) */
	V_E_NOT_FOUND,
	V_E_METHOD,
	V_E_RATE_LIMITED,
	V_E_CONTENT_TYPE,
	V_E_BODY_TOO_LARGE,
	V_E_MALFORMED_JSON,
	V_E_MISSING_FIELD,
	V_E_BAD_FIELD,
	V_E_BAD_BASE64,
	V_E_REQUEST_FORMAT,
	V_E_REPORT_FORMAT,
	V_E_REPORT_VERSION,
	/* authentication (403) */
	V_E_UNKNOWN_HV_KEY,
	V_E_HV_KEY_MISMATCH,
	V_E_REPORT_SIGNATURE,
	V_E_UNKNOWN_GUEST_KEY,
	V_E_GUEST_KEY_MISMATCH,
	V_E_REQUEST_SIGNATURE,
	V_E_REQUEST_MISMATCH,
	V_E_COMPOSITE_MISMATCH,
	/* freshness (403) */
	V_E_NONCE_UNKNOWN,
	V_E_NONCE_EXPIRED,
	V_E_NONCE_REPLAYED,
	V_E_TIMESTAMP_SKEW,
	/* policy (403) */
	V_E_DEV_KEY,
	V_E_DEBUG,
	V_E_CLAIM_MISMATCH,
	V_E_DMA_UNPROTECTED,
	V_E_HV_VERSION,
	V_E_HV_MEASUREMENT,
	V_E_HASH_ALG,
	V_E_REGION_UNKNOWN,
	V_E_REGION_MISMATCH,
	V_E_REGION_UNNAMED,
	V_E_REGION_MISSING,
	V_E_REGION_UNWATCHED,
	/* service (5xx) */
	V_E_STORAGE,
	V_E_INTERNAL,
	V_E__COUNT
};

const char *v_err_code(enum v_err e); /* "nonce_replayed", ... */
unsigned v_err_http(enum v_err e);    /* 400, 403, ... */
const char *v_err_text(enum v_err e); /* one-line description */

struct v_submission {
	uint8_t request[AHV_REQUEST_MAX_SIZE];
	size_t request_len;
	uint8_t report[AHV_REPORT_MAX_SIZE];
	size_t report_len;
	bool has_names;
	unsigned n_names;
	char names[AHV_MAX_REGIONS][65]; /* "" = no name for that region */
};

#define V_NAME_MAX 64

/* Parse the JSON submission body. detail gets a human-readable reason. */
enum v_err v_parse_submission(const char *body, size_t len,
			      struct v_submission *s, char *detail,
			      size_t dlen);

/* Structural checks of a report (everything that needs no key): the wire
 * library's ahv_wire_check_report() (magic, version, sizes, algorithm ids,
 * reserved fields and unused tails for our minor, flag bits, nonce length,
 * region ranges), a major not ours answered V_E_REPORT_VERSION. */
enum v_err v_check_report(const uint8_t *r, size_t len, char *detail,
			  size_t dlen);
/* The same for a request (protocol.md §6.1 and the order of §5.2 step 6). */
enum v_err v_check_request(const uint8_t *q, size_t len, char *detail,
			   size_t dlen);

bool v_all_zero(const void *p, size_t n);

#endif
