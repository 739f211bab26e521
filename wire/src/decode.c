/* decode.c - host-order copies of the fixed-size wire parts, every
 * multi-byte field read with the little-endian getters of <attest/wire.h>.
 * A field added to wire.h is added here, in offset order. */
#include <string.h>

#include <attest/wire_parse.h>

#define QH(f) offsetof(struct ahv_request_hdr, f)
#define RG(f) offsetof(struct ahv_region, f)
#define RH(f) offsetof(struct ahv_report_hdr, f)
#define RR(f) offsetof(struct ahv_region_result, f)

/* Request and report headers begin alike (magic .. nonce_len), and so do a
 * region and its result (address .. flags): one reader each, for either
 * type (the offsets are asserted equal below). */
#define GET_HDR_PREFIX(p, h)                                                   \
	do {                                                                   \
		(h)->magic = ahv_le32_get((p) + QH(magic));                    \
		(h)->version_major = ahv_le16_get((p) + QH(version_major));    \
		(h)->version_minor = ahv_le16_get((p) + QH(version_minor));    \
		(h)->total_size = ahv_le32_get((p) + QH(total_size));          \
		(h)->flags = ahv_le32_get((p) + QH(flags));                    \
		(h)->hash_alg = ahv_le16_get((p) + QH(hash_alg));              \
		(h)->sig_alg = ahv_le16_get((p) + QH(sig_alg));                \
		(h)->region_count = ahv_le16_get((p) + QH(region_count));      \
		(h)->nonce_len = ahv_le16_get((p) + QH(nonce_len));            \
	} while (0)
_Static_assert(QH(magic) == RH(magic) && QH(version_major) == RH(version_major) &&
		       QH(version_minor) == RH(version_minor) && QH(total_size) == RH(total_size) &&
		       QH(flags) == RH(flags) && QH(hash_alg) == RH(hash_alg) &&
		       QH(sig_alg) == RH(sig_alg) && QH(region_count) == RH(region_count) &&
		       QH(nonce_len) == RH(nonce_len),
	       "request and report headers share their first 24 bytes");

#define GET_RANGE(p, r)                                                        \
	do {                                                                   \
		(r)->address = ahv_le64_get((p) + RG(address));                \
		(r)->size = ahv_le64_get((p) + RG(size));                      \
		(r)->space = ahv_le32_get((p) + RG(space));                    \
		(r)->flags = ahv_le32_get((p) + RG(flags));                    \
	} while (0)
_Static_assert(RG(address) == RR(address) && RG(size) == RR(size) && RG(space) == RR(space) &&
		       RG(flags) == RR(flags),
	       "a region and its result share their first 24 bytes");

void ahv_wire_get_request_hdr(const uint8_t *p, struct ahv_request_hdr *h)
{
	GET_HDR_PREFIX(p, h);
	h->reserved = ahv_le64_get(p + QH(reserved));
	memcpy(h->nonce, p + QH(nonce), sizeof h->nonce);
}

void ahv_wire_get_region(const uint8_t *p, struct ahv_region *r)
{
	GET_RANGE(p, r);
	memcpy(r->claimed_digest, p + RG(claimed_digest), sizeof r->claimed_digest);
	r->reserved = ahv_le64_get(p + RG(reserved));
}

void ahv_wire_get_report_hdr(const uint8_t *p, struct ahv_report_hdr *h)
{
	GET_HDR_PREFIX(p, h);
	h->caller_cpl = p[RH(caller_cpl)];
	h->paging_levels = p[RH(paging_levels)];
	h->backend = p[RH(backend)];
	h->reserved0 = p[RH(reserved0)];
	h->apic_id = ahv_le32_get(p + RH(apic_id));
	h->counter = ahv_le64_get(p + RH(counter));
	h->timestamp_ns = ahv_le64_get(p + RH(timestamp_ns));
	memcpy(h->boot_id, p + RH(boot_id), sizeof h->boot_id);
	memcpy(h->nonce, p + RH(nonce), sizeof h->nonce);
	memcpy(h->request_digest, p + RH(request_digest), sizeof h->request_digest);
	memcpy(h->composite_digest, p + RH(composite_digest), sizeof h->composite_digest);
	memcpy(h->guest_key_id, p + RH(guest_key_id), sizeof h->guest_key_id);
	memcpy(h->hv_key_id, p + RH(hv_key_id), sizeof h->hv_key_id);
	h->hv_version = ahv_le32_get(p + RH(hv_version));
	h->reserved1 = ahv_le32_get(p + RH(reserved1));
	memcpy(h->build_id, p + RH(build_id), sizeof h->build_id);
	memcpy(h->hv_image_digest, p + RH(hv_image_digest), sizeof h->hv_image_digest);
	memcpy(h->hv_config_digest, p + RH(hv_config_digest), sizeof h->hv_config_digest);
	h->total_bytes = ahv_le64_get(p + RH(total_bytes));
	memcpy(h->reserved2, p + RH(reserved2), sizeof h->reserved2);
}

void ahv_wire_get_region_result(const uint8_t *p, struct ahv_region_result *r)
{
	GET_RANGE(p, r);
	memcpy(r->digest, p + RR(digest), sizeof r->digest);
}
