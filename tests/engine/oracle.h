/*
 * oracle.h - OpenSSL as the independent judge of what the engine produced:
 * digests over the bytes the sim's MODEL says a region holds, the composite
 * digest re-derived from protocol.md §7.3, the report signature checked
 * with OpenSSL's ECDSA. Header-only, for the engine tests and tools.
 */
#ifndef AHV_TEST_ORACLE_H
#define AHV_TEST_ORACLE_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static inline const EVP_MD *oracle_md(uint32_t alg)
{
	switch (alg) {
	case 1: return EVP_sha256();
	case 2: return EVP_sha384();
	case 3: return EVP_sha512();
	case 4: return EVP_sha3_256();
	case 5: return EVP_sha3_384();
	case 6: return EVP_sha3_512();
	default: return NULL;
	}
}

static inline void oracle_hash(uint32_t alg, const void *p, size_t n, uint8_t *out)
{
	unsigned len;

	if (!EVP_Digest(p, n, out, &len, oracle_md(alg), NULL))
		abort();
}

/* Digest of [addr, addr + size) in `space` as the model maps it. */
static inline bool oracle_region(struct sim *s, uint32_t alg, uint32_t space,
				 uint64_t addr, uint64_t size, uint8_t *out)
{
	uint8_t *buf = malloc(size ? size : 1);
	bool ok = buf && sim_read(s, space, addr, buf, size);

	if (ok)
		oracle_hash(alg, buf, size, out);
	free(buf);
	return ok;
}

/* protocol.md §7.3, built as one buffer E, hashed once. */
static inline void oracle_composite(const uint8_t *report, uint8_t *out)
{
	struct ahv_report_hdr h;
	uint8_t e[32 + 64 + AHV_MAX_REGIONS * (20 + 64)];
	size_t d, n = 0;

	memcpy(&h, report, sizeof(h));
	d = ahv_wire_hash_size(h.hash_alg);
	memcpy(e, "AHV-COMPOSITE-DIGEST-V1", 24); /* includes the NUL */
	n = 24;
	ahv_le32_put(e + n, h.hash_alg);
	ahv_le32_put(e + n + 4, h.region_count);
	n += 8;
	memcpy(e + n, h.request_digest, d);
	n += d;
	for (unsigned i = 0; i < h.region_count; i++) {
		struct ahv_region_result r;

		memcpy(&r, report + AHV_REPORT_RESULT_OFFSET(i), sizeof(r));
		ahv_le64_put(e + n, r.address);
		ahv_le64_put(e + n + 8, r.size);
		ahv_le32_put(e + n + 16, r.space);
		memcpy(e + n + 20, r.digest, d);
		n += 20 + d;
	}
	oracle_hash(h.hash_alg, e, n, out);
}

/* ECDSA check of the report signature with OpenSSL, key given as point. */
static inline bool oracle_verify_report(const ahv_ec_pub *pub,
					const uint8_t *report)
{
	struct ahv_report_hdr h;
	uint8_t spki[AHV_SPKI_MAX_DER], der[AHV_EC_MAX_SIG_DER];
	size_t spki_len, der_len, signed_len, cs;
	const unsigned char *p = spki;
	EVP_PKEY *pk;
	EVP_MD_CTX *md;
	bool ok;

	memcpy(&h, report, sizeof(h));
	signed_len = AHV_REPORT_SIGNED_SIZE(h.region_count);
	cs = ahv_curve_size((ahv_curve)pub->curve);
	if (ahv_spki_write_der(pub, spki, sizeof(spki), &spki_len) ||
	    ahv_ecdsa_sig_raw_to_der((ahv_curve)pub->curve, report + signed_len,
				     2 * cs, der, sizeof(der), &der_len))
		return false;
	/* padding of the signature field is zero */
	for (size_t i = 2 * cs; i < AHV_SIG_FIELD_SIZE; i++)
		if (report[signed_len + i])
			return false;
	pk = d2i_PUBKEY(NULL, &p, (long)spki_len);
	md = EVP_MD_CTX_new();
	ok = pk && md &&
	     EVP_DigestVerifyInit(md, NULL, cs == 48 ? EVP_sha384() : EVP_sha256(),
				  NULL, pk) == 1 &&
	     EVP_DigestVerify(md, der, der_len, report, signed_len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return ok;
}

/* SHA-256 of the SPKI DER, computed by OpenSSL (protocol.md §8.2). */
static inline void oracle_key_id(const ahv_ec_pub *pub, uint8_t id[32])
{
	uint8_t spki[AHV_SPKI_MAX_DER];
	size_t len;

	if (ahv_spki_write_der(pub, spki, sizeof(spki), &len))
		abort();
	oracle_hash(1, spki, len, id);
}

#endif
