#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attest/wire.h>
#include <jansson.h>

#include "vcrypto.h"
#include "vutil.h"

#define PERR(...)                                                              \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		goto fail;                                                     \
	} while (0)

int64_t v_parse_hv_version(const char *s)
{
	unsigned a, b, c;
	char tail;
	if (sscanf(s, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || a > 255 ||
	    b > 255 || c > 65535)
		return -1;
	return AHV_HV_VERSION(a, b, c);
}

static int get_bool(json_t *o, const char *k, bool *out, char *err,
		    size_t errlen)
{
	json_t *v = json_object_get(o, k);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "\"%s\" must be true or false", k);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int parse_u64(json_t *v, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		unsigned long long x = strtoull(s, &end, 0);
		if (*s && *s != '-' && !*end && !errno) {
			*out = x;
			return 0;
		}
	}
	return -1;
}

static int parse_hexlist(json_t *o, const char *k, struct v_hexlist *l,
			 char *err, size_t errlen)
{
	json_t *a = json_object_get(o, k), *it;
	size_t i;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) == 0) {
		snprintf(err, errlen, "\"%s\" must be a non-empty array of 64-hex-digit strings", k);
		return -1;
	}
	l->v = calloc(json_array_size(a), 32);
	if (!l->v)
		return -1;
	json_array_foreach(a, i, it)
	{
		if (!json_is_string(it) ||
		    v_unhex(l->v[i], 32, json_string_value(it)) != 32) {
			snprintf(err, errlen, "\"%s\"[%zu] must be 64 hex digits", k, i);
			return -1;
		}
	}
	l->n = json_array_size(a);
	return 0;
}

/* "[alg:]hex". Without a prefix the digest is SHA-2 of its length, named
 * by that length (sha256, sha384, sha512): it never matches a SHA-3 region
 * whose bytes happen to be equal; SHA-3 references need their prefix. */
static int parse_digest(const char *s, struct v_refdigest *d)
{
	const char *colon = strchr(s, ':');
	d->alg = 0;
	if (colon) {
		char name[16];
		size_t nl = (size_t)(colon - s);
		if (nl >= sizeof name)
			return -1;
		memcpy(name, s, nl);
		name[nl] = 0;
		int id = vc_hash_id(name);
		if (id < 0)
			return -1;
		d->alg = (unsigned)id;
		s = colon + 1;
	}
	long n = v_unhex(d->d, sizeof d->d, s);
	if (n != 32 && n != 48 && n != 64)
		return -1;
	if (!d->alg)
		d->alg = n == 32 ? AHV_WIRE_HASH_SHA256 : n == 48 ? AHV_WIRE_HASH_SHA384 : AHV_WIRE_HASH_SHA512;
	if (ahv_wire_hash_size(d->alg) != (unsigned)n)
		return -1;
	d->len = (unsigned)n;
	return 0;
}

/* Refuse what the verifier could never enforce, instead of loading a policy
 * that silently can never accept: more required regions than a report can
 * carry (AHV_MAX_REGIONS), pinned sizes beyond AHV_MAX_TOTAL_BYTES. */
static int check_enforceable(const struct v_policy *p, char *err, size_t errlen)
{
	size_t n_req = 0;
	uint64_t req_bytes = 0;
	for (size_t i = 0; i < p->n_regions; i++) {
		const struct v_policy_region *r = &p->regions[i];
		if (r->has_size && r->size > AHV_MAX_TOTAL_BYTES) {
			snprintf(err, errlen, "regions[%zu] \"%s\": \"size\" above the %llu bytes a report can measure",
				 i, r->name, (unsigned long long)AHV_MAX_TOTAL_BYTES);
			return -1;
		}
		if (r->required) {
			n_req++;
			req_bytes += r->has_size ? r->size : 0;
		}
	}
	if (n_req > AHV_MAX_REGIONS) {
		snprintf(err, errlen, "%zu regions are required, a report carries at most %u: no report could be accepted",
			 n_req, AHV_MAX_REGIONS);
		return -1;
	}
	if (req_bytes > AHV_MAX_TOTAL_BYTES) {
		snprintf(err, errlen, "the required regions' sizes add up to %llu bytes, a report measures at most %llu",
			 (unsigned long long)req_bytes, (unsigned long long)AHV_MAX_TOTAL_BYTES);
		return -1;
	}
	return 0;
}

static const char *const known_keys[] = {
	"version", "allow_dev_key", "allow_debug", "allow_claim_mismatch", "allow_dma_unprotected",
	"allow_unnamed_regions", "require_timestamp", "max_timestamp_skew_s",
	"hash_algs", "min_hv_version", "hv_versions", "build_ids",
	"hv_image_digests", "hv_config_digests", "regions", "comment", NULL};
static const char *const region_keys[] = {"name", "address", "size", "space",
					  "digests", "required", "require_watch",
					  "comment", NULL};

static int check_keys(json_t *o, const char *const *known, const char *where,
		      char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		int ok = 0;
		for (size_t i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok) {
			snprintf(err, errlen, "%sunknown key \"%s\"", where, k);
			return -1;
		}
	}
	return 0;
}

