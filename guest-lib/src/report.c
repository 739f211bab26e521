/* report.c - offline checks of reports and requests (protocol.md §11) and
 * their decoding into text or JSON. The structure checks and the composite
 * digest are the wire library's (wire/: attest/wire_parse.h,
 * attest/wire_digest.h); everything else is read with the little-endian
 * helpers of <attest/wire.h>; no structure is overlaid on caller bytes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <attest/wire_digest.h>
#include <attest/wire_parse.h>

#include "internal.h"

#define RH(f) offsetof(struct ahv_report_hdr, f)
#define QH(f) offsetof(struct ahv_request_hdr, f)
#define RG(f) offsetof(struct ahv_region, f)
#define RR(f) offsetof(struct ahv_region_result, f)

static int composite(const uint8_t *rep, size_t len, uint8_t *out)
{
	if (!ahv_wire_composite(rep, len, out))
		return ahvl_fail(AHVL_E_FORMAT, "composite digest: unknown hash algorithm %u or short report",
				 ahv_le16_get(rep + RH(hash_alg)));
	return AHVL_OK;
}

/* Structure of a report (the wire library's checks) and whether its
 * CLAIM_MISMATCH flag agrees with the region flags. */
static int report_structure(const uint8_t *rep, size_t len)
{
	struct ahv_wire_error e;
	if (ahv_wire_check_report(rep, len, &e))
		return ahvl_fail(AHVL_E_FORMAT, "%s", e.text);
	if (!ahv_wire_report_claims_agree(rep))
		return ahvl_fail(AHVL_E_FORMAT, "report CLAIM_MISMATCH flag disagrees with the region flags");
	return AHVL_OK;
}

static int request_structure(const uint8_t *q, size_t len)
{
	struct ahv_wire_error e;
	if (ahv_wire_check_request(q, len, &e))
		return ahvl_fail(AHVL_E_FORMAT, "%s", e.text);
	return AHVL_OK;
}

_Static_assert(AHV_REQUEST_SIG_OFFSET(3) == AHV_REQUEST_SIGNED_SIZE(3) &&
		       AHV_REPORT_SIG_OFFSET(3) == AHV_REPORT_SIGNED_SIZE(3),
	       "the signature follows the signed span");
/* b (a request or report) is signed with k: key_id (where b names its key)
 * is k's id, sig_alg fits k's curve, and the signature that follows the
 * signed span [0, signed_len) verifies. what / whose: for the texts. */
static int signed_by(EVP_PKEY *k, const uint8_t *b, const uint8_t *key_id, uint32_t sig_alg,
		     size_t signed_len, const char *what, const char *whose)
{
	uint8_t id[AHV_KEY_ID_SIZE];
	int rc = ahvl_key_id(k, id);
	if (rc)
		return rc;
	if (memcmp(id, key_id, AHV_KEY_ID_SIZE))
		return ahvl_fail(AHVL_E_MISMATCH, "%s key id is not the id of this %s key", what, whose);
	if (sig_alg != ahvl_key_sig_alg(k))
		return ahvl_fail(AHVL_E_MISMATCH, "%s sig_alg %u does not match the %s key's curve", what,
				 sig_alg, whose);
	rc = ahvl_ecdsa_verify(k, sig_alg, b, signed_len, b + signed_len);
	if (rc)
		ahvl_fail(rc, "the %s's %s signature does not verify with this key", what, whose);
	return rc;
}

int ahvl_request_verify(const uint8_t *q, size_t len, const uint8_t *guest_pub,
			size_t guest_pub_len)
{
	if (!q)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	int rc = request_structure(q, len);
	if (rc || !guest_pub)
		return rc;
	EVP_PKEY *k;
	if ((rc = ahvl_load_pub(guest_pub, guest_pub_len, &k)))
		return rc;
	uint32_t n = ahv_le16_get(q + QH(region_count));
	rc = signed_by(k, q, q + AHV_REQUEST_TAIL_OFFSET(n), ahv_le16_get(q + QH(sig_alg)),
		       AHV_REQUEST_SIGNED_SIZE(n), "request", "guest");
	EVP_PKEY_free(k);
	return rc;
}

