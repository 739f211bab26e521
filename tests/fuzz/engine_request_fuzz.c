/*
 * engine_request_fuzz.c - libFuzzer target: request parsing + validation,
 * through the real hypercall path on the simulated machine.
 *
 * Input: byte 0 = mode, the rest = the request bytes (its length is RCX).
 *   mode bit 0: put the enrolled guest key's id in the request and re-sign
 *               it with that key, so the fuzzer also gets past
 *               authentication into the region checks, translation and
 *               measurement (engine_request_fast, built with the fuzz-only
 *               AHV_FUZZ_NO_ECDSA: the key id only; the engine takes the
 *               signature as good and leaves the report unsigned, so no
 *               ECDSA per input; region sizes cut to <= 8 KiB);
 *   mode bit 1: caller at CPL0 (else CPL3);
 *   mode bits 2-3: request buffer offset in its first page (0, 1, 4000,
 *               4095: page-crossing copies);
 *   mode bit 4: report capacity 1 byte short;
 *   mode bits 5-6: CR4.PKE with PKRU AD (bit 5) / WD (bit 6) for key 0,
 *               the key of every page (protocol.md §4.3, §4.4).
 * The guest has 64 KiB of user data at 0x30000000 (the seeds name it) and
 * 64 KiB of supervisor data at 0x38000000; GPA 0x100000.. is RAM.
 *
 * Checked: no crash/hang/sanitizer report; the status is a known one; RBX
 * is 0 unless OK / BUFFER_TOO_SMALL; on OK the report has the right size,
 * and its signature verifies (engine_request_fast with bit 0: is all zero).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "sim.h"

static struct sim *s;
static uint64_t req_gva, rep_gva;

static void setup(void)
{
	struct sim_cfg cfg = { .guest_ram = 16ull << 20 };
	uint64_t gpa;

	s = calloc(1, sizeof(*s));
	if (!s || sim_init(s, &cfg))
		abort();
	gpa = sim_alloc_gpa(s, 0x10000, SIM_4K);
	if (sim_map(s, &s->gpt, 0x30000000, gpa, 0x10000, SIM_4K, SIM_URW))
		abort();
	gpa = sim_alloc_gpa(s, 0x10000, SIM_4K);
	if (sim_map(s, &s->gpt, 0x38000000, gpa, 0x10000, SIM_4K, SIM_RW))
		abort();
	for (uint64_t i = 0; i < 0x10000; i++) {
		uint8_t b = (uint8_t)(i * 31);

		sim_write(s, AHV_SPACE_GVA, 0x30000000 + i, &b, 1);
	}
	req_gva = sim_alloc_gva(s, 2 * AHV_REQUEST_MAX_SIZE, 0, SIM_URW);
	rep_gva = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);
}

static bool known(uint64_t st)
{
	switch (st) {
	case AHV_OK: case AHV_E_BAD_MODE: case AHV_E_BUSY: case AHV_E_INTERNAL:
	case AHV_E_REQUEST_SIZE: case AHV_E_BUFFER_TOO_SMALL:
	case AHV_E_BAD_MAGIC: case AHV_E_BAD_VERSION: case AHV_E_RESERVED:
	case AHV_E_BAD_HASH_ALG: case AHV_E_BAD_SIG_ALG: case AHV_E_BAD_NONCE_LEN:
	case AHV_E_BAD_REGION_COUNT: case AHV_E_BAD_SPACE: case AHV_E_RANGE_WRAP:
	case AHV_E_NONCANONICAL: case AHV_E_TOO_MANY_BYTES: case AHV_E_UNKNOWN_KEY:
	case AHV_E_KEY_MISMATCH: case AHV_E_BAD_SIGNATURE: case AHV_E_PRIVILEGE:
	case AHV_E_NOT_PRESENT: case AHV_E_NOT_USER: case AHV_E_NOT_WRITABLE:
	case AHV_E_GUEST_RSVD:
	case AHV_E_NESTED_FAULT: case AHV_E_NOT_RAM: case AHV_E_HV_MEMORY:
	case AHV_E_TIME_LIMIT:
	case AHV_E_WATCH_UNKNOWN: case AHV_E_WATCH_MISMATCH: case AHV_E_WATCH_LIMIT:
		return true;
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t offsets[4] = { 0, 1, 4000, 4095 };
	uint8_t req[AHV_REQUEST_MAX_SIZE + 64], rep[AHV_REPORT_MAX_SIZE];
	struct ahv_hc_regs o;
	uint8_t mode;
	size_t len;

	if (!s)
		setup();
	if (size < 1)
		return 0;
	mode = data[0];
	len = size - 1;
	if (len > sizeof(req))
		len = sizeof(req);
	memcpy(req, data + 1, len);
#ifdef AHV_FUZZ_NO_ECDSA
	ahv_fuzz_no_ecdsa = mode & 1;
#endif
	if ((mode & 1) && len >= AHV_REQUEST_MIN_SIZE) {
		struct ahv_request_hdr h;

		memcpy(&h, req, sizeof(h));
		if (h.region_count >= 1 && h.region_count <= AHV_MAX_REGIONS &&
		    AHV_REQUEST_SIZE(h.region_count) <= len) {
			memcpy(req + AHV_REQUEST_TAIL_OFFSET(h.region_count),
			       s->enrolled[0].key_id, AHV_KEY_ID_SIZE);
#ifndef AHV_FUZZ_NO_ECDSA
			sim_resign(req, &s->guest_key[0], &s->drbg);
#else
			/* Sizes at most 8 KiB (still page-crossing): without
			 * it the corpus drifts to multi-MiB SHA3 regions hashed
			 * by instrumented code (~1k inputs/s). The byte limits
			 * stay with engine_request and the unit tests. */
			for (uint32_t i = 0; i < h.region_count; i++) {
				struct ahv_region r;
				size_t off = AHV_REQUEST_REGION_OFFSET(i);

				memcpy(&r, req + off, sizeof(r));
				r.size %= 8193;
				memcpy(req + off, &r, sizeof(r));
			}
