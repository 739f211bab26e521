/* report_check.c - the structure of a report (protocol.md §6.2, §10, §11
 * items 1 and 3): everything a reader can check without the hypervisor's
 * key. */
#include <attest/wire_parse.h>

#include "fault.h"

#define FAIL(fault, ...) return ahv_wire_fail(err, fault, __VA_ARGS__)

/* A watched result (minor 1, protocol.md §6.4): the record in the digest
 * tail; no digest for a REMAPPED region. */
static enum ahv_wire_fault check_record(const struct ahv_region_result *r, unsigned i,
					struct ahv_wire_error *err)
{
	const uint8_t *t = r->digest + AHV_WATCH_RECORD_OFFSET;
	if (ahv_le32_get(t + offsetof(struct ahv_watch_record, reserved)))
		FAIL(AHV_WIRE_E_RESERVED, "report region %u watch record reserved is nonzero", i);
	if (!(r->flags & AHV_RESULT_F_MODIFIED) &&
	    !ahv_wire_zero(t + offsetof(struct ahv_watch_record, gpa), 20))
		FAIL(AHV_WIRE_E_VALUE, "report region %u unmodified but its record names a write", i);
	if ((r->flags & AHV_RESULT_F_REMAPPED) && !ahv_wire_zero(r->digest, AHV_WATCH_HASH_SIZE))
		FAIL(AHV_WIRE_E_VALUE, "report region %u REMAPPED with a digest", i);
	return AHV_WIRE_OK;
}

/* Region results: space, flags, digest tail (or watch record), range;
 * total_bytes. */
static enum ahv_wire_fault check_results(const uint8_t *rep, const struct ahv_report_hdr *h,
					 size_t d, bool newer, struct ahv_wire_error *err)
{
	uint64_t total = 0;
	uint32_t known = AHV_RESULT_F_CLAIMED | AHV_RESULT_F_MATCH |
			 (h->watch_state ? AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED |
						   AHV_RESULT_F_REMAPPED
					 : 0);
	for (unsigned i = 0; i < h->region_count; i++) {
		struct ahv_region_result r;
		ahv_wire_get_region_result(rep + AHV_REPORT_RESULT_OFFSET(i), &r);
		if (r.space != AHV_SPACE_GVA && r.space != AHV_SPACE_GPA)
			FAIL(AHV_WIRE_E_VALUE, "report region %u space %u invalid", i, r.space);
		if (!newer && (r.flags & ~known))
			FAIL(AHV_WIRE_E_RESERVED, "report region %u reserved flag bits 0x%x set", i, r.flags);
		if ((r.flags & AHV_RESULT_F_MATCH) && !(r.flags & AHV_RESULT_F_CLAIMED))
			FAIL(AHV_WIRE_E_VALUE, "report region %u flags 0x%x: MATCH without CLAIMED", i, r.flags);
		bool watched = !newer && (r.flags & AHV_RESULT_F_WATCHED);
		if (!watched && (r.flags & (AHV_RESULT_F_MODIFIED | AHV_RESULT_F_REMAPPED)) && !newer)
			FAIL(AHV_WIRE_E_VALUE, "report region %u flags 0x%x: MODIFIED/REMAPPED without WATCHED", i,
			     r.flags);
		enum ahv_wire_fault f = watched ? check_record(&r, i, err) : AHV_WIRE_OK;
		if (f)
			return f;
		if (!watched && !ahv_wire_zero(r.digest + d, AHV_DIGEST_FIELD_SIZE - d))
			FAIL(AHV_WIRE_E_RESERVED, "report region %u digest tail is nonzero", i);
		/* the last byte may be at 2^64 - 1 (protocol.md §4.3) */
		if (r.size > AHV_MAX_TOTAL_BYTES || (r.size && r.address + (r.size - 1) < r.address))
			FAIL(AHV_WIRE_E_RANGE, "report region %u range 0x%llx+%llu invalid", i,
			     (unsigned long long)r.address, (unsigned long long)r.size);
		total += r.size; /* at most 64 x 2^30: no overflow */
	}
	if (total != h->total_bytes || total > AHV_MAX_TOTAL_BYTES)
		FAIL(AHV_WIRE_E_RANGE, "report total_bytes %llu, regions sum to %llu",
		     (unsigned long long)h->total_bytes, (unsigned long long)total);
	return AHV_WIRE_OK;
}

