/* composite.c - composite_digest = H(E), E = label || hash_alg || n ||
 * request_digest || for each region: address || size || space || digest,
 * only the d meaningful digest bytes (protocol.md §7.3). The integers are
 * copied from the report as they stand: the wire is little-endian, as E is. */
#include <attest/wire.h>
#include <attest/wire_digest.h>

#define RH(f) offsetof(struct ahv_report_hdr, f)
#define RR(f) offsetof(struct ahv_region_result, f)
_Static_assert(RR(flags) - RR(address) == 20, "address, size, space: 20 bytes of E");

const EVP_MD *ahv_wire_md(uint32_t hash_alg)
{
	switch (hash_alg) {
	case AHV_WIRE_HASH_SHA256: return EVP_sha256();
	case AHV_WIRE_HASH_SHA384: return EVP_sha384();
	case AHV_WIRE_HASH_SHA512: return EVP_sha512();
	case AHV_WIRE_HASH_SHA3_256: return EVP_sha3_256();
	case AHV_WIRE_HASH_SHA3_384: return EVP_sha3_384();
	case AHV_WIRE_HASH_SHA3_512: return EVP_sha3_512();
	default: return NULL;
	}
}

size_t ahv_wire_composite(const uint8_t *rep, size_t len, uint8_t *out)
{
	if (len < AHV_REPORT_HDR_SIZE)
		return 0;
	uint32_t alg = ahv_le16_get(rep + RH(hash_alg)), n = ahv_le16_get(rep + RH(region_count));
	size_t d = ahv_wire_hash_size(alg);
	const EVP_MD *md = ahv_wire_md(alg);
	if (!d || !md || n < 1 || n > AHV_MAX_REGIONS || len < AHV_REPORT_SIGNED_SIZE(n))
		return 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t le[8];
	unsigned int ol = 0;
	ahv_le32_put(le, alg);
	ahv_le32_put(le + 4, n);
	int ok = c && EVP_DigestInit_ex(c, md, NULL) &&
		 EVP_DigestUpdate(c, AHV_COMPOSITE_LABEL, AHV_COMPOSITE_LABEL_SIZE) &&
		 EVP_DigestUpdate(c, le, sizeof le) && EVP_DigestUpdate(c, rep + RH(request_digest), d);
	for (uint32_t i = 0; ok && i < n; i++) {
		const uint8_t *r = rep + AHV_REPORT_RESULT_OFFSET(i);
		/* address, size, space: adjacent on the wire, 20 bytes */
		ok = EVP_DigestUpdate(c, r + RR(address), RR(flags) - RR(address)) &&
		     EVP_DigestUpdate(c, r + RR(digest), d);
	}
	ok = ok && EVP_DigestFinal_ex(c, out, &ol);
	EVP_MD_CTX_free(c);
	return ok && ol == d ? d : 0;
}