#endif
		}
	}
	s->cpl = (mode & 2) ? 0 : 3;
	/* CR4.PKE (bit 22, SDM Vol. 3A §2.5); PKRU.AD0 bit 0, WD0 bit 1
	 * (§4.6.2) */
	s->cr4 = (s->cr4 & ~(UINT64_C(1) << 22)) |
		 ((mode & 0x60) ? UINT64_C(1) << 22 : 0);
	s->pkru = (mode >> 5) & 3u;
	uint64_t rq = req_gva + offsets[(mode >> 2) & 3];
	uint32_t need = AHV_REPORT_MAX_SIZE;
	sim_write(s, AHV_SPACE_GVA, rq, req, len);
	o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rep_gva,
		     (mode & 16) ? AHV_REPORT_MIN_SIZE - 1 : need);
	if (!known(o.rax))
		abort();
	if (o.rax != AHV_OK && o.rax != AHV_E_BUFFER_TOO_SMALL && o.rbx != 0)
		abort();
	if (o.rax == AHV_OK) {
		struct ahv_report_hdr h;
		uint8_t d[32];
		size_t signed_len;

		if (!sim_read(s, AHV_SPACE_GVA, rep_gva, rep, o.rbx))
			abort();
		memcpy(&h, rep, sizeof(h));
		if (h.total_size != o.rbx || o.rbx != AHV_REPORT_SIZE(h.region_count))
			abort();
		signed_len = AHV_REPORT_SIGNED_SIZE(h.region_count);
#ifdef AHV_FUZZ_NO_ECDSA
		if (ahv_fuzz_no_ecdsa) {
			for (size_t i = 0; i < AHV_REPORT_TAIL_SIZE; i++)
				if (rep[signed_len + i])
					abort();
			return 0;
		}
#endif
		if (ahv_hash(AHV_HASH_SHA256, rep, signed_len, d) ||
		    ahv_ecdsa_verify_raw(&s->hv_key.pub, d, 32, rep + signed_len, 64))
			abort();
	}
	return 0;
}
