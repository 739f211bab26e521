/* fake.c - the scripted transport. On an AHV_OK answer it writes a STUB
 * report: only the fields the library checks the hypervisor echoed (magic,
 * sizes, algorithm, nonce, regions); no digests, no signature. Real reports
 * come from the engine (engine_test.c) or ahv-reportgen. */
#define _GNU_SOURCE
#include "fake.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fake_init(struct fake *f)
{
	memset(f, 0, sizeof *f);
	f->leaf1_ecx = 1u << 31;
	f->sig[0] = AHV_CPUID_MAX_LEAF;
	f->sig[1] = AHV_CPUID_SIG_EBX;
	f->sig[2] = AHV_CPUID_SIG_ECX;
	f->sig[3] = AHV_CPUID_SIG_EDX;
	f->feat[0] = AHV_CPUID_WIRE_VERSION;
	f->feat[1] = AHV_FEAT_ATTEST | AHV_FEAT_GET_INFO | AHV_FEAT_GPA_REGIONS | AHV_FEAT_SHA3;
	f->feat[2] = AHV_HV_VERSION(0, 1, 0);
	f->feat[3] = AHV_BACKEND_SVM;
	f->cpl = 3;
	f->script[0].status = AHV_OK;
	f->script[0].rbx = -1;
	f->nscript = 1;
}

static void cpuid(void *u, uint32_t leaf, uint32_t out[4])
{
	struct fake *f = u;
	memset(out, 0, 16);
	if (leaf == 1)
		out[2] = f->leaf1_ecx;
	else if (leaf == AHV_CPUID_LEAF_SIGNATURE)
		memcpy(out, f->sig, 16);
	else if (leaf == AHV_CPUID_LEAF_FEATURES)
		memcpy(out, f->feat, 16);
}

static bool resident(uint64_t addr, uint64_t len)
{
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t lo = addr & ~(uint64_t)(ps - 1);
	size_t n = (size_t)((addr + len - lo + (uint64_t)ps - 1) / (uint64_t)ps);
	unsigned char v[64];
	for (size_t i = 0; i < n; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		if (mincore((void *)(uintptr_t)(lo + i * (uint64_t)ps), k * (size_t)ps, v))
			return false;
		for (size_t j = 0; j < k; j++)
			if (!(v[j] & 1))
				return false;
	}
	return true;
}

static void hypercall(void *u, uint32_t backend, struct ahvl_regs *r)
{
	struct fake *f = u;
	struct fake_answer a = f->script[f->calls < f->nscript ? f->calls : f->nscript - 1];
	f->calls++;
	f->last_backend = backend;
	f->last_rax = r->rax, f->last_rbx = r->rbx, f->last_rcx = r->rcx;
	f->last_rdx = r->rdx, f->last_rsi = r->rsi;
	if (a.status != AHV_OK) {
		r->rax = a.status;
		r->rbx = a.rbx > 0 ? (uint64_t)a.rbx : 0;
		r->rcx = a.rcx;
		r->rdx = a.rdx;
		return;
	}
	if (r->rax == AHV_HC_GET_INFO) {
		uint8_t *o = (uint8_t *)(uintptr_t)r->rbx;
		memset(o, 0, AHV_HV_INFO_SIZE);
		ahv_le32_put(o, a.corrupt_magic ? 0 : AHV_INFO_MAGIC);
		ahv_le16_put(o + 4, 1);
		ahv_le32_put(o + offsetof(struct ahv_hv_info, size), AHV_HV_INFO_SIZE);
		ahv_le32_put(o + offsetof(struct ahv_hv_info, features), f->feat[1]);
		r->rax = AHV_OK;
		r->rbx = a.rbx >= 0 ? (uint64_t)a.rbx : AHV_HV_INFO_SIZE;
		r->rcx = 0;
		r->rdx = AHV_OBJ_NONE;
		return;
	}
	const uint8_t *q = (const uint8_t *)(uintptr_t)r->rbx;
	uint8_t *o = (uint8_t *)(uintptr_t)r->rdx;
	uint32_t n = ahv_le16_get(q + offsetof(struct ahv_request_hdr, region_count));
	size_t sz = AHV_REPORT_SIZE(n);
	f->out_resident = resident(r->rdx, sz);
	f->regions_resident = true;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *g = q + AHV_REQUEST_REGION_OFFSET(i);
		if (ahv_le32_get(g + 16) == AHV_SPACE_GVA && ahv_le64_get(g + 8) &&
		    !resident(ahv_le64_get(g), ahv_le64_get(g + 8)))
			f->regions_resident = false;
	}
	memset(o, 0, sz);
	ahv_le32_put(o, a.corrupt_magic ? 0x12345678 : AHV_REPORT_MAGIC);
	ahv_le16_put(o + 4, 1);
	ahv_le32_put(o + offsetof(struct ahv_report_hdr, total_size), (uint32_t)sz);
	memcpy(o + offsetof(struct ahv_report_hdr, hash_alg),
	       q + offsetof(struct ahv_request_hdr, hash_alg), 2);
	ahv_le16_put(o + offsetof(struct ahv_report_hdr, region_count), (uint16_t)n);
	memcpy(o + offsetof(struct ahv_report_hdr, nonce_len),
	       q + offsetof(struct ahv_request_hdr, nonce_len), 2);
	memcpy(o + offsetof(struct ahv_report_hdr, nonce),
	       q + offsetof(struct ahv_request_hdr, nonce), AHV_NONCE_MAX);
	if (a.corrupt_nonce)
		o[offsetof(struct ahv_report_hdr, nonce)] ^= 1;
	for (uint32_t i = 0; i < n; i++)
		memcpy(o + AHV_REPORT_RESULT_OFFSET(i), q + AHV_REQUEST_REGION_OFFSET(i), 20);
	r->rax = AHV_OK;
	r->rbx = a.rbx >= 0 ? (uint64_t)a.rbx : sz;
	r->rcx = 0;
	r->rdx = AHV_OBJ_NONE;
}

static int cpl(void *u)
{
	return ((struct fake *)u)->cpl;
}

struct ahvl_transport fake_transport(struct fake *f)
{
	return (struct ahvl_transport){.cpuid = cpuid, .hypercall = hypercall, .cpl = cpl, .user = f};
}
