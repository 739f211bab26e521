/*
 * policy.h - reference-value policy (JSON file, docs/verifier.md "Policy").
 */
#ifndef AHV_POLICY_H
#define AHV_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct v_refdigest {
	unsigned alg; /* wire hash id; unprefixed = SHA-2 of that length */
	unsigned len;
	uint8_t d[64];
};

struct v_policy_region {
	char name[65];
	bool has_address, has_size, required;
	bool require_watch; /* an unbroken watch (docs/watch.md) */
	uint64_t address, size;
	unsigned space; /* 0 = any */
	size_t n_digests;
	struct v_refdigest *digests;
};

struct v_hexlist {
	size_t n; /* 0 = no constraint */
	uint8_t (*v)[32];
};

struct v_policy {
	bool allow_dev_key, allow_debug, allow_claim_mismatch, allow_dma_unprotected;
	bool allow_unnamed_regions, require_timestamp;
	int64_t max_skew_s; /* <0: not checked */
	uint32_t hash_alg_mask; /* bit i: wire hash id i allowed */
	bool has_min_hv;
	uint32_t min_hv_version;
	size_t n_hv_versions;
	uint32_t *hv_versions;
	struct v_hexlist build_ids, image_digests, config_digests;
	size_t n_regions;
	struct v_policy_region *regions;
};

/* Parse a policy; on error returns NULL and a message naming the field. */
struct v_policy *v_policy_parse(const char *text, size_t len, char *err,
				size_t errlen);
struct v_policy *v_policy_load(const char *path, char *err, size_t errlen);
void v_policy_free(struct v_policy *p);
/* "1.2.3" -> AHV_HV_VERSION; -1 on error. */
int64_t v_parse_hv_version(const char *s);
/* Human-readable summary (CLI policy check). */
void v_policy_print(const struct v_policy *p, void *file);

#endif
