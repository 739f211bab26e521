/*
 * wire_layout_test - runtime sanity checks of include/attest/wire.h.
 * The header pins every size and offset at compile time; this program checks
 * the size macros, the CPUID signature words, the LE helpers and the
 * crypto-id cross-check (crypto.h is included first on purpose).
 */
#include <ahv/crypto.h>
#include <attest/wire.h>

#include <stdio.h>
#include <string.h>

#ifndef ATTEST_WIRE_CRYPTO_CHECKED
#error "wire.h did not cross-check the crypto ids"
#endif

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

int main(void)
{
	/* size macros */
	CHECK(AHV_REQUEST_SIZE(1) == 320);
	CHECK(AHV_REQUEST_SIZE(2) == 416);
	CHECK(AHV_REQUEST_SIZE(64) == 6368);
	CHECK(AHV_REQUEST_SIGNED_SIZE(3) == AHV_REQUEST_SIZE(3) - 96);
	CHECK(AHV_REQUEST_SIG_OFFSET(3) + AHV_SIG_FIELD_SIZE ==
	      AHV_REQUEST_SIZE(3));
	CHECK(AHV_REQUEST_REGION_OFFSET(0) == sizeof(struct ahv_request_hdr));
	CHECK(AHV_REQUEST_TAIL_OFFSET(5) ==
	      sizeof(struct ahv_request_hdr) + 5 * sizeof(struct ahv_region));
	CHECK(AHV_REPORT_SIZE(1) == 632);
	CHECK(AHV_REPORT_SIZE(64) == 6176);
	CHECK(AHV_REPORT_SIZE(7) == sizeof(struct ahv_report_hdr) +
					    7 * sizeof(struct ahv_region_result) +
					    sizeof(struct ahv_report_tail));
	CHECK(AHV_REPORT_SIG_OFFSET(2) == 448 + 2 * 88);
	/* a runtime n, as a parser would use it */
	for (unsigned n = 0; n <= AHV_MAX_REGIONS; n++) {
		CHECK(AHV_REQUEST_SIZE(n) == 224 + 96 * (size_t)n);
		CHECK(AHV_REPORT_SIZE(n) == 544 + 88 * (size_t)n);
	}

	/* CPUID signature words spell the 12-byte signature */
	{
		uint8_t sig[12];
		ahv_le32_put(sig, AHV_CPUID_SIG_EBX);
		ahv_le32_put(sig + 4, AHV_CPUID_SIG_ECX);
		ahv_le32_put(sig + 8, AHV_CPUID_SIG_EDX);
		CHECK(memcmp(sig, AHV_CPUID_SIGNATURE, 12) == 0);
	}
	/* magics read as ASCII */
	{
		uint8_t m[4];
		ahv_le32_put(m, AHV_REQUEST_MAGIC);
		CHECK(memcmp(m, "AHVQ", 4) == 0);
		ahv_le32_put(m, AHV_REPORT_MAGIC);
		CHECK(memcmp(m, "AHVR", 4) == 0);
		ahv_le32_put(m, AHV_INFO_MAGIC);
		CHECK(memcmp(m, "AHVI", 4) == 0);
	}
	/* LE helpers round-trip */
	{
		uint8_t b[8];
		ahv_le64_put(b, UINT64_C(0x0102030405060708));
		CHECK(b[0] == 0x08 && b[7] == 0x01);
		CHECK(ahv_le64_get(b) == UINT64_C(0x0102030405060708));
		CHECK(ahv_le32_get(b) == 0x05060708u);
		CHECK(ahv_le16_get(b) == 0x0708u);
	}
	/* algorithm tables agree with the crypto API */
	for (uint32_t a = 0; a <= AHV_WIRE_HASH_MAX_ID + 1; a++)
		CHECK(ahv_wire_hash_size(a) ==
		      (a == 0 || a > AHV_WIRE_HASH_MAX_ID ? 0 : (uint32_t)(
			      a == 1 || a == 4 ? 32 : a == 2 || a == 5 ? 48 : 64)));
	CHECK(ahv_wire_sig_size(AHV_SIG_ECDSA_P256_SHA256) == 64);
	CHECK(ahv_wire_sig_size(AHV_SIG_ECDSA_P384_SHA384) == 96);
	CHECK(ahv_wire_sig_size(0) == 0 && ahv_wire_sig_size(3) == 0);
	CHECK(AHV_HV_VERSION(1, 2, 3) == 0x01020003u);
	CHECK(AHV_HV_VERSION_MINOR(AHV_HV_VERSION(1, 2, 3)) == 2);
	CHECK(AHV_CPUID_WIRE_VERSION == 0x00010001u);
	/* minor 1 (docs/watch.md): the watch fields overlay minor 0's reserved
	 * ones, and a record fills a 32-byte hash's unused digest tail */
	CHECK(offsetof(struct ahv_request_hdr, watch_arg) == offsetof(struct ahv_request_hdr, reserved));
	CHECK(offsetof(struct ahv_report_hdr, watch_state) == offsetof(struct ahv_report_hdr, reserved0));
	CHECK(offsetof(struct ahv_report_hdr, watch_id) == offsetof(struct ahv_report_hdr, reserved1));
	CHECK(offsetof(struct ahv_report_hdr, watch_since_counter) == offsetof(struct ahv_report_hdr, reserved2));
	CHECK(AHV_WATCH_RECORD_OFFSET + sizeof(struct ahv_watch_record) == AHV_DIGEST_FIELD_SIZE);
	CHECK(ahv_wire_hash_size(AHV_WIRE_HASH_SHA256) == AHV_WATCH_HASH_SIZE);
	CHECK((AHV_REQ_F_WATCH_START | AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END) ==
	      (uint32_t)~AHV_REQ_F_RESERVED_MASK);
	CHECK(strlen(AHV_COMPOSITE_LABEL) + 1 == AHV_COMPOSITE_LABEL_SIZE);

	/* the header example of docs/protocol.md ("Worked example") */
	{
		struct ahv_request_hdr h;
		memset(&h, 0, sizeof h);
		h.magic = AHV_REQUEST_MAGIC;
		h.version_major = AHV_WIRE_VERSION_MAJOR;
		h.version_minor = AHV_WIRE_VERSION_MINOR;
		h.total_size = (uint32_t)AHV_REQUEST_SIZE(1);
		h.hash_alg = AHV_WIRE_HASH_SHA256;
		h.sig_alg = AHV_SIG_ECDSA_P256_SHA256;
		h.region_count = 1;
		h.nonce_len = 8;
		for (int i = 0; i < 8; i++)
			h.nonce[i] = (uint8_t)(0x11 * (i + 1));
		static const uint8_t want[32] = {
			0x41, 0x48, 0x56, 0x51, 0x01, 0x00, 0x01, 0x00,
			0x40, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		};
		CHECK(memcmp(&h, want, sizeof want) == 0);
		CHECK(h.nonce[7] == 0x88);
	}

	if (failures) {
		fprintf(stderr, "wire_layout_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("wire_layout_test: ok\n");
	return 0;
}