int ahvl_report_verify(const uint8_t *rep, size_t len, const uint8_t *hv_pub,
		       size_t hv_pub_len, const struct ahvl_report_expect *ex)
{
	if (!rep || !hv_pub)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	int rc = report_structure(rep, len);
	if (rc)
		return rc;
	uint32_t n = ahv_le16_get(rep + RH(region_count));
	uint32_t alg = ahv_le16_get(rep + RH(hash_alg)), sig = ahv_le16_get(rep + RH(sig_alg));
	size_t d = ahv_wire_hash_size(alg);
	EVP_PKEY *k;
	if ((rc = ahvl_load_pub(hv_pub, hv_pub_len, &k)))
		return rc;
	uint8_t comp[64];
	if ((rc = signed_by(k, rep, rep + RH(hv_key_id), sig, AHV_REPORT_SIGNED_SIZE(n), "report",
			    "hypervisor")))
		goto out;
	if ((rc = composite(rep, len, comp)))
		goto out;
	if (memcmp(comp, rep + RH(composite_digest), d)) {
		rc = ahvl_fail(AHVL_E_MISMATCH, "composite_digest does not match the region results");
		goto out;
	}
	uint32_t flags = ahv_le32_get(rep + RH(flags));
	uint32_t allow = (ex ? ex->allow_flags : 0) | AHV_REPORT_F_TIME_INVALID;
	if (flags & ~allow & AHV_REPORT_F_KNOWN) {
		rc = ahvl_fail(AHVL_E_MISMATCH, "report flags 0x%x not allowed:%s%s%s%s", flags,
			       flags & ~allow & AHV_REPORT_F_DEV_KEY ? " DEV_KEY" : "",
			       flags & ~allow & AHV_REPORT_F_DEBUG ? " DEBUG" : "",
			       flags & ~allow & AHV_REPORT_F_CLAIM_MISMATCH ? " CLAIM_MISMATCH" : "",
			       flags & ~allow & AHV_REPORT_F_DMA_UNPROTECTED ? " DMA_UNPROTECTED" : "");
		goto out;
	}
	if (ex && ex->nonce &&
	    (ex->nonce_len != ahv_le16_get(rep + RH(nonce_len)) ||
	     memcmp(ex->nonce, rep + RH(nonce), ex->nonce_len))) {
		rc = ahvl_fail(AHVL_E_MISMATCH, "report nonce differs from the expected nonce");
		goto out;
	}
	if (ex && ex->request) {
		const uint8_t *q = ex->request;
		if ((rc = request_structure(q, ex->request_len)))
			goto out;
		uint8_t qd[64];
		if ((rc = ahvl_digest(alg, q, ex->request_len, qd)))
			goto out;
		uint32_t qn = ahv_le16_get(q + QH(region_count));
		bool same = !memcmp(qd, rep + RH(request_digest), d) && qn == n &&
			    ahv_le16_get(q + QH(hash_alg)) == alg &&
			    !memcmp(q + QH(nonce), rep + RH(nonce), AHV_NONCE_MAX) &&
			    !memcmp(q + AHV_REQUEST_TAIL_OFFSET(qn), rep + RH(guest_key_id), AHV_KEY_ID_SIZE);
		for (uint32_t i = 0; same && i < n; i++) {
			const uint8_t *a = q + AHV_REQUEST_REGION_OFFSET(i), *b = rep + AHV_REPORT_RESULT_OFFSET(i);
			same = !memcmp(a, b, 20) &&
			       !!(ahv_le32_get(a + RG(flags)) & AHV_REGION_F_CLAIMED) ==
				       !!(ahv_le32_get(b + RR(flags)) & AHV_RESULT_F_CLAIMED);
		}
		if (!same) {
			rc = ahvl_fail(AHVL_E_MISMATCH, "the report was not made for this request");
			goto out;
		}
	}
out:
	EVP_PKEY_free(k);
	return rc;
}

/* ---- describe -------------------------------------------------------------- */
static json_t *jhex(const uint8_t *p, size_t n)
{
	char h[2 * 128 + 1];
	ahvl_hex(h, p, n);
	return json_string(h);
}

static json_t *jx64(uint64_t v)
{
	char s[24];
	snprintf(s, sizeof s, "0x%llx", (unsigned long long)v);
	return json_string(s);
}

static json_t *jversion(uint32_t v)
{
	char s[24];
	snprintf(s, sizeof s, "%u.%u.%u", AHV_HV_VERSION_MAJOR(v), AHV_HV_VERSION_MINOR(v),
		 AHV_HV_VERSION_PATCH(v));
	return json_string(s);
}

static const char *space_name(uint32_t s)
{
	return s == AHV_SPACE_GVA ? "gva" : s == AHV_SPACE_GPA ? "gpa" : "invalid";
}

