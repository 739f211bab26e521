/*
 * request.c - the request, once it is in hypervisor memory: field checks in
 * the order of protocol.md §5.2 step 6, authentication (step 8) and the
 * per-region range checks (step 9). Only the copy is ever read.
 *
 * Fields are read with memcpy into local structures, so the checks hold for
 * any buffer alignment and never alias.
 */
#include <string.h>

#include "engine.h"
#include "watch.h"

#ifdef AHV_FUZZ_NO_ECDSA
/* Fuzz-only (tests/fuzz/CMakeLists.txt builds engine_request_fast with it;
 * no other build defines it): while the harness sets it, a request's
 * signature is taken as good and the report is left unsigned (attest.c), so
 * that inputs reach the checks and the measurement behind authentication
 * without an ECDSA verify and sign each (~440 inputs/s under ASan). Key
 * lookup and curve check still run; engine_request keeps the real ECDSA. */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#error "AHV_FUZZ_NO_ECDSA is for fuzz builds only"
#endif
bool ahv_fuzz_no_ecdsa;
#endif

static uint32_t field(struct ahv_fail *f, uint32_t status, size_t offset)
{
	return ahv_fail_set(f, status, AHV_OBJ_REQUEST_FIELD, offset);
}

/* Offset of the first byte of [p, p + n) that is not zero, or n. */
static size_t nonzero_at(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] == 0)
		i++;
	return i;
}

static bool hash_available(const struct ahv_core *core, uint32_t alg)
{
	if (ahv_wire_hash_size(alg) == 0)
		return false;
	return alg <= AHV_WIRE_HASH_SHA512 || (core->features & AHV_FEAT_SHA3);
}

static uint32_t parse_region(const struct ahv_core *core, const uint8_t *req,
			     uint32_t i, uint32_t hash_size,
			     struct ahv_fail *f)
{
	size_t off = AHV_REQUEST_REGION_OFFSET(i);
	struct ahv_region r;
	size_t z;

	memcpy(&r, req + off, sizeof(r));
	if (r.space != AHV_SPACE_GVA && r.space != AHV_SPACE_GPA)
		return field(f, AHV_E_BAD_SPACE, off + offsetof(struct ahv_region, space));
	/* GPA regions are an optional feature (AHV_FEAT_GPA_REGIONS): an
	 * unavailable space is refused like an unknown one. */
	if (r.space == AHV_SPACE_GPA && !(core->features & AHV_FEAT_GPA_REGIONS))
		return field(f, AHV_E_BAD_SPACE, off + offsetof(struct ahv_region, space));
	if (r.flags & AHV_REGION_F_RESERVED_MASK)
		return field(f, AHV_E_RESERVED, off + offsetof(struct ahv_region, flags));
	/* A claim uses hash_size bytes; everything else of the field is 0. */
	z = (r.flags & AHV_REGION_F_CLAIMED) ? hash_size : 0;
	if (nonzero_at(r.claimed_digest + z, AHV_DIGEST_FIELD_SIZE - z) !=
	    AHV_DIGEST_FIELD_SIZE - z)
		return field(f, AHV_E_RESERVED,
			     off + offsetof(struct ahv_region, claimed_digest) + z);
	if (r.reserved)
		return field(f, AHV_E_RESERVED, off + offsetof(struct ahv_region, reserved));
	return AHV_OK;
}

