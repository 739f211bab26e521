#include "verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attest/wire_digest.h>
#include <attest/wire_parse.h>

#include "ecdsa_table.h"
#include "vcrypto.h"
#include "vutil.h"

const char *v_key_kind_name(int kind)
{
	return kind == V_KEY_HV ? "hv" : kind == V_KEY_GUEST ? "guest" : "?";
}

int v_keyset_add_pem(struct v_keyset *ks, int kind, const char *pem,
		     size_t len, const char *name, char *err, size_t errlen)
{
	struct v_key k = {.kind = kind};
	if (vc_load_pubkey(pem, len, &k.pk, &k.sig_alg, k.id, NULL, err, errlen))
		return -1;
	if (ks->tables < ks->tables_max && vc_table_attach(k.pk) == 0)
		ks->tables++; /* else verified without a table */
	snprintf(k.name, sizeof k.name, "%s", name ? name : "");
	if (ks->n == ks->cap) {
		size_t nc = ks->cap ? ks->cap * 2 : 8;
		struct v_key *nk = realloc(ks->k, nc * sizeof *nk);
		if (!nk) {
			EVP_PKEY_free(k.pk);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		ks->k = nk;
		ks->cap = nc;
	}
	ks->k[ks->n++] = k;
	return 0;
}

int v_keyset_copy(struct v_keyset *dst, const struct v_keyset *src)
{
	dst->k = src->n ? calloc(src->n, sizeof *dst->k) : NULL;
	dst->n = dst->cap = 0;
	if (src->n && !dst->k)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		dst->k[i] = src->k[i];
		EVP_PKEY_up_ref(dst->k[i].pk);
	}
	dst->n = dst->cap = src->n;
	return 0;
}

const struct v_key *v_keyset_find(const struct v_keyset *ks, int kind,
				  const uint8_t id[32])
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->k[i].kind == kind && !memcmp(ks->k[i].id, id, 32))
			return &ks->k[i];
	return NULL;
}

void v_keyset_free(struct v_keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->k[i].pk);
	free(ks->k);
	ks->k = NULL;
	ks->n = ks->cap = 0;
}

const char *v_rv_name(enum v_rv rv)
{
	switch (rv) {
	case V_RV_MATCH: return "match";
	case V_RV_MISMATCH: return "mismatch";
	case V_RV_UNKNOWN_NAME: return "unknown_name";
	case V_RV_UNNAMED: return "unnamed";
	case V_RV_UNNAMED_OK: return "unnamed_allowed";
	case V_RV_UNWATCHED: return "unwatched";
	}
	return "?";
}

bool v_watch_unbroken(const uint8_t *report, unsigned i, uint64_t *since_ns,
		      uint32_t *id)
{
	struct ahv_report_hdr h;
	struct ahv_region_result rr;
	ahv_wire_get_report_hdr(report, &h);
	ahv_wire_get_region_result(report + AHV_REPORT_RESULT_OFFSET(i), &rr);
	bool start = h.watch_state == AHV_WATCH_ACTIVE && h.watch_since_counter == h.counter &&
		     !(rr.flags & AHV_RESULT_F_WATCHED);
	bool check = (h.watch_state == AHV_WATCH_ACTIVE || h.watch_state == AHV_WATCH_ENDED) &&
		     (rr.flags & (AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED | AHV_RESULT_F_REMAPPED)) ==
			     AHV_RESULT_F_WATCHED;
	*since_ns = h.watch_since_ns;
	*id = h.watch_id;
	return start || check;
}

#define REJECT(code, ...)                                                      \
	do {                                                                   \
		snprintf(dec->detail, sizeof dec->detail, __VA_ARGS__);        \
		return dec->err = (code);                                      \
	} while (0)

static bool in_list(const struct v_hexlist *l, const uint8_t v[32])
{
	if (!l->n)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->v[i], v, 32))
			return true;
	return false;
}

static bool digest_ok(const struct v_policy_region *pr, unsigned alg,
		      unsigned d, const uint8_t *dig)
{
	for (size_t i = 0; i < pr->n_digests; i++) {
		const struct v_refdigest *r = &pr->digests[i];
		if (r->alg == alg && r->len == d &&
		    !memcmp(r->d, dig, d))
			return true;
	}
	return false;
}

