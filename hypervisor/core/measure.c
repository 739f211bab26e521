/*
 * measure.c - region digests straight from host-physical frames, and the
 * composite digest (protocol.md §7).
 *
 * A region is translated in address order; each translation yields a run
 * that is contiguous in host-physical RAM (a whole 2 MiB / 1 GiB leaf when
 * the guest and nested mappings allow). Runs that continue each other are
 * merged, and the hash gets whole runs of up to AHV_RUN_MAX bytes per
 * update, so SHA-NI sees long block sequences instead of 4 KiB crumbs. The
 * time limit is checked before every update.
 */
#include <string.h>

#include "engine.h"

/* A run of translated bytes not yet hashed. */
struct pending {
	uint64_t addr; /* caller's address of the first byte */
	uint64_t hpa;
	uint64_t len;
};

static uint32_t hash_run(struct ahv_call *c, ahv_hash_ctx *h,
			 struct pending *r, uint64_t n, uint32_t index,
			 struct ahv_fail *f)
{
	const struct ahv_platform *p = c->plat;
	const void *ptr;
	uint64_t limit = (uint64_t)AHV_MAX_REQUEST_TIME_MS * 1000000u;

	if (p->monotonic_ns(p->ctx) - c->t0 > limit)
		return ahv_fail_set(f, AHV_E_TIME_LIMIT, index, r->addr);
	ptr = p->map_hpa(p->ctx, r->hpa, n);
	if (!ptr) /* RAM by the map, yet unmappable: refuse it as non-RAM */
		return ahv_fail_set(f, AHV_E_NOT_RAM, index, r->addr);
	if (ahv_hash_update(h, ptr, (size_t)n) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	r->addr += n;
	r->hpa += n;
	r->len -= n;
	return AHV_OK;
}

uint32_t ahv_measure_region(struct ahv_call *c, uint32_t alg, uint32_t index,
			    uint32_t space, uint64_t addr, uint64_t size,
			    uint8_t *out, struct ahv_fail *f)
{
	ahv_hash_ctx h;
	struct pending run = { .addr = addr };
	uint64_t done = 0;
	uint32_t st = AHV_OK;

	if (ahv_hash_init(&h, (ahv_hash_alg)alg) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	while (done < size) {
		uint64_t cur = addr + done, hpa, n = size - done;

		st = ahv_xlate(c, space, cur, false, &hpa, &n, NULL);
		if (st != AHV_OK) {
			ahv_fail_set(f, st, index, cur);
			break;
		}
		if (run.len && hpa != run.hpa + run.len)
			st = hash_run(c, &h, &run, run.len, index, f);
		if (st != AHV_OK)
			break;
		if (!run.len) {
			run.addr = cur;
			run.hpa = hpa;
		}
		run.len += n;
		done += n;
		while (st == AHV_OK && run.len >= AHV_RUN_MAX)
			st = hash_run(c, &h, &run, AHV_RUN_MAX, index, f);
		if (st != AHV_OK)
			break;
	}
	if (st == AHV_OK && run.len)
		st = hash_run(c, &h, &run, run.len, index, f);
	if (st != AHV_OK) {
		ahv_hash_abort(&h);
		return st;
	}
	if (ahv_hash_final(&h, out) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	return AHV_OK;
}

/* E = label || hash_alg || n || request_digest || for each region:
 * address || size || space || digest, with only the d meaningful digest
 * bytes (protocol.md §7.3). Fed to the hash piecewise; never materialised. */
int ahv_composite_digest(const uint8_t *report, uint8_t *out)
{
	struct ahv_report_hdr hdr;
	ahv_hash_ctx h;
	uint8_t le[20];
	size_t d;
	int rc;

	memcpy(&hdr, report, sizeof(hdr));
	d = ahv_wire_hash_size(hdr.hash_alg);
	rc = ahv_hash_init(&h, (ahv_hash_alg)hdr.hash_alg);
	if (rc != AHV_CRYPTO_OK)
		return rc;
	ahv_le32_put(le, hdr.hash_alg);
	ahv_le32_put(le + 4, hdr.region_count);
	rc = ahv_hash_update(&h, AHV_COMPOSITE_LABEL, AHV_COMPOSITE_LABEL_SIZE);
	rc = rc ? rc : ahv_hash_update(&h, le, 8);
	rc = rc ? rc : ahv_hash_update(&h, hdr.request_digest, d);
	for (uint32_t i = 0; i < hdr.region_count && !rc; i++) {
		struct ahv_region_result r;

		memcpy(&r, report + AHV_REPORT_RESULT_OFFSET(i), sizeof(r));
		ahv_le64_put(le, r.address);
		ahv_le64_put(le + 8, r.size);
		ahv_le32_put(le + 16, r.space);
		rc = ahv_hash_update(&h, le, 20);
		rc = rc ? rc : ahv_hash_update(&h, r.digest, d);
	}
	if (rc) {
		ahv_hash_abort(&h);
		return rc;
	}
	return ahv_hash_final(&h, out);
}
