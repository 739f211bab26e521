/*
 * report_check.c - host-side check of a report the e2e payload (or the Linux
 * guest) printed: signature by the hypervisor key announced on the
 * hypervisor's log port, sizes, nonce, composite digest (protocol.md §7.3,
 * §11), and optionally region 0's digest.
 *
 *   ahv_e2e_report_check REPORT_HEX SPKI_HEX NONCE_HEX [DIGEST0_HEX]
 * Each argument is a file holding hex (whitespace ignored).
 * Prints "AHV-HOSTCHECK: PASS ..." and exits 0, or "AHV-HOSTCHECK: FAIL why".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "attest/wire.h"

static size_t read_hex(const char *path, uint8_t *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c, hi = -1;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
			: (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (n < cap)
				out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	fclose(f);
	return n;
}

static int fail(const char *why)
{
	printf("AHV-HOSTCHECK: FAIL %s\n", why);
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t rep[AHV_REPORT_MAX_SIZE + 16];
	uint8_t spki[256], nonce[64], d0[64], dg[64];
	if (argc < 4) {
		fprintf(stderr, "usage: %s REPORT_HEX SPKI_HEX NONCE_HEX [DIGEST0_HEX]\n", argv[0]);
		return 2;
	}
	size_t rn = read_hex(argv[1], rep, sizeof(rep));
	size_t sn = read_hex(argv[2], spki, sizeof(spki));
	size_t nn = read_hex(argv[3], nonce, sizeof(nonce));
	size_t dn = argc > 4 ? read_hex(argv[4], d0, sizeof(d0)) : 0;
	ahv_ec_pub pub;
	if (ahv_spki_read_der(spki, sn, &pub))
		return fail("the hypervisor key (SPKI) does not parse");
	const struct ahv_report_hdr *h = (const void *)rep;
	if (rn < AHV_REPORT_MIN_SIZE || h->magic != AHV_REPORT_MAGIC || h->version_major != 1)
		return fail("not a version-1 report");
	unsigned n = h->region_count;
	if (n < 1 || n > AHV_MAX_REGIONS || h->total_size != AHV_REPORT_SIZE(n) || rn != h->total_size)
		return fail("report size does not match its region count");
	/* signature (§8.1): ECDSA over SHA-256 (P-256) / SHA-384 (P-384) */
	size_t ml = h->sig_alg == AHV_SIG_ECDSA_P256_SHA256 ? 32 : 48;
	ahv_hash(ml == 32 ? AHV_HASH_SHA256 : AHV_HASH_SHA384, rep, AHV_REPORT_SIGNED_SIZE(n), dg);
	if (h->sig_alg != pub.curve ||
	    ahv_ecdsa_verify_raw(&pub, dg, ml, rep + AHV_REPORT_SIG_OFFSET(n), ml * 2))
		return fail("the hypervisor signature does not verify");
	uint8_t kid[32];
	ahv_spki_key_id(&pub, kid);
	if (memcmp(kid, h->hv_key_id, 32))
		return fail("hv_key_id is not the announced key's id");
	if (h->nonce_len != nn || memcmp(h->nonce, nonce, nn))
		return fail("nonce differs");
	/* composite digest (§7.3) */
	size_t d = ahv_hash_size(h->hash_alg);
	if (!d)
		return fail("unknown hash algorithm");
	ahv_hash_ctx c;
	uint8_t le[8];
	ahv_hash_init(&c, h->hash_alg);
	ahv_hash_update(&c, AHV_COMPOSITE_LABEL, AHV_COMPOSITE_LABEL_SIZE);
	ahv_le32_put(le, h->hash_alg);
	ahv_hash_update(&c, le, 4);
	ahv_le32_put(le, n);
	ahv_hash_update(&c, le, 4);
	ahv_hash_update(&c, h->request_digest, d);
	for (unsigned i = 0; i < n; i++) {
		const struct ahv_region_result *r = (const void *)(rep + AHV_REPORT_RESULT_OFFSET(i));
		ahv_le64_put(le, r->address);
		ahv_hash_update(&c, le, 8);
		ahv_le64_put(le, r->size);
		ahv_hash_update(&c, le, 8);
		ahv_le32_put(le, r->space);
		ahv_hash_update(&c, le, 4);
		ahv_hash_update(&c, r->digest, d);
	}
	ahv_hash_final(&c, dg);
	if (memcmp(dg, h->composite_digest, d))
		return fail("composite digest does not recompute");
	if (dn) {
		const struct ahv_region_result *r = (const void *)(rep + AHV_REPORT_RESULT_OFFSET(0));
		if (dn != d || memcmp(r->digest, d0, d))
			return fail("region 0 digest differs from the expected one");
	}
	printf("AHV-HOSTCHECK: PASS report of %u regions, counter %llu, flags 0x%x, signature and composite digest verify\n",
	       n, (unsigned long long)h->counter, h->flags);
	return 0;
}
