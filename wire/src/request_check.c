/* request_check.c - the structure of a request (protocol.md §6.1), in the
 * order the hypervisor checks it (§5.2 step 6). */
#include <attest/wire_parse.h>

#include "fault.h"

#define FAIL(fault, ...) return ahv_wire_fail(err, fault, __VA_ARGS__)

static enum ahv_wire_fault check_regions(const uint8_t *q, unsigned n, size_t d,
					 struct ahv_wire_error *err)
{
	for (unsigned i = 0; i < n; i++) {
		struct ahv_region g;
		ahv_wire_get_region(q + AHV_REQUEST_REGION_OFFSET(i), &g);
		if (g.space != AHV_SPACE_GVA && g.space != AHV_SPACE_GPA)
			FAIL(AHV_WIRE_E_VALUE, "request region %u space %u invalid", i, g.space);
		if (g.flags & AHV_REGION_F_RESERVED_MASK)
			FAIL(AHV_WIRE_E_RESERVED, "request region %u reserved flag bits 0x%x set", i,
			     g.flags & AHV_REGION_F_RESERVED_MASK);
		size_t used = (g.flags & AHV_REGION_F_CLAIMED) ? d : 0;
		if (!ahv_wire_zero(g.claimed_digest + used, AHV_DIGEST_FIELD_SIZE - used) || g.reserved)
			FAIL(AHV_WIRE_E_RESERVED, "request region %u claimed_digest tail or reserved is nonzero",
			     i);
	}
	return AHV_WIRE_OK;
}

enum ahv_wire_fault ahv_wire_check_request(const uint8_t *q, size_t len, struct ahv_wire_error *err)
{
	struct ahv_request_hdr h;
	if (err) {
		err->fault = AHV_WIRE_OK;
		err->text[0] = 0;
	}
	if (len < AHV_REQUEST_MIN_SIZE || len > AHV_REQUEST_MAX_SIZE)
		FAIL(AHV_WIRE_E_SIZE, "request of %zu bytes, outside %u..%u", len,
		     (unsigned)AHV_REQUEST_MIN_SIZE, (unsigned)AHV_REQUEST_MAX_SIZE);
	ahv_wire_get_request_hdr(q, &h);
	if (h.magic != AHV_REQUEST_MAGIC)
		FAIL(AHV_WIRE_E_MAGIC, "request magic is not \"AHVQ\"");
	if (h.version_major != AHV_WIRE_VERSION_MAJOR || h.version_minor > AHV_WIRE_VERSION_MINOR)
		FAIL(AHV_WIRE_E_VERSION, "request wire version %u.%u not implemented", h.version_major,
		     h.version_minor);
	if (h.total_size != len)
		FAIL(AHV_WIRE_E_SIZE, "request total_size %u, %zu bytes", h.total_size, len);
	/* minor 1: the watch flags (protocol.md §6.4) */
	bool check = h.flags & AHV_REQ_F_WATCH_CHECK;
	if ((h.flags & AHV_REQ_F_RESERVED_MASK) || (check && (h.flags & AHV_REQ_F_WATCH_START)) ||
	    ((h.flags & AHV_REQ_F_WATCH_END) && !check) || (h.flags && h.version_minor < 1))
		FAIL(AHV_WIRE_E_RESERVED, "request flags 0x%x not a valid watch combination", h.flags);
	if (h.flags && ahv_wire_hash_size(h.hash_alg) != AHV_WATCH_HASH_SIZE)
		FAIL(AHV_WIRE_E_ALG, "request watch flags need a 32-byte hash, hash_alg %u", h.hash_alg);
	size_t d = ahv_wire_hash_size(h.hash_alg), sl = ahv_wire_sig_size(h.sig_alg);
	if (!d)
		FAIL(AHV_WIRE_E_ALG, "request hash_alg %u unknown", h.hash_alg);
	if (!sl)
		FAIL(AHV_WIRE_E_ALG, "request sig_alg %u unknown", h.sig_alg);
	unsigned n = h.region_count;
	if (n < 1 || n > AHV_MAX_REGIONS || h.total_size != AHV_REQUEST_SIZE(n))
		FAIL(AHV_WIRE_E_SIZE, "request region_count %u does not fit %u bytes", n, h.total_size);
	if (h.nonce_len < AHV_NONCE_MIN || h.nonce_len > AHV_NONCE_MAX)
		FAIL(AHV_WIRE_E_VALUE, "request nonce_len %u outside %u..%u", h.nonce_len, AHV_NONCE_MIN,
		     AHV_NONCE_MAX);
	if ((h.watch_arg && !h.flags) || !ahv_wire_zero(h.nonce + h.nonce_len, AHV_NONCE_MAX - h.nonce_len))
		FAIL(AHV_WIRE_E_RESERVED, "request reserved field or nonce tail is nonzero");
	enum ahv_wire_fault f = check_regions(q, n, d, err);
	if (f)
		return f;
	if (!ahv_wire_zero(q + AHV_REQUEST_SIG_OFFSET(n) + sl, AHV_SIG_FIELD_SIZE - sl))
		FAIL(AHV_WIRE_E_RESERVED, "request signature padding is nonzero");
	return AHV_WIRE_OK;
}
