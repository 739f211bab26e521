/*
 * attest/wire_parse.h - reading requests and reports from untrusted bytes
 * (the hosted wire library, libahv-wire; docs/protocol.md §6, §10, §11).
 *
 * One style everywhere: every multi-byte field is read with the
 * little-endian getters of <attest/wire.h>; no structure is ever laid over
 * caller bytes. The getters below copy the fixed-size parts into host-order,
 * naturally aligned structures the caller owns; the checks say whether a
 * whole request or report keeps the rules of protocol.md before anything
 * else looks at it. Used by libattest-hv (guest-lib) and the verifier; the
 * hypervisor core keeps its own parser.
 */
#ifndef ATTEST_WIRE_PARSE_H
#define ATTEST_WIRE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <attest/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- host-order copies (the caller has checked that the bytes are there) --
 * p points at the first byte of the part: AHV_REQUEST_HDR_SIZE,
 * AHV_REGION_SIZE, AHV_REPORT_HDR_SIZE or AHV_REGION_RESULT_SIZE bytes. */
void ahv_wire_get_request_hdr(const uint8_t *p, struct ahv_request_hdr *h);
void ahv_wire_get_region(const uint8_t *p, struct ahv_region *r);
void ahv_wire_get_report_hdr(const uint8_t *p, struct ahv_report_hdr *h);
void ahv_wire_get_region_result(const uint8_t *p, struct ahv_region_result *r);

/* ---- structure checks --------------------------------------------------------
 * Which rule a request or report broke. Callers map these to their own error
 * codes (the verifier answers AHV_WIRE_E_VERSION of a report with
 * "unsupported_version"); the text says what exactly, for humans. */
enum ahv_wire_fault {
	AHV_WIRE_OK = 0,
	AHV_WIRE_E_SIZE,     /* length, total_size, region_count disagree or out of range */
	AHV_WIRE_E_MAGIC,    /* not "AHVQ" / "AHVR" */
	AHV_WIRE_E_VERSION,  /* major not implemented (a request: or a newer minor) */
	AHV_WIRE_E_ALG,      /* hash_alg or sig_alg unknown */
	AHV_WIRE_E_VALUE,    /* nonce_len, caller_cpl, paging_levels, backend, space or
				flags outside what protocol.md allows */
	AHV_WIRE_E_RESERVED, /* reserved field, reserved bit or unused tail nonzero */
	AHV_WIRE_E_RANGE,    /* a region wraps or exceeds AHV_MAX_TOTAL_BYTES, or
				total_bytes is not the sum of the sizes */
};

struct ahv_wire_error {
	enum ahv_wire_fault fault;
	char text[160];
};

/* Everything about a report that needs no key, in this order: length
 * (>= header), magic, version_major, region_count 1..64, total_size =
 * AHV_REPORT_SIZE(n) = len, hash_alg and sig_alg known, nonce_len 8..64,
 * signature padding zero, reserved fields and flag bits zero (unless the
 * report's minor is newer than ours: protocol.md §10), nonce and digest
 * tails zero, caller_cpl / paging_levels / backend, then each region result
 * (space, flags, digest tail, range within the limits) and total_bytes.
 * Whether CLAIM_MISMATCH agrees with the region flags is a separate
 * question: ahv_wire_report_claims_agree(). err may be NULL. */
enum ahv_wire_fault ahv_wire_check_report(const uint8_t *rep, size_t len,
					  struct ahv_wire_error *err);

/* The same for a request (protocol.md §6.1, in the order of §5.2 step 6):
 * length within AHV_REQUEST_MIN_SIZE..AHV_REQUEST_MAX_SIZE, magic, version
 * (major ours, minor not newer), total_size = len, flags, hash_alg, sig_alg,
 * region_count (total_size = AHV_REQUEST_SIZE(n)), nonce_len, reserved and
 * nonce tail, each region (space, flags, claimed_digest tail, reserved),
 * signature padding. Region ranges are the hypervisor's to judge (§5.2 step
 * 9), after authentication. err may be NULL. */
enum ahv_wire_fault ahv_wire_check_request(const uint8_t *req, size_t len,
					   struct ahv_wire_error *err);

/* A checked report: is AHV_REPORT_F_CLAIM_MISMATCH set exactly when some
 * region carries CLAIMED without MATCH (protocol.md §8.3)? */
int ahv_wire_report_claims_agree(const uint8_t *rep);

#ifdef __cplusplus
}
#endif
#endif