enum ahv_wire_fault ahv_wire_check_report(const uint8_t *rep, size_t len, struct ahv_wire_error *err)
{
	struct ahv_report_hdr h;
	if (err) {
		err->fault = AHV_WIRE_OK;
		err->text[0] = 0;
	}
	if (len < AHV_REPORT_HDR_SIZE)
		FAIL(AHV_WIRE_E_SIZE, "report of %zu bytes is shorter than its header", len);
	ahv_wire_get_report_hdr(rep, &h);
	if (h.magic != AHV_REPORT_MAGIC)
		FAIL(AHV_WIRE_E_MAGIC, "report magic is not \"AHVR\"");
	if (h.version_major != AHV_WIRE_VERSION_MAJOR)
		FAIL(AHV_WIRE_E_VERSION, "report wire version %u.%u: major %u only", h.version_major,
		     h.version_minor, AHV_WIRE_VERSION_MAJOR);
	unsigned n = h.region_count;
	if (n < 1 || n > AHV_MAX_REGIONS)
		FAIL(AHV_WIRE_E_SIZE, "report region_count %u outside 1..%u", n, AHV_MAX_REGIONS);
	if (h.total_size != AHV_REPORT_SIZE(n) || len != AHV_REPORT_SIZE(n))
		FAIL(AHV_WIRE_E_SIZE, "report of %zu bytes, total_size %u, %u regions need %zu", len,
		     h.total_size, n, (size_t)AHV_REPORT_SIZE(n));
	size_t d = ahv_wire_hash_size(h.hash_alg), sl = ahv_wire_sig_size(h.sig_alg);
	if (!d)
		FAIL(AHV_WIRE_E_ALG, "report hash_alg %u unknown", h.hash_alg);
	if (!sl)
		FAIL(AHV_WIRE_E_ALG, "report sig_alg %u unknown", h.sig_alg);
	if (h.nonce_len < AHV_NONCE_MIN || h.nonce_len > AHV_NONCE_MAX)
		FAIL(AHV_WIRE_E_VALUE, "report nonce_len %u outside %u..%u", h.nonce_len, AHV_NONCE_MIN,
		     AHV_NONCE_MAX);
	if (!ahv_wire_zero(rep + AHV_REPORT_SIG_OFFSET(n) + sl, AHV_SIG_FIELD_SIZE - sl))
		FAIL(AHV_WIRE_E_RESERVED, "report signature padding is nonzero");
	/* A newer minor may give what is reserved in ours a meaning (protocol.md
	 * §10): only those are ignored; every field read here is checked as for
	 * our own minor. */
	bool newer = h.version_minor > AHV_WIRE_VERSION_MINOR;
	/* ... except the flags: each one weakens a report, so an unknown bit is
	 * refused in any minor (must-understand, protocol.md §10). */
	if (h.flags & ~AHV_REPORT_F_KNOWN)
		FAIL(AHV_WIRE_E_RESERVED, "report flag bits 0x%x unknown to this checker", h.flags & ~AHV_REPORT_F_KNOWN);
	/* minor 1: the watch fields (protocol.md §6.4), all 0 without a watch */
	if (!newer && !h.watch_state && (h.watch_id || !ahv_wire_zero(h.reserved2, sizeof h.reserved2)))
		FAIL(AHV_WIRE_E_RESERVED, "report reserved field is nonzero");
	if (!newer && h.watch_state > AHV_WATCH_EXPIRED)
		FAIL(AHV_WIRE_E_VALUE, "report watch_state %u invalid", h.watch_state);
	if (!newer && h.watch_state && (!h.watch_id || d != AHV_WATCH_HASH_SIZE))
		FAIL(AHV_WIRE_E_VALUE, "report watch %u with hash size %zu: id 0 or no room for records",
		     h.watch_id, d);
	if (!ahv_wire_zero(h.nonce + h.nonce_len, AHV_NONCE_MAX - h.nonce_len))
		FAIL(AHV_WIRE_E_RESERVED, "report nonce tail is nonzero");
	if (!ahv_wire_zero(h.request_digest + d, AHV_DIGEST_FIELD_SIZE - d) ||
	    !ahv_wire_zero(h.composite_digest + d, AHV_DIGEST_FIELD_SIZE - d))
		FAIL(AHV_WIRE_E_RESERVED, "report digest tail is nonzero");
	if (h.caller_cpl != 0 && h.caller_cpl != 3)
		FAIL(AHV_WIRE_E_VALUE, "report caller_cpl %u invalid", h.caller_cpl);
	if (h.paging_levels != 4 && h.paging_levels != 5)
		FAIL(AHV_WIRE_E_VALUE, "report paging_levels %u invalid", h.paging_levels);
	if (h.backend != AHV_BACKEND_VMX && h.backend != AHV_BACKEND_SVM)
		FAIL(AHV_WIRE_E_VALUE, "report backend %u invalid", h.backend);
	return check_results(rep, &h, d, newer, err);
}

int ahv_wire_report_claims_agree(const uint8_t *rep)
{
	unsigned n = ahv_le16_get(rep + offsetof(struct ahv_report_hdr, region_count));
	uint32_t flags = ahv_le32_get(rep + offsetof(struct ahv_report_hdr, flags));
	bool mismatch = false;
	for (unsigned i = 0; i < n; i++) {
		uint32_t f = ahv_le32_get(rep + AHV_REPORT_RESULT_OFFSET(i) +
					  offsetof(struct ahv_region_result, flags));
		mismatch |= (f & AHV_RESULT_F_CLAIMED) && !(f & AHV_RESULT_F_MATCH);
	}
	return mismatch == !!(flags & AHV_REPORT_F_CLAIM_MISMATCH);
}
