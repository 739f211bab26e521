/*
 * attest/wire_digest.h - the composite digest of a report (protocol.md §7.3)
 * with OpenSSL, for the hosted readers (libattest-hv, the verifier). The
 * hypervisor core computes the same value with its own mbedTLS code
 * (hypervisor/core/measure.c); tests/unit/wire_lib_test.c compares the two.
 */
#ifndef ATTEST_WIRE_DIGEST_H
#define ATTEST_WIRE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* OpenSSL's digest for a wire hash id (AHV_WIRE_HASH_*), NULL if unknown. */
const EVP_MD *ahv_wire_md(uint32_t hash_alg);

/* composite_digest of the len bytes at report into out[AHV_DIGEST_FIELD_SIZE]
 * (the first d bytes written). Returns d, or 0 when the hash id is unknown,
 * region_count is 0 or above AHV_MAX_REGIONS, the bytes are fewer than
 * AHV_REPORT_SIGNED_SIZE(region_count), or OpenSSL fails. Reads only the
 * fields that enter E; ahv_wire_check_report() judges the rest. */
size_t ahv_wire_composite(const uint8_t *report, size_t len, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