static const char *sig_name(uint32_t s)
{
	return s == AHV_SIG_ECDSA_P256_SHA256   ? "ecdsa-p256-sha256"
	       : s == AHV_SIG_ECDSA_P384_SHA384 ? "ecdsa-p384-sha384"
						: "invalid";
}

static json_t *jflags(uint32_t f)
{
	json_t *a = json_array();
	static const char *const nm[] = {"DEV_KEY", "DEBUG", "TIME_INVALID", "CLAIM_MISMATCH", "DMA_UNPROTECTED"};
	const int named = (int)(sizeof nm / sizeof nm[0]);
	for (int i = 0; i < 32; i++)
		if (f & (1u << i))
			json_array_append_new(a, i < named ? json_string(nm[i]) : json_integer(i));
	return a;
}

#define SET(o, k, v) json_object_set_new(o, k, v)

_Static_assert(QH(version_major) == RH(version_major) && QH(version_minor) == RH(version_minor) &&
		       QH(total_size) == RH(total_size) && QH(hash_alg) == RH(hash_alg) &&
		       QH(sig_alg) == RH(sig_alg),
	       "request and report headers begin alike");
/* What requests and reports share at the same offsets (magic .. sig_alg),
 * in the order both descriptions list it; flags: how this type shows them. */
static json_t *desc_head(const uint8_t *p, size_t len, const char *type, json_t *flags)
{
	json_t *o = json_object();
	uint32_t alg = ahv_le16_get(p + QH(hash_alg));
	SET(o, "type", json_string(type));
	SET(o, "length", json_integer((json_int_t)len));
	SET(o, "version", json_sprintf("%u.%u", ahv_le16_get(p + QH(version_major)),
				       ahv_le16_get(p + QH(version_minor))));
	SET(o, "total_size", json_integer(ahv_le32_get(p + QH(total_size))));
	SET(o, "flags", flags);
	SET(o, "hash_alg", json_string(ahvl_hash_name(alg) ? ahvl_hash_name(alg) : "invalid"));
	SET(o, "sig_alg", json_string(sig_name(ahv_le16_get(p + QH(sig_alg)))));
	return o;
}

static json_t *desc_request(const uint8_t *q, size_t len)
{
	json_t *o = desc_head(q, len, "request", json_integer(ahv_le32_get(q + QH(flags))));
	uint32_t alg = ahv_le16_get(q + QH(hash_alg)), sig = ahv_le16_get(q + QH(sig_alg));
	uint32_t n = ahv_le16_get(q + QH(region_count)), nl = ahv_le16_get(q + QH(nonce_len));
	SET(o, "region_count", json_integer(n));
	SET(o, "nonce", jhex(q + QH(nonce), nl <= AHV_NONCE_MAX ? nl : AHV_NONCE_MAX));
	size_t d = ahv_wire_hash_size(alg) ? ahv_wire_hash_size(alg) : AHV_DIGEST_FIELD_SIZE;
	json_t *rs = json_array();
	for (uint32_t i = 0; i < n && AHV_REQUEST_REGION_OFFSET(i + 1) <= len; i++) {
		const uint8_t *r = q + AHV_REQUEST_REGION_OFFSET(i);
		json_t *e = json_object();
		SET(e, "index", json_integer(i));
		SET(e, "address", jx64(ahv_le64_get(r)));
		SET(e, "size", json_integer((json_int_t)ahv_le64_get(r + 8)));
		SET(e, "space", json_string(space_name(ahv_le32_get(r + 16))));
		bool c = ahv_le32_get(r + RG(flags)) & AHV_REGION_F_CLAIMED;
		SET(e, "claimed_digest", c ? jhex(r + RG(claimed_digest), d) : json_null());
		json_array_append_new(rs, e);
	}
	SET(o, "regions", rs);
	if (n <= AHV_MAX_REGIONS && AHV_REQUEST_SIZE(n) <= len) {
		const uint8_t *t = q + AHV_REQUEST_TAIL_OFFSET(n);
		size_t ss = ahv_wire_sig_size(sig) ? ahv_wire_sig_size(sig) : AHV_SIG_FIELD_SIZE;
		SET(o, "key_id", jhex(t, AHV_KEY_ID_SIZE));
		SET(o, "signature", jhex(t + AHV_KEY_ID_SIZE, ss));
	}
	return o;
}