struct v_policy *v_policy_parse(const char *text, size_t len, char *err,
				size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *v;
	struct v_policy *p = calloc(1, sizeof *p);
	if (!p)
		PERR("out of memory");
	if (!root)
		PERR("line %d column %d: %s", je.line, je.column, je.text);
	if (!json_is_object(root))
		PERR("policy must be a JSON object");
	if (check_keys(root, known_keys, "", err, errlen))
		goto fail;
	v = json_object_get(root, "version");
	if (v && (!json_is_integer(v) || json_integer_value(v) != 1))
		PERR("\"version\" must be 1");
	p->max_skew_s = 300;
	p->hash_alg_mask = 0x7e;
	if (get_bool(root, "allow_dev_key", &p->allow_dev_key, err, errlen) ||
	    get_bool(root, "allow_debug", &p->allow_debug, err, errlen) ||
	    get_bool(root, "allow_claim_mismatch", &p->allow_claim_mismatch, err, errlen) ||
	    get_bool(root, "allow_dma_unprotected", &p->allow_dma_unprotected, err, errlen) ||
	    get_bool(root, "allow_unnamed_regions", &p->allow_unnamed_regions, err, errlen) ||
	    get_bool(root, "require_timestamp", &p->require_timestamp, err, errlen))
		goto fail;
	if ((v = json_object_get(root, "max_timestamp_skew_s"))) {
		if (!json_is_integer(v))
			PERR("\"max_timestamp_skew_s\" must be an integer (-1: unchecked)");
		p->max_skew_s = json_integer_value(v);
	}
	if ((v = json_object_get(root, "hash_algs"))) {
		size_t i;
		json_t *it;
		if (!json_is_array(v) || !json_array_size(v))
			PERR("\"hash_algs\" must be a non-empty array of names");
		p->hash_alg_mask = 0;
		json_array_foreach(v, i, it)
		{
			int id = json_is_string(it) ? vc_hash_id(json_string_value(it)) : -1;
			if (id < 0)
				PERR("\"hash_algs\"[%zu]: unknown (sha256 sha384 sha512 sha3-256 sha3-384 sha3-512)", i);
			p->hash_alg_mask |= 1u << id;
		}
	}
	if ((v = json_object_get(root, "min_hv_version"))) {
		int64_t x = json_is_string(v) ? v_parse_hv_version(json_string_value(v)) : -1;
		if (x < 0)
			PERR("\"min_hv_version\" must be \"MAJOR.MINOR.PATCH\"");
		p->has_min_hv = true;
		p->min_hv_version = (uint32_t)x;
	}
	if ((v = json_object_get(root, "hv_versions"))) {
		size_t i;
		json_t *it;
		if (!json_is_array(v) || !json_array_size(v))
			PERR("\"hv_versions\" must be a non-empty array");
		p->hv_versions = calloc(json_array_size(v), sizeof *p->hv_versions);
		if (!p->hv_versions)
			PERR("out of memory");
		json_array_foreach(v, i, it)
		{
			int64_t x = json_is_string(it) ? v_parse_hv_version(json_string_value(it)) : -1;
			if (x < 0)
				PERR("\"hv_versions\"[%zu] must be \"MAJOR.MINOR.PATCH\"", i);
			p->hv_versions[i] = (uint32_t)x;
		}
		p->n_hv_versions = json_array_size(v);
	}
	if (parse_hexlist(root, "build_ids", &p->build_ids, err, errlen) ||
	    parse_hexlist(root, "hv_image_digests", &p->image_digests, err, errlen) ||
	    parse_hexlist(root, "hv_config_digests", &p->config_digests, err, errlen))
		goto fail;
	if ((v = json_object_get(root, "regions"))) {
		size_t i;
		json_t *r;
		if (!json_is_array(v))
			PERR("\"regions\" must be an array");
		p->regions = calloc(json_array_size(v) + 1, sizeof *p->regions);
		if (!p->regions)
			PERR("out of memory");
		json_array_foreach(v, i, r)
		{
			struct v_policy_region *pr = &p->regions[i];
			char where[48];
			snprintf(where, sizeof where, "regions[%zu]: ", i);
			if (!json_is_object(r))
				PERR("%smust be an object", where);
			if (check_keys(r, region_keys, where, err, errlen))
				goto fail;
			json_t *n = json_object_get(r, "name");
			if (!json_is_string(n) || json_string_length(n) < 1 ||
			    json_string_length(n) > 64)
				PERR("%s\"name\" must be a string of 1..64 bytes", where);
			snprintf(pr->name, sizeof pr->name, "%s", json_string_value(n));
			for (size_t j = 0; j < i; j++)
				if (!strcmp(p->regions[j].name, pr->name))
					PERR("%sduplicate name \"%s\"", where, pr->name);
			json_t *x;
			if ((x = json_object_get(r, "address"))) {
				if (parse_u64(x, &pr->address))
					PERR("%s\"address\" must be an integer or \"0x...\" string", where);
				pr->has_address = true;
			}
			if ((x = json_object_get(r, "size"))) {
				if (parse_u64(x, &pr->size))
					PERR("%s\"size\" must be an integer", where);
				pr->has_size = true;
			}
			if ((x = json_object_get(r, "space"))) {
				const char *s = json_is_string(x) ? json_string_value(x) : "";
				if (!strcmp(s, "gva"))
					pr->space = AHV_SPACE_GVA;
				else if (!strcmp(s, "gpa"))
					pr->space = AHV_SPACE_GPA;
				else
					PERR("%s\"space\" must be \"gva\" or \"gpa\"", where);
			}
			if (get_bool(r, "required", &pr->required, err, errlen) ||
			    get_bool(r, "require_watch", &pr->require_watch, err, errlen))
				goto fail;
			x = json_object_get(r, "digests");
			if (!json_is_array(x) || !json_array_size(x))
				PERR("%s\"digests\" must be a non-empty array of [alg:]hex strings", where);
			pr->digests = calloc(json_array_size(x), sizeof *pr->digests);
			if (!pr->digests)
				PERR("out of memory");
			size_t j;
			json_t *d;
			json_array_foreach(x, j, d)
			{
				if (!json_is_string(d) ||
				    parse_digest(json_string_value(d), &pr->digests[j]))
					PERR("%s\"digests\"[%zu] must be hex of 32/48/64 bytes, optionally prefixed \"sha256:\" etc.", where, j);
			}
			pr->n_digests = json_array_size(x);
			p->n_regions = i + 1;
		}
	}
	if (check_enforceable(p, err, errlen))
		goto fail;
	json_decref(root);
	return p;
fail:
	json_decref(root);
	v_policy_free(p);
	return NULL;
}

