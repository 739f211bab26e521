/* wire_parse_fuzz.c - libFuzzer target for the hosted wire library (wire/):
 * the report and request checks, the getters, the composite digest and
 * base64, on untrusted bytes. Each input is tried as a report and as a
 * request, as given and with magic, version, total_size and region_count
 * made to fit its length (so that mutations reach the fields behind the
 * header checks), and as base64 text in both alphabets. The buffer is an
 * exact-size heap copy: ASan sees any read past it. What must hold: a
 * report that passes has a computable composite digest, a request that
 * passes has the size its count says, every fault has a text, and base64
 * that decodes encodes back to the very same text (one encoding per
 * value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <attest/base64.h>
#include <attest/wire_digest.h>
#include <attest/wire_parse.h>

static void report(const uint8_t *p, size_t n)
{
	struct ahv_wire_error e;
	enum ahv_wire_fault f = ahv_wire_check_report(p, n, &e);
	uint8_t d[AHV_DIGEST_FIELD_SIZE];
	if (f != e.fault || (f && !e.text[0]))
		abort();
	size_t c = ahv_wire_composite(p, n, d);
	if (f == AHV_WIRE_OK) {
		struct ahv_report_hdr h;
		ahv_wire_get_report_hdr(p, &h);
		if (n != AHV_REPORT_SIZE(h.region_count) || c != ahv_wire_hash_size(h.hash_alg))
			abort();
		(void)ahv_wire_report_claims_agree(p);
	}
}

static void request(const uint8_t *p, size_t n)
{
	struct ahv_wire_error e;
	enum ahv_wire_fault f = ahv_wire_check_request(p, n, &e);
	if (f != e.fault || (f && !e.text[0]))
		abort();
	if (f == AHV_WIRE_OK) {
		struct ahv_request_hdr h;
		ahv_wire_get_request_hdr(p, &h);
		if (n != AHV_REQUEST_SIZE(h.region_count))
			abort();
	}
}

static void base64(const uint8_t *p, size_t n)
{
	size_t cap = ahv_b64_decoded_max(n);
	uint8_t *out = malloc(cap + 1);
	char *back = malloc(n + 4);
	for (int a = AHV_B64_STD; a <= AHV_B64_URL; a++) {
		long l = ahv_b64_decode(out, cap, (const char *)p, n, (enum ahv_b64_alphabet)a);
		if (l < 0)
			continue;
		if (ahv_b64_encoded_len((size_t)l, (enum ahv_b64_alphabet)a) != n ||
		    ahv_b64_encode(back, out, (size_t)l, (enum ahv_b64_alphabet)a) != n || memcmp(back, p, n))
			abort();
	}
	free(back);
	free(out);
}

/* data with magic, major, total_size and region_count set to fit its size
 * (base + n * per bytes), then checked; nothing if no n fits. */
static void fitted(uint8_t *p, const uint8_t *data, size_t size, size_t base, size_t per,
		   uint32_t magic, void (*check)(const uint8_t *, size_t))
{
	memcpy(p, data, size);
	if (size < base + per || (size - base) % per || (size - base) / per > AHV_MAX_REGIONS)
		return;
	ahv_le32_put(p + offsetof(struct ahv_report_hdr, magic), magic);
	ahv_le16_put(p + offsetof(struct ahv_report_hdr, version_major), AHV_WIRE_VERSION_MAJOR);
	ahv_le32_put(p + offsetof(struct ahv_report_hdr, total_size), (uint32_t)size);
	ahv_le16_put(p + offsetof(struct ahv_report_hdr, region_count), (uint16_t)((size - base) / per));
	check(p, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	report(p, size);
	request(p, size);
	base64(p, size);
	/* request and report headers share their first 24 bytes (wire.h) */
	fitted(p, data, size, AHV_REPORT_SIZE(0), AHV_REGION_RESULT_SIZE, AHV_REPORT_MAGIC, report);
	fitted(p, data, size, AHV_REQUEST_SIZE(0), AHV_REGION_SIZE, AHV_REQUEST_MAGIC, request);
	free(p);
	return 0;
}