static json_t *desc_report(const uint8_t *p, size_t len)
{
	json_t *o = desc_head(p, len, "report", jflags(ahv_le32_get(p + RH(flags))));
	uint32_t alg = ahv_le16_get(p + RH(hash_alg)), sig = ahv_le16_get(p + RH(sig_alg));
	size_t d = ahv_wire_hash_size(alg) ? ahv_wire_hash_size(alg) : AHV_DIGEST_FIELD_SIZE;
	uint32_t n = ahv_le16_get(p + RH(region_count)), nl = ahv_le16_get(p + RH(nonce_len));
	SET(o, "region_count", json_integer(n));
	SET(o, "caller_cpl", json_integer(p[RH(caller_cpl)]));
	SET(o, "paging_levels", json_integer(p[RH(paging_levels)]));
	SET(o, "backend", json_string(p[RH(backend)] == AHV_BACKEND_VMX ? "vmx"
				      : p[RH(backend)] == AHV_BACKEND_SVM ? "svm" : "invalid"));
	SET(o, "apic_id", json_integer(ahv_le32_get(p + RH(apic_id))));
	SET(o, "counter", json_integer((json_int_t)ahv_le64_get(p + RH(counter))));
	SET(o, "timestamp_ns", json_integer((json_int_t)ahv_le64_get(p + RH(timestamp_ns))));
	SET(o, "boot_id", jhex(p + RH(boot_id), AHV_BOOT_ID_SIZE));
	SET(o, "nonce", jhex(p + RH(nonce), nl <= AHV_NONCE_MAX ? nl : AHV_NONCE_MAX));
	SET(o, "request_digest", jhex(p + RH(request_digest), d));
	SET(o, "composite_digest", jhex(p + RH(composite_digest), d));
	SET(o, "guest_key_id", jhex(p + RH(guest_key_id), AHV_KEY_ID_SIZE));
	SET(o, "hv_key_id", jhex(p + RH(hv_key_id), AHV_KEY_ID_SIZE));
	SET(o, "hv_version", jversion(ahv_le32_get(p + RH(hv_version))));
	SET(o, "build_id", jhex(p + RH(build_id), AHV_BUILD_ID_SIZE));
	SET(o, "hv_image_digest", jhex(p + RH(hv_image_digest), AHV_MEASUREMENT_SIZE));
	SET(o, "hv_config_digest", jhex(p + RH(hv_config_digest), AHV_MEASUREMENT_SIZE));
	SET(o, "total_bytes", json_integer((json_int_t)ahv_le64_get(p + RH(total_bytes))));
	json_t *rs = json_array();
	for (uint32_t i = 0; i < n && AHV_REPORT_RESULT_OFFSET(i + 1) <= len; i++) {
		const uint8_t *r = p + AHV_REPORT_RESULT_OFFSET(i);
		uint32_t f = ahv_le32_get(r + RR(flags));
		json_t *e = json_object();
		SET(e, "index", json_integer(i));
		SET(e, "address", jx64(ahv_le64_get(r)));
		SET(e, "size", json_integer((json_int_t)ahv_le64_get(r + 8)));
		SET(e, "space", json_string(space_name(ahv_le32_get(r + 16))));
		SET(e, "digest", jhex(r + RR(digest), d));
		SET(e, "claim", json_string(!(f & AHV_RESULT_F_CLAIMED) ? "none"
					    : (f & AHV_RESULT_F_MATCH) ? "match" : "MISMATCH"));
		json_array_append_new(rs, e);
	}
	SET(o, "regions", rs);
	if (n <= AHV_MAX_REGIONS && AHV_REPORT_SIZE(n) <= len) {
		size_t ss = ahv_wire_sig_size(sig) ? ahv_wire_sig_size(sig) : AHV_SIG_FIELD_SIZE;
		SET(o, "signature", jhex(p + AHV_REPORT_SIG_OFFSET(n), ss));
	}
	return o;
}