struct v_policy *v_policy_load(const char *path, char *err, size_t errlen)
{
	size_t len;
	uint8_t *t = v_read_file(path, &len, 16u << 20);
	if (!t) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char e2[256];
	struct v_policy *p = v_policy_parse((const char *)t, len, e2, sizeof e2);
	if (!p)
		snprintf(err, errlen, "%s: %s", path, e2);
	free(t);
	return p;
}

void v_policy_free(struct v_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->regions && p->regions[i].name[0]; i++)
		free(p->regions[i].digests);
	free(p->regions);
	free(p->hv_versions);
	free(p->build_ids.v);
	free(p->image_digests.v);
	free(p->config_digests.v);
	free(p);
}

void v_policy_print(const struct v_policy *p, void *file)
{
	FILE *f = file;
	fprintf(f, "dev-key reports:      %s\n", p->allow_dev_key ? "ALLOWED" : "rejected");
	fprintf(f, "debug hypervisors:    %s\n", p->allow_debug ? "ALLOWED" : "rejected");
	fprintf(f, "claim mismatches:     %s\n", p->allow_claim_mismatch ? "allowed" : "rejected");
	fprintf(f, "no DMA protection:    %s\n", p->allow_dma_unprotected ? "ALLOWED" : "rejected");
	fprintf(f, "unnamed regions:      %s\n", p->allow_unnamed_regions ? "allowed" : "rejected");
	if (p->max_skew_s >= 0)
		fprintf(f, "timestamp skew:       <= %" PRId64 " s%s\n", p->max_skew_s,
			p->require_timestamp ? " (timestamp required)" : "");
	else
		fprintf(f, "timestamp skew:       not checked\n");
	fprintf(f, "hash algorithms:     ");
	for (unsigned i = 1; i <= AHV_WIRE_HASH_MAX_ID; i++)
		if (p->hash_alg_mask & 1u << i)
			fprintf(f, " %s", vc_hash_name(i));
	fprintf(f, "\n");
	if (p->has_min_hv)
		fprintf(f, "min hv version:       %u.%u.%u\n", AHV_HV_VERSION_MAJOR(p->min_hv_version),
			AHV_HV_VERSION_MINOR(p->min_hv_version), AHV_HV_VERSION_PATCH(p->min_hv_version));
	fprintf(f, "hv versions listed:   %zu\n", p->n_hv_versions);
	fprintf(f, "build ids listed:     %zu\n", p->build_ids.n);
	fprintf(f, "image digests listed: %zu\n", p->image_digests.n);
	fprintf(f, "config digests listed:%zu\n", p->config_digests.n);
	fprintf(f, "regions:              %zu\n", p->n_regions);
	for (size_t i = 0; i < p->n_regions; i++) {
		const struct v_policy_region *r = &p->regions[i];
		fprintf(f, "  %-20s %s", r->name, r->space == AHV_SPACE_GPA ? "gpa" : r->space == AHV_SPACE_GVA ? "gva" : "any");
		if (r->has_address)
			fprintf(f, " @0x%" PRIx64, r->address);
		if (r->has_size)
			fprintf(f, " size %" PRIu64, r->size);
		fprintf(f, " %zu digest(s)%s\n", r->n_digests, r->required ? " required" : "");
		for (size_t j = 0; j < r->n_digests; j++)
			if (!(p->hash_alg_mask & 1u << r->digests[j].alg))
				fprintf(f, "  warning: %s digests[%zu] is %s, not in hash_algs: it never matches\n", r->name, j,
					vc_hash_name(r->digests[j].alg));
	}
}
