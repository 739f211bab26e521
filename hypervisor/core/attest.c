/*
 * attest.c - AHV_HC_ATTEST_GUEST_MEMORY (/attest_guest_memory), step by
 * step in the order of protocol.md §5.2 (steps 3-12). Every failure leaves
 * the caller's report buffer untouched and consumes no counter value
 * (except AHV_E_INTERNAL from the signer, §9.3).
 */
#include <string.h>

#include "engine.h"
#include "watch.h"

static void build_header(struct ahv_call *c, const uint8_t *req,
			 uint8_t *report)
{
	const struct ahv_platform *p = c->plat;
	struct ahv_request_hdr q;
	struct ahv_report_hdr h;

	memcpy(&q, req, sizeof(q));
	memset(&h, 0, sizeof(h));
	h.magic = AHV_REPORT_MAGIC;
	h.version_major = AHV_WIRE_VERSION_MAJOR;
	h.version_minor = AHV_WIRE_VERSION_MINOR;
	h.total_size = (uint32_t)AHV_REPORT_SIZE(q.region_count);
	h.hash_alg = q.hash_alg;
	h.sig_alg = c->core->sig_alg;
	h.region_count = q.region_count;
	h.nonce_len = q.nonce_len;
	h.caller_cpl = c->cpl;
	h.paging_levels = c->gfmt.levels;
	h.backend = (uint8_t)p->backend;
	h.apic_id = c->x->apic_id;
	memcpy(h.boot_id, p->boot_id, sizeof(h.boot_id));
	memcpy(h.nonce, q.nonce, sizeof(h.nonce)); /* tail checked zero */
	memcpy(h.guest_key_id, req + AHV_REQUEST_TAIL_OFFSET(q.region_count),
	       AHV_KEY_ID_SIZE);
	memcpy(h.hv_key_id, c->core->hv_key_id, sizeof(h.hv_key_id));
	h.hv_version = p->hv_version;
	memcpy(h.build_id, p->build_id, sizeof(h.build_id));
	memcpy(h.hv_image_digest, p->hv_image_digest, sizeof(h.hv_image_digest));
	memcpy(h.hv_config_digest, p->hv_config_digest,
	       sizeof(h.hv_config_digest));
	memcpy(report, &h, sizeof(h));
}

/* Step 11 for each region: its result slot. */
static uint32_t measure_regions(struct ahv_call *c, const uint8_t *req,
				const struct ahv_request_hdr *qh, uint32_t d,
				uint8_t *report, uint64_t *total, bool *mismatch,
				struct ahv_fail *f)
{
	struct ahv_request_hdr q = *qh;
	uint32_t st;

	for (uint32_t i = 0; i < q.region_count; i++) {
		struct ahv_region r;
		struct ahv_region_result res;

		memcpy(&r, req + AHV_REQUEST_REGION_OFFSET(i), sizeof(r));
		memset(&res, 0, sizeof(res));
		res.address = r.address;
		res.size = r.size;
		res.space = r.space;
		/* a CHECK of a watch: an unmodified region keeps its digest */
		bool measure = true;
		if (c->watch_op == AHV_WOP_CHECK)
			ahv_watch_result(c, i, &res, &measure);
		st = measure ? ahv_measure_region(c, q.hash_alg, i, r.space,
						  r.address, r.size, res.digest, f)
			     : AHV_OK;
		if (st != AHV_OK)
			return st;
		if (r.flags & AHV_REGION_F_CLAIMED) {
			res.flags |= AHV_RESULT_F_CLAIMED;
			/* constant time: the claim may be a guess at a secret */
			if (ahv_ct_memcmp(res.digest, r.claimed_digest, d) == 0)
				res.flags |= AHV_RESULT_F_MATCH;
			else
				*mismatch = true;
		}
		*total += r.size;
		memcpy(report + AHV_REPORT_RESULT_OFFSET(i), &res, sizeof(res));
	}
	return AHV_OK;
}

