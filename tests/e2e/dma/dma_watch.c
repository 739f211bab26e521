/*
 * dma_watch.c - the e2e-dma case "watch-dma" (docs/watch.md, "DMA"): two
 * guest pages watched by one signed WATCH_START request (GPA regions, the
 * test guest key of \attest-hv\test\guest.hex), an edu DMA write into the
 * first, then WATCH_CHECK|END: the first region must be MODIFIED with the
 * device's record (apic_id AHV_WATCH_APIC_DEVICE, rip = edu's PCI source
 * id, gpa = the page, time between the two reports), the second unmodified,
 * and the page unchanged (the IOMMU blocked the write). Only behind VT-d:
 * the hypervisor renames the DMAR table "AHVD"; without it (AMD-Vi, whose
 * tables watches do not change) the case says "skipped".
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "ahv/x86/cpu.h"
#include "attest/wire.h"
#include "guest_call.h"
#include "guest_req.h"
#include "acpi_find.h"
#include "dma_watch.h"

static uint8_t crypto_pool[192 * 1024] __attribute__((aligned(16)));
static uint8_t req[AHV_REQUEST_MAX_SIZE] __attribute__((aligned(4096)));
static uint8_t rep[AHV_REPORT_MAX_SIZE] __attribute__((aligned(4096)));
static const uint8_t nonce[32] = "AHV-DMA-WATCH-NONCE-0123456789ab";

void ahv_crypto_fatal(int status)
{
	guest_crypto_fatal("AHV-DMA", status);
}

/* One signed request over the two GPA pages with watch flags and argument. */
static struct ahv_report_hdr *attest(const struct dma_watch_env *e, uint64_t pg[2], uint32_t flags, uint64_t arg,
				     const ahv_ec_key *key, const uint8_t key_id[32], ahv_drbg *rng, uint64_t *status)
{
	size_t len = guest_req_init(req, 2, nonce, key_id);
	struct ahv_request_hdr *h = (void *)req;
	h->flags = flags;
	h->watch_arg = arg;
	for (unsigned i = 0; i < 2; i++)
		*guest_req_region(req, i) = (struct ahv_region){.address = pg[i], .size = 4096, .space = AHV_SPACE_GPA};
	guest_req_sign(req, 2, key, rng);
	memset(rep, 0, AHV_REPORT_SIZE(2));
	struct hc c = {AHV_HC_ATTEST_GUEST_MEMORY, (uint64_t)(uintptr_t)req, len, (uint64_t)(uintptr_t)rep, sizeof(rep)};
	guest_hypercall(&c, e->intel);
	*status = c.rax;
	return c.rax == AHV_OK ? (void *)rep : NULL;
}

int dma_watch_case(EFI_HANDLE image, const struct dma_watch_env *e)
{
	static ahv_ec_key key;
	static ahv_drbg rng;
	uint8_t key_id[32];
	uint64_t st = 0, pg[2] = {0, 0};

	if (!ahv_efi_acpi_table(ST, "AHVD")) {
		Print(L"AHV-DMA: case watch-dma skipped (no VT-d: watches change only its tables)\r\n");
		return 1;
	}
	if (ahv_crypto_init(crypto_pool, sizeof(crypto_pool)) ||
	    (ahv_drbg_init(&rng, AHV_DRBG_HW, NULL, NULL, "dma", 3) &&
	     ahv_drbg_init(&rng, 0, guest_tsc_entropy, NULL, "dma", 3)) ||
	    guest_key_load(image, &rng, &key, key_id)) {
		Print(L"AHV-DMA: case watch-dma FAIL (no crypto or guest key)\r\n");
		return 0;
	}
	for (unsigned i = 0; i < 2; i++) {
		EFI_PHYSICAL_ADDRESS a = 0;
		if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 1, &a)))
			return 0;
		pg[i] = a;
		memset((void *)(uintptr_t)a, 0x11 * (int)(i + 1), 4096);
	}
	struct ahv_report_hdr *r = attest(e, pg, AHV_REQ_F_WATCH_START, 0, &key, key_id, &rng, &st);
	if (!r || r->watch_state != AHV_WATCH_ACTIVE || !r->watch_id) {
		Print(L"AHV-DMA: case watch-dma FAIL (START status %lx)\r\n", st);
		return 0;
	}
	uint32_t id = r->watch_id;
	uint64_t t_start = r->timestamp_ns;

	/* The device writes 64 bytes of e->src into the first watched page. */
	int rc = e->copy(e->src, pg[0], 64);
	const uint8_t *w = (const uint8_t *)(uintptr_t)pg[0];
	int blocked = w[0] == 0x11 && w[63] == 0x11;

	r = attest(e, pg, AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END, id, &key, key_id, &rng, &st);
	if (!r) {
		Print(L"AHV-DMA: case watch-dma FAIL (CHECK status %lx)\r\n", st);
		return 0;
	}
	struct ahv_region_result *rr = (void *)(rep + AHV_REPORT_RESULT_OFFSET(0));
	struct ahv_watch_record rec, clean;
	memcpy(&rec, rr[0].digest + AHV_WATCH_RECORD_OFFSET, sizeof(rec));
	memcpy(&clean, rr[1].digest + AHV_WATCH_RECORD_OFFSET, sizeof(clean));
	uint32_t want = AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED;
	int ok = !rc && blocked && r->watch_state == AHV_WATCH_ENDED && (rr[0].flags & want) == want &&
		 rec.apic_id == AHV_WATCH_APIC_DEVICE && rec.rip == e->sid && rec.gpa == pg[0] &&
		 rec.time_ns >= t_start && rec.time_ns <= r->timestamp_ns && (rr[1].flags & AHV_RESULT_F_WATCHED) &&
		 !(rr[1].flags & (AHV_RESULT_F_MODIFIED | AHV_RESULT_F_REMAPPED));
	Print(L"AHV-DMA: case watch-dma %a (rc %d blocked %d state %u; page %lx flags %x apic %x rip %lx gpa %lx "
	      "t %lu in [%lu, %lu]; clean %lx flags %x)\r\n",
	      ok ? "ok" : "FAIL", rc, blocked, r->watch_state, pg[0], rr[0].flags, rec.apic_id, rec.rip, rec.gpa,
	      rec.time_ns, t_start, r->timestamp_ns, pg[1], rr[1].flags);
	return ok;
}