uint32_t ahv_request_parse(const struct ahv_core *core, const uint8_t *req,
			   uint64_t len, struct ahv_fail *f)
{
	struct ahv_request_hdr h;
	uint32_t hash_size, sig_size, st;
	size_t sig_off;

	memcpy(&h, req, sizeof(h));
#define OFF(field_) offsetof(struct ahv_request_hdr, field_)
	if (h.magic != AHV_REQUEST_MAGIC)
		return field(f, AHV_E_BAD_MAGIC, OFF(magic));
	if (h.version_major != AHV_WIRE_VERSION_MAJOR)
		return field(f, AHV_E_BAD_VERSION, OFF(version_major));
	if (h.version_minor > AHV_WIRE_VERSION_MINOR)
		return field(f, AHV_E_BAD_VERSION, OFF(version_minor));
	if (h.total_size != len)
		return field(f, AHV_E_REQUEST_SIZE, OFF(total_size));
	if (!ahv_watch_flags_ok(core, h.flags))
		return field(f, AHV_E_RESERVED, OFF(flags));
	if (!hash_available(core, h.hash_alg) ||
	    (h.flags && ahv_wire_hash_size(h.hash_alg) != AHV_WATCH_HASH_SIZE))
		return field(f, AHV_E_BAD_HASH_ALG, OFF(hash_alg));
	if (ahv_wire_sig_size(h.sig_alg) == 0)
		return field(f, AHV_E_BAD_SIG_ALG, OFF(sig_alg));
	if (h.region_count < 1 || h.region_count > AHV_MAX_REGIONS)
		return field(f, AHV_E_BAD_REGION_COUNT, OFF(region_count));
	if (h.total_size != AHV_REQUEST_SIZE(h.region_count))
		return field(f, AHV_E_REQUEST_SIZE, OFF(total_size));
	if (h.nonce_len < AHV_NONCE_MIN || h.nonce_len > AHV_NONCE_MAX)
		return field(f, AHV_E_BAD_NONCE_LEN, OFF(nonce_len));
	if (h.watch_arg && !h.flags) /* only a watch request uses it */
		return field(f, AHV_E_RESERVED, OFF(watch_arg));
	if (nonzero_at(h.nonce + h.nonce_len, AHV_NONCE_MAX - h.nonce_len) !=
	    AHV_NONCE_MAX - h.nonce_len)
		return field(f, AHV_E_RESERVED, OFF(nonce) + h.nonce_len);
#undef OFF

	hash_size = ahv_wire_hash_size(h.hash_alg);
	for (uint32_t i = 0; i < h.region_count; i++) {
		st = parse_region(core, req, i, hash_size, f);
		if (st != AHV_OK)
			return st;
	}

	sig_size = ahv_wire_sig_size(h.sig_alg);
	sig_off = AHV_REQUEST_SIG_OFFSET(h.region_count);
	if (nonzero_at(req + sig_off + sig_size, AHV_SIG_FIELD_SIZE - sig_size) !=
	    AHV_SIG_FIELD_SIZE - sig_size)
		return field(f, AHV_E_RESERVED, sig_off + sig_size);
	return AHV_OK;
}

/* Message hash of a signature id (protocol.md §8.1). */
static ahv_hash_alg sig_hash(uint32_t sig_alg)
{
	return sig_alg == AHV_SIG_ECDSA_P384_SHA384 ? AHV_HASH_SHA384
						    : AHV_HASH_SHA256;
}

uint32_t ahv_request_authenticate(const struct ahv_core *core,
				  const uint8_t *req, struct ahv_fail *f)
{
	const struct ahv_platform *p = core->plat;
	const struct ahv_guest_key *key = NULL;
	struct ahv_request_hdr h;
	uint8_t digest[AHV_HASH_MAX_SIZE];
	size_t tail, signed_len;

	memcpy(&h, req, sizeof(h));
	tail = AHV_REQUEST_TAIL_OFFSET(h.region_count);
	signed_len = AHV_REQUEST_SIGNED_SIZE(h.region_count);
	/* Key ids are public: a plain search is fine. */
	for (uint32_t i = 0; i < p->guest_key_count && !key; i++)
		if (memcmp(p->guest_keys[i].key_id, req + tail, AHV_KEY_ID_SIZE) == 0)
			key = &p->guest_keys[i];
	if (!key)
		return field(f, AHV_E_UNKNOWN_KEY, tail);
	if (key->pub.curve != h.sig_alg)
		return field(f, AHV_E_KEY_MISMATCH,
			     offsetof(struct ahv_request_hdr, sig_alg));
#ifdef AHV_FUZZ_NO_ECDSA
	if (ahv_fuzz_no_ecdsa)
		return AHV_OK;
#endif
	if (ahv_hash(sig_hash(h.sig_alg), req, signed_len, digest) != AHV_CRYPTO_OK)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	if (ahv_ecdsa_verify_raw(&key->pub, digest,
				 ahv_hash_size(sig_hash(h.sig_alg)),
				 req + signed_len,
				 ahv_wire_sig_size(h.sig_alg)) != AHV_CRYPTO_OK)
		return field(f, AHV_E_BAD_SIGNATURE, signed_len);
	return AHV_OK;
}

uint32_t ahv_request_check_regions(const struct ahv_call *c,
				   const uint8_t *req, struct ahv_fail *f)
{
	struct ahv_request_hdr h;
	uint64_t total = 0;
	uint32_t st;

	memcpy(&h, req, sizeof(h));
	for (uint32_t i = 0; i < h.region_count; i++) {
		struct ahv_region r;

		memcpy(&r, req + AHV_REQUEST_REGION_OFFSET(i), sizeof(r));
		st = ahv_range_check(c, r.space, r.address, r.size);
		if (st != AHV_OK)
			return ahv_fail_set(f, st, i, r.address);
		/* total + size > limit, written so that it cannot overflow */
		if (r.size > AHV_MAX_TOTAL_BYTES - total)
			return ahv_fail_set(f, AHV_E_TOO_MANY_BYTES, i, r.address);
		total += r.size;
		/* §4.3: rules 2-7 are vacuous for an empty region. */
		if (r.space == AHV_SPACE_GPA && c->cpl != 0 && r.size != 0)
			return ahv_fail_set(f, AHV_E_PRIVILEGE, i, r.address);
	}
	return AHV_OK;
}