/* Steps 11: measure every region into its result slot. *mismatch is set if
 * a claim differs. */
static uint32_t measure_all(struct ahv_call *c, const uint8_t *req,
			    uint8_t *report, uint64_t *total, bool *mismatch,
			    struct ahv_fail *f)
{
	struct ahv_request_hdr q;
	uint32_t d, st;

	memcpy(&q, req, sizeof(q));
	d = ahv_wire_hash_size(q.hash_alg);
	*total = 0;
	*mismatch = false;
	if (c->watch_op == AHV_WOP_CHECK)
		ahv_watch_tables(c, true);
	st = measure_regions(c, req, &q, d, report, total, mismatch, f);
	if (c->watch_op == AHV_WOP_CHECK)
		ahv_watch_tables(c, false);
	return st;
}

/* Step 12 minus the write: counter, timestamp, digests, signature. */
static uint32_t finish_report(struct ahv_call *c, const uint8_t *req,
			      uint64_t req_len, uint8_t *report,
			      uint64_t total, bool mismatch, struct ahv_fail *f)
{
	const struct ahv_platform *p = c->plat;
	struct ahv_report_hdr h;
	uint8_t digest[AHV_HASH_MAX_SIZE];
	ahv_hash_alg mh = c->core->sig_alg == AHV_SIG_ECDSA_P384_SHA384
				  ? AHV_HASH_SHA384 : AHV_HASH_SHA256;
	size_t signed_len, sig_len = 0;
	uint32_t flags = 0;

	memcpy(&h, report, sizeof(h));
	signed_len = AHV_REPORT_SIGNED_SIZE(h.region_count);
	if (ahv_hash(h.hash_alg, req, req_len, h.request_digest) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	h.timestamp_ns = ahv_timestamp_ns(p, &flags);
	h.flags = flags | (mismatch ? AHV_REPORT_F_CLAIM_MISMATCH : 0);
	h.total_bytes = total;
	memcpy(report, &h, sizeof(h));
	if (ahv_composite_digest(report, h.composite_digest) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	/* The counter is taken last before signing, so that only a signer
	 * failure can leave a gap (§9.3). */
	h.counter = __atomic_add_fetch(&c->core->counter, 1, __ATOMIC_SEQ_CST);
	ahv_watch_header(c, &h);
	memcpy(report, &h, sizeof(h));
	memset(report + signed_len, 0, AHV_REPORT_TAIL_SIZE);
#ifdef AHV_FUZZ_NO_ECDSA
	if (ahv_fuzz_no_ecdsa) /* fuzz builds only (request.c) */
		return AHV_OK;
#endif
	if (ahv_hash(mh, report, signed_len, digest) != AHV_CRYPTO_OK ||
	    ahv_ecdsa_sign_raw(p->sign_key, p->drbg, digest, ahv_hash_size(mh),
			       report + signed_len, AHV_SIG_FIELD_SIZE,
			       &sig_len) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	return AHV_OK;
}

/* Steps 11-12 with the guest's memory held still (c->quiesce): everything
 * that reads guest memory for the report, and its write. The report buffer
 * is translated again here: the guest may have remapped it since step 10,
 * and the report and its Dirty flags go where the tables point now. */
static uint32_t measure_locked(struct ahv_call *c, const uint8_t *req,
			       uint64_t req_len, uint64_t out_gva,
			       uint32_t report_size, struct ahv_out_buf *ob,
			       struct ahv_fail *f)
{
	uint8_t *report = c->core->report;
	uint64_t total;
	uint32_t st;
	bool mismatch;

	if (c->quiesce) {
		ahv_call_flush(c);
		st = ahv_buf_resolve_out(c, out_gva, report_size, ob, f);
		if (st != AHV_OK)
			return st;
	}
	/* 11. measure */
	build_header(c, req, report);
	st = measure_all(c, req, report, &total, &mismatch, f);
	/* 11a. a START protects the frames just measured (docs/watch.md) */
	if (st == AHV_OK && c->watch_op == AHV_WOP_START)
		st = ahv_watch_start(c, req, report, ob, f);
	/* 12. counter, timestamp, sign, write */
	if (st == AHV_OK)
		st = finish_report(c, req, req_len, report, total, mismatch, f);
	if (st == AHV_OK && !ahv_buf_write_out(c, ob, report))
		st = ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	ahv_watch_finish(c, st == AHV_OK);
	return st;
}

static uint32_t attest_locked(struct ahv_call *c, const struct ahv_hc_regs *in,
			      struct ahv_fail *f, uint64_t *rbx)
{
	const struct ahv_quiesce *q = c->quiesce;
	uint8_t *req = c->core->req;
	uint64_t req_len = in->rcx;
	struct ahv_request_hdr q_hdr;
	struct ahv_out_buf ob;
	uint32_t st, report_size;

	/* 4. length */
	if (req_len < AHV_REQUEST_MIN_SIZE || req_len > AHV_REQUEST_MAX_SIZE)
		return ahv_fail_set(f, AHV_E_REQUEST_SIZE, AHV_OBJ_NONE, 0);
	/* 5. translation of the request buffer and the one copy */
	st = ahv_buf_copy_in(c, in->rbx, req_len, req, f);
	if (st != AHV_OK)
		return st;
	/* 6. every field */
	st = ahv_request_parse(c->core, req, req_len, f);
	if (st != AHV_OK)
		return st;
	memcpy(&q_hdr, req, sizeof(q_hdr));
	/* 7. report capacity */
	report_size = (uint32_t)AHV_REPORT_SIZE(q_hdr.region_count);
	if (in->rsi < report_size) {
		*rbx = report_size;
		return ahv_fail_set(f, AHV_E_BUFFER_TOO_SMALL,
				    AHV_OBJ_OUTPUT_BUFFER, 0);
	}
	/* 8. who sent it: nothing about the regions is looked at before */
	st = ahv_request_authenticate(c->core, req, f);
	if (st != AHV_OK)
		return st;
	/* 9. ranges, limits, privilege */
	st = ahv_request_check_regions(c, req, f);
	if (st != AHV_OK)
		return st;
	/* 9a. the watch a CHECK names, and its regions (docs/watch.md) */
	st = ahv_watch_prepare(c, req, f);
	if (st != AHV_OK)
		return st;
	/* 10. where the report will go */
	st = ahv_buf_resolve_out(c, in->rdx, report_size, &ob, f);
	if (st != AHV_OK)
		return st;
	/* Only now, with a request that every check accepted, are the other
	 * vCPUs stopped (docs/smp.md): a caller that is refused never freezes
	 * them. A stop that cannot be had is AHV_E_BUSY (§3.4). */
	if (q && q->stop(q->arg))
		return ahv_fail_set(f, AHV_E_BUSY, AHV_OBJ_NONE, 0);
	st = measure_locked(c, req, req_len, in->rdx, report_size, &ob, f);
	if (q)
		q->resume(q->arg);
	if (st == AHV_OK)
		*rbx = report_size;
	return st;
}

uint32_t ahv_hc_attest(struct ahv_call *c, const struct ahv_hc_regs *in,
		       struct ahv_fail *f, uint64_t *rbx)
{
	struct ahv_core *core = c->core;
	uint32_t st;

	/* 3. a key, then the engine */
	if (!(core->features & AHV_FEAT_ATTEST))
		return ahv_fail_set(f, AHV_E_NO_KEY, AHV_OBJ_NONE, 0);
	if (__atomic_exchange_n(&core->busy, 1, __ATOMIC_ACQUIRE))
		return ahv_fail_set(f, AHV_E_BUSY, AHV_OBJ_NONE, 0);
	st = attest_locked(c, in, f, rbx);
	__atomic_store_n(&core->busy, 0, __ATOMIC_RELEASE);
	return st;
}