static bool range_ok(const struct v_policy_region *pr,
		     const struct ahv_region_result *rr)
{
	return (!pr->has_address || pr->address == rr->address) &&
	       (!pr->has_size || pr->size == rr->size) &&
	       (!pr->space || pr->space == rr->space);
}

static enum v_err eval_regions(const struct v_submission *s,
			       const struct v_policy *p,
			       struct v_decision *dec)
{
	const uint8_t *r = s->report;
	uint32_t hash_alg = ahv_le16_get(r + offsetof(struct ahv_report_hdr, hash_alg));
	enum v_err first = V_OK;
	char fd[256] = "";
	for (unsigned i = 0; i < dec->n; i++) {
		struct ahv_region_result rb;
		const struct ahv_region_result *rr = &rb;
		ahv_wire_get_region_result(r + AHV_REPORT_RESULT_OFFSET(i), &rb);
		const char *name = s->has_names && i < s->n_names ? s->names[i] : "";
		int idx = -1;
		enum v_rv rv;
		if (name[0]) {
			for (size_t j = 0; j < p->n_regions; j++)
				if (!strcmp(p->regions[j].name, name))
					idx = (int)j;
			if (idx < 0)
				rv = V_RV_UNKNOWN_NAME;
			else
				rv = range_ok(&p->regions[idx], rr) &&
						     digest_ok(&p->regions[idx], hash_alg, dec->d, rr->digest)
					     ? V_RV_MATCH
					     : V_RV_MISMATCH;
		} else {
			/* unnamed: the first entry pinned to this exact range */
			for (size_t j = 0; j < p->n_regions && idx < 0; j++)
				if (p->regions[j].has_address && range_ok(&p->regions[j], rr))
					idx = (int)j;
			if (idx < 0)
				rv = p->allow_unnamed_regions ? V_RV_UNNAMED_OK : V_RV_UNNAMED;
			else
				rv = digest_ok(&p->regions[idx], hash_alg, dec->d, rr->digest)
					     ? V_RV_MATCH
					     : V_RV_MISMATCH;
		}
		uint64_t since;
		uint32_t wid;
		if (rv == V_RV_MATCH && p->regions[idx].require_watch && !v_watch_unbroken(r, i, &since, &wid))
			rv = V_RV_UNWATCHED;
		dec->policy_idx[i] = idx;
		dec->rv[i] = rv;
		if (first == V_OK && rv != V_RV_MATCH && rv != V_RV_UNNAMED_OK) {
			first = rv == V_RV_MISMATCH	   ? V_E_REGION_MISMATCH
				: rv == V_RV_UNKNOWN_NAME ? V_E_REGION_UNKNOWN
				: rv == V_RV_UNWATCHED	  ? V_E_REGION_UNWATCHED
							  : V_E_REGION_UNNAMED;
			snprintf(fd, sizeof fd, "region %u%s%s%s: %s", i,
				 name[0] || idx >= 0 ? " (" : "",
				 name[0] ? name : idx >= 0 ? p->regions[idx].name : "",
				 name[0] || idx >= 0 ? ")" : "", v_rv_name(rv));
		}
	}
	dec->regions_evaluated = true;
	if (first != V_OK)
		REJECT(first, "%s", fd);
	/* every required entry, wherever it sits in the policy (no index cap) */
	for (size_t j = 0; j < p->n_regions; j++) {
		if (!p->regions[j].required)
			continue;
		bool seen = false;
		for (unsigned i = 0; i < dec->n && !seen; i++)
			seen = dec->policy_idx[i] == (int)j && dec->rv[i] == V_RV_MATCH;
		if (!seen)
			REJECT(V_E_REGION_MISSING, "required region \"%s\" not measured with a matching digest", p->regions[j].name);
	}
	return V_OK;
}