static json_t *desc_info(const uint8_t *p, size_t len)
{
#define IH(f) offsetof(struct ahv_hv_info, f)
	json_t *o = json_object();
	SET(o, "type", json_string("info"));
	SET(o, "length", json_integer((json_int_t)len));
	if (len < AHV_HV_INFO_SIZE)
		return o;
	SET(o, "version", json_sprintf("%u.%u", ahv_le16_get(p + 4), ahv_le16_get(p + 6)));
	SET(o, "flags", jflags(ahv_le32_get(p + IH(flags))));
	SET(o, "hv_version", jversion(ahv_le32_get(p + IH(hv_version))));
	SET(o, "features", jx64(ahv_le32_get(p + IH(features))));
	SET(o, "sig_alg", json_string(sig_name(ahv_le16_get(p + IH(sig_alg)))));
	SET(o, "hash_alg_mask", jx64(ahv_le32_get(p + IH(hash_alg_mask))));
	SET(o, "max_regions", json_integer(ahv_le32_get(p + IH(max_regions))));
	SET(o, "max_total_bytes", json_integer((json_int_t)ahv_le64_get(p + IH(max_total_bytes))));
	SET(o, "boot_id", jhex(p + IH(boot_id), AHV_BOOT_ID_SIZE));
	SET(o, "hv_key_id", jhex(p + IH(hv_key_id), AHV_KEY_ID_SIZE));
	SET(o, "build_id", jhex(p + IH(build_id), AHV_BUILD_ID_SIZE));
	SET(o, "hv_image_digest", jhex(p + IH(hv_image_digest), AHV_MEASUREMENT_SIZE));
	SET(o, "hv_config_digest", jhex(p + IH(hv_config_digest), AHV_MEASUREMENT_SIZE));
	uint32_t sl = ahv_le16_get(p + IH(spki_len));
	SET(o, "hv_spki", jhex(p + IH(hv_spki), sl <= AHV_SPKI_FIELD_SIZE ? sl : AHV_SPKI_FIELD_SIZE));
	SET(o, "guest_key_count", json_integer(ahv_le32_get(p + IH(guest_key_count))));
	SET(o, "backend", json_integer(ahv_le32_get(p + IH(backend))));
	SET(o, "vcpu_count", json_integer(ahv_le32_get(p + IH(vcpu_count))));
	SET(o, "report_counter", json_integer((json_int_t)ahv_le64_get(p + IH(report_counter))));
	SET(o, "timestamp_ns", json_integer((json_int_t)ahv_le64_get(p + IH(timestamp_ns))));
	return o;
#undef IH
}

static void render(FILE *f, json_t *o, int ind)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (json_is_object(v)) {
			fprintf(f, "%*s%s:\n", ind, "", k);
			render(f, v, ind + 2);
		} else if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
			{
				fprintf(f, "%*s%s[%zu]:\n", ind, "", k, i);
				render(f, e, ind + 2);
			}
		} else {
			char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			fprintf(f, "%*s%-17s %s\n", ind, "", k, s ? s : json_string_value(v));
			free(s);
		}
	}
}

int ahvl_describe(const uint8_t *buf, size_t len, int json, char **out)
{
	if (!buf || !out)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	*out = NULL;
	json_t *o;
	uint32_t magic = len >= 4 ? ahv_le32_get(buf) : 0;
	if (magic == AHV_REQUEST_MAGIC && len >= AHV_REQUEST_HDR_SIZE)
		o = desc_request(buf, len);
	else if (magic == AHV_REPORT_MAGIC && len >= AHV_REPORT_HDR_SIZE)
		o = desc_report(buf, len);
	else if (magic == AHV_INFO_MAGIC)
		o = desc_info(buf, len);
	else
		return ahvl_fail(AHVL_E_FORMAT, "%zu bytes: neither a request (AHVQ), a report (AHVR) nor an info block (AHVI) of full header size", len);
	if (!o)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	/* Say whether the structure is valid (signatures need keys: verify). */
	int sr = magic == AHV_REQUEST_MAGIC ? request_structure(buf, len)
		 : magic == AHV_REPORT_MAGIC ? report_structure(buf, len) : AHVL_OK;
	SET(o, "structure", json_string(sr ? ahvl_error_detail() : "ok"));
	if (magic == AHV_REPORT_MAGIC && !sr) {
		uint8_t c[64];
		size_t d = ahv_wire_hash_size(ahv_le16_get(buf + RH(hash_alg)));
		if (!composite(buf, len, c))
			SET(o, "composite_check", json_string(memcmp(c, buf + RH(composite_digest), d) ? "MISMATCH" : "ok"));
	}
	if (json) {
		*out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	} else {
		size_t sz;
		FILE *f = open_memstream(out, &sz);
		if (f) {
			render(f, o, 0);
			fclose(f);
		}
	}
	json_decref(o);
	if (!*out)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	ahvl_clear_detail();
	return AHVL_OK;
}