enum v_err v_verify(const struct v_submission *s, const struct v_keyset *ks,
		    const struct v_policy *p, uint64_t now_ns,
		    struct v_decision *dec)
{
	memset(dec, 0, sizeof *dec);
	const uint8_t *r = s->report, *q = s->request;
	enum v_err e;
	/* 1. report structure (§11 items 1, 3) */
	e = v_check_report(r, s->report_len, dec->detail, sizeof dec->detail);
	if (e)
		return dec->err = e;
	struct ahv_report_hdr hb;
	const struct ahv_report_hdr *h = &hb;
	ahv_wire_get_report_hdr(r, &hb);
	dec->n = h->region_count;
	dec->d = ahv_wire_hash_size(h->hash_alg);
	/* 2. hypervisor key and signature */
	const struct v_key *hk = v_keyset_find(ks, V_KEY_HV, h->hv_key_id);
	if (!hk) {
		char kid[65];
		v_hex(kid, h->hv_key_id, 32);
		REJECT(V_E_UNKNOWN_HV_KEY, "hv_key_id %s is not enrolled", kid);
	}
	if (hk->sig_alg != h->sig_alg)
		REJECT(V_E_HV_KEY_MISMATCH, "report sig_alg %u, enrolled key uses %u", h->sig_alg, hk->sig_alg);
	int v = vc_verify_raw(hk->pk, h->sig_alg, r, AHV_REPORT_SIGNED_SIZE(dec->n),
			      r + AHV_REPORT_SIG_OFFSET(dec->n));
	if (v < 0)
		REJECT(V_E_INTERNAL, "signature verification failed to run");
	if (!v)
		REJECT(V_E_REPORT_SIGNATURE, "hypervisor signature does not verify with key \"%s\"", hk->name);
	/* 3. request structure, guest key and signature */
	e = v_check_request(q, s->request_len, dec->detail, sizeof dec->detail);
	if (e)
		return dec->err = e;
	struct ahv_request_hdr qb;
	const struct ahv_request_hdr *qh = &qb;
	ahv_wire_get_request_hdr(q, &qb);
	unsigned qn = qh->region_count;
	const uint8_t *qkey = q + AHV_REQUEST_TAIL_OFFSET(qn);
	const struct v_key *gk = v_keyset_find(ks, V_KEY_GUEST, qkey);
	if (!gk) {
		char kid[65];
		v_hex(kid, qkey, 32);
		REJECT(V_E_UNKNOWN_GUEST_KEY, "guest key_id %s is not enrolled", kid);
	}
	if (gk->sig_alg != qh->sig_alg)
		REJECT(V_E_GUEST_KEY_MISMATCH, "request sig_alg %u, enrolled key uses %u", qh->sig_alg, gk->sig_alg);
	v = vc_verify_raw(gk->pk, qh->sig_alg, q, AHV_REQUEST_SIGNED_SIZE(qn),
			  q + AHV_REQUEST_SIG_OFFSET(qn));
	if (v < 0)
		REJECT(V_E_INTERNAL, "signature verification failed to run");
	if (!v)
		REJECT(V_E_REQUEST_SIGNATURE, "guest signature does not verify with key \"%s\"", gk->name);
	/* 4. the report answers exactly this request */
	uint8_t dig[64];
	if (qh->hash_alg != h->hash_alg || qn != dec->n || qh->nonce_len != h->nonce_len ||
	    memcmp(qh->nonce, h->nonce, AHV_NONCE_MAX) || memcmp(qkey, h->guest_key_id, 32))
		REJECT(V_E_REQUEST_MISMATCH, "hash_alg, region count, nonce or guest key id differ between request and report");
	if (vc_hash(h->hash_alg, q, s->request_len, dig) != dec->d ||
	    memcmp(dig, h->request_digest, dec->d))
		REJECT(V_E_REQUEST_MISMATCH, "request_digest does not match the request sent");
	bool any_mismatch = false;
	for (unsigned i = 0; i < dec->n; i++) {
		struct ahv_region gb;
		struct ahv_region_result rb;
		const struct ahv_region *g = &gb;
		const struct ahv_region_result *rr = &rb;
		ahv_wire_get_region(q + AHV_REQUEST_REGION_OFFSET(i), &gb);
		ahv_wire_get_region_result(r + AHV_REPORT_RESULT_OFFSET(i), &rb);
		if (g->address != rr->address || g->size != rr->size || g->space != rr->space)
			REJECT(V_E_REQUEST_MISMATCH, "region %u range differs between request and report", i);
		bool claimed = g->flags & AHV_REGION_F_CLAIMED;
		bool match = claimed && !memcmp(g->claimed_digest, rr->digest, dec->d);
		uint32_t want = (claimed ? AHV_RESULT_F_CLAIMED : 0) | (match ? AHV_RESULT_F_MATCH : 0);
		if ((rr->flags & 3u) != want)
			REJECT(V_E_REQUEST_MISMATCH, "region %u claim flags 0x%x, claimed digest says 0x%x", i, rr->flags & 3u, want);
		any_mismatch |= claimed && !match;
	}
	if (any_mismatch != !!(h->flags & AHV_REPORT_F_CLAIM_MISMATCH))
		REJECT(V_E_REQUEST_MISMATCH, "CLAIM_MISMATCH flag disagrees with the region results");
	if (ahv_wire_composite(r, s->report_len, dig) != dec->d || memcmp(dig, h->composite_digest, dec->d))
		REJECT(V_E_COMPOSITE_MISMATCH, "composite_digest does not recompute");
	dec->authenticated = true;
	/* 5. policy: regions first so the audit log always gets their verdicts,
	 * then version, flags, measurements, algorithm, time (first failure in
	 * this order wins; the region failure comes last). */
	enum v_err re = eval_regions(s, p, dec);
	/* 5b. policy: version, flags, measurements, algorithm, time, regions */
	uint32_t hv = h->hv_version;
	if (p->has_min_hv && hv < p->min_hv_version)
		REJECT(V_E_HV_VERSION, "hv_version %u.%u.%u below the minimum", AHV_HV_VERSION_MAJOR(hv), AHV_HV_VERSION_MINOR(hv), AHV_HV_VERSION_PATCH(hv));
	if (p->n_hv_versions) {
		bool ok = false;
		for (size_t i = 0; i < p->n_hv_versions; i++)
			ok |= p->hv_versions[i] == hv;
		if (!ok)
			REJECT(V_E_HV_VERSION, "hv_version %u.%u.%u not listed", AHV_HV_VERSION_MAJOR(hv), AHV_HV_VERSION_MINOR(hv), AHV_HV_VERSION_PATCH(hv));
	}
	if ((h->flags & AHV_REPORT_F_DEV_KEY) && !p->allow_dev_key)
		REJECT(V_E_DEV_KEY, "report carries DEV_KEY and the policy does not allow development keys");
	if ((h->flags & AHV_REPORT_F_DEBUG) && !p->allow_debug)
		REJECT(V_E_DEBUG, "report carries DEBUG");
	if ((h->flags & AHV_REPORT_F_CLAIM_MISMATCH) && !p->allow_claim_mismatch)
		REJECT(V_E_CLAIM_MISMATCH, "a claimed digest differs from the measured one");
	if ((h->flags & AHV_REPORT_F_DMA_UNPROTECTED) && !p->allow_dma_unprotected)
		REJECT(V_E_DMA_UNPROTECTED, "report carries DMA_UNPROTECTED: devices could reach hypervisor memory");
	if (!in_list(&p->build_ids, h->build_id))
		REJECT(V_E_HV_MEASUREMENT, "build_id not in the policy");
	if (!in_list(&p->image_digests, h->hv_image_digest))
		REJECT(V_E_HV_MEASUREMENT, "hv_image_digest not in the policy");
	if (!in_list(&p->config_digests, h->hv_config_digest))
		REJECT(V_E_HV_MEASUREMENT, "hv_config_digest not in the policy");
	if (!(p->hash_alg_mask & 1u << h->hash_alg))
		REJECT(V_E_HASH_ALG, "hash %s not allowed", vc_hash_name(h->hash_alg));
	bool tvalid = !(h->flags & AHV_REPORT_F_TIME_INVALID) && h->timestamp_ns;
	if (p->max_skew_s >= 0) {
		if (!tvalid && p->require_timestamp)
			REJECT(V_E_TIMESTAMP_SKEW, "report has no valid timestamp and the policy requires one");
		if (tvalid) {
			uint64_t t = h->timestamp_ns;
			uint64_t diff = t > now_ns ? t - now_ns : now_ns - t;
			if (diff / 1000000000u > (uint64_t)p->max_skew_s)
				REJECT(V_E_TIMESTAMP_SKEW, "report timestamp is %" PRIu64 " s %s the verifier clock (max %" PRId64 ")",
				       diff / 1000000000u, t > now_ns ? "ahead of" : "behind", p->max_skew_s);
		}
	}
	return dec->err = re;
}
