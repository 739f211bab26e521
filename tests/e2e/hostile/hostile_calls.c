/*
 * hostile_calls.c - hostile hypercalls (docs/hostile.md class `hc.*`,
 * issue 14 item 4), beyond the e2e payload's list (tests/e2e/payload):
 * a signed request replayed under another address space, the same nonce
 * twice, regions that are the request or the report buffer themselves, the
 * report written over the request, counts and sizes at their limits,
 * misaligned buffers, buffers that cross into an unmapped page or into
 * hypervisor memory, guest page tables that point at hypervisor frames,
 * reserved bits in a paging-structure entry that is not a leaf, and a
 * region list that the other CPU rewrites while the call runs. Each case
 * asserts the exact RAX, RCX and RDX of docs/protocol.md §3.1, §4 and §5.
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "ahv/x86/cpu.h"
#include "attest/wire.h"
#include "hostile.h"
#include "guest_req.h"

static uint8_t breq[2 * 8192] __attribute__((aligned(4096)));
static uint8_t brep[2 * 8192] __attribute__((aligned(4096)));

static struct hc call(const void *req, uint64_t len, void *rep, uint64_t cap)
{
	struct hc h = {AHV_HC_ATTEST_GUEST_MEMORY, (uint64_t)(uintptr_t)req, len, (uint64_t)(uintptr_t)rep, cap};
	hypercall(&h);
	return h;
}

/* RAX, RDX and (unless ~0) RCX as wanted; the registers in the detail. */
#define ANY ~0ull
static int regs_are(struct hc h, uint64_t rax, uint64_t rdx, uint64_t rcx)
{
	DET(L"rax %lx rcx %lx rdx %lx (want %lx, %lx, %lx)", h.rax, h.rcx, h.rdx, rax, rcx == ANY ? 0 : rcx, rdx);
	return h.rax == rax && h.rdx == rdx && (rcx == ANY || h.rcx == rcx);
}

/* An OK answer: RBX the report's size, RCX 0, RDX NONE (§5.1), and a
 * report of n regions signed by the hypervisor's key. */
static int report_ok(struct hc h, const uint8_t *rep, unsigned n)
{
	const struct ahv_report_hdr *r = (const void *)rep;
	uint8_t dg[32];
	if (!regs_are(h, AHV_OK, AHV_OBJ_NONE, 0) || h.rbx != AHV_REPORT_SIZE(n))
		return 0;
	ahv_hash(AHV_HASH_SHA256, rep, AHV_REPORT_SIGNED_SIZE(n), dg);
	return r->magic == AHV_REPORT_MAGIC && r->region_count == n &&
	       !ahv_ecdsa_verify_raw(&hv_pub, dg, 32, rep + AHV_REPORT_SIG_OFFSET(n), 64);
}

static const struct ahv_region_result *result(const uint8_t *rep, unsigned i)
{
	return (const void *)(rep + AHV_REPORT_RESULT_OFFSET(i));
}

/* Region i of the report holds SHA-256 of [p, p + len). */
static int digest_is(const uint8_t *rep, unsigned i, const void *p, size_t len)
{
	uint8_t d[32];
	ahv_hash(AHV_HASH_SHA256, p, len, d);
	return !memcmp(result(rep, i)->digest, d, 32);
}

/* A signed one-region request at r for [addr, addr + size) in `space`. */
static size_t req1(uint8_t *r, uint64_t addr, uint64_t size, uint32_t space)
{
	size_t len = guest_req_init(r, 1, nonce, gkey_id);
	guest_req_region(r, 0)->address = addr;
	guest_req_region(r, 0)->size = size;
	guest_req_region(r, 0)->space = space;
	guest_req_sign(r, 1, &gkey, &rng);
	return len;
}

static uint64_t counter_of(const uint8_t *rep) { return ((const struct ahv_report_hdr *)rep)->counter; }
static uint64_t da(void) { return (uint64_t)(uintptr_t)data_buf; }

/* ---- page tables of our own (PML4 slot 201), two address spaces --------------- */
/* In both: page 0 a scratch page, page 1 a hypervisor frame, page 2 not
 * present, page 3 a second scratch page, page 4 not present, page 5 the
 * replayed region (data_buf in space A, page_b in space B); 2 MiB slot 1 a
 * page table that is a hypervisor frame, slot 2 a 2 MiB page over the
 * hypervisor frame, slot 3 a page directory entry with a reserved bit
 * (SDM Vol. 3A §4.5.4 Tables 4-15..4-19: bit 51 reserved below
 * MAXPHYADDR 52). */
#define VA_BASE 0x0000648000000000ull
#define VA(pg) (VA_BASE + (uint64_t)(pg) * 4096)
#define VA2M(slot) (VA_BASE + (uint64_t)(slot) * 0x200000)
#define PTE_PRW 3ull   /* P, R/W (Vol. 3A Table 4-19) */
#define PDE_PS 0x80ull /* a 2 MiB page (Table 4-18) */
static uint64_t *pml4_a, *pml4_b, fw_cr3;
static uint8_t *scratch, *scratch2, *page_b;

static uint64_t *space_tables(uint64_t hv, uint64_t replayed)
{
	uint64_t *pml4 = zpage(), *pdpt = zpage(), *pd = zpage(), *pt = zpage();
	if (!pml4 || !pdpt || !pd || !pt)
		return NULL;
	memcpy(pml4, (void *)(uintptr_t)(fw_cr3 & 0x000ffffffffff000ull), 4096);
	pml4[201] = (uint64_t)(uintptr_t)pdpt | PTE_PRW;
	pdpt[0] = (uint64_t)(uintptr_t)pd | PTE_PRW;
	pd[0] = (uint64_t)(uintptr_t)pt | PTE_PRW;
	pd[1] = hv | PTE_PRW;
	pd[2] = (hv & ~0x1fffffull) | PDE_PS | PTE_PRW;
	pd[3] = (uint64_t)(uintptr_t)pt | PTE_PRW | 1ull << 51;
	pt[0] = (uint64_t)(uintptr_t)scratch | PTE_PRW;
	pt[1] = hv | PTE_PRW;
	pt[3] = (uint64_t)(uintptr_t)scratch2 | PTE_PRW;
	pt[5] = replayed | PTE_PRW;
	return pml4;
}

static int build_spaces(void)
{
	fw_cr3 = ahv_read_cr3();
	scratch = (uint8_t *)zpage(), scratch2 = (uint8_t *)zpage(), page_b = (uint8_t *)zpage();
	if (!scratch || !scratch2 || !page_b)
		return -1;
	for (unsigned i = 0; i < 4096; i++)
		page_b[i] = (uint8_t)(i * 29 + 3);
	pml4_a = space_tables(hv_page_known, da());
	pml4_b = space_tables(hv_page_known, (uint64_t)(uintptr_t)page_b);
	return pml4_a && pml4_b ? 0 : -1;
}

static void use_space(uint64_t *pml4)
{
	ahv_write_cr3(pml4 ? (uint64_t)(uintptr_t)pml4 | (fw_cr3 & 0xfff) : fw_cr3);
}

/* ---- cases in our address spaces ------------------------------------------------ */
static void cases_spaces(void)
{
	struct hc h;
	size_t len;
	/* A request signed for VA(5), replayed under another CR3: the
	 * signature still verifies (it binds no address space), and the
	 * report measures what the caller's tables map now (protocol §4.2;
	 * docs/threat-model.md: GVA attestation trusts the kernel's tables). */
	if (!start("hc.replay-other-address-space")) {
		len = req1(breq, VA(5) + 64, 128, AHV_SPACE_GVA);
		use_space(pml4_a);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		int a = report_ok(h, brep, 1) && digest_is(brep, 0, data_buf + 64, 128);
		uint64_t c = counter_of(brep);
		use_space(pml4_b);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		int b = report_ok(h, brep, 1) && digest_is(brep, 0, page_b + 64, 128) && counter_of(brep) > c;
		use_space(NULL);
		DET(L"space A: %a, space B: %a (digest of B's page, counter %lu after %lu)", a ? "ok" : "BAD",
		    b ? "ok" : "BAD", counter_of(brep), c);
		verdict("hc.replay-other-address-space", a && b);
	}
	/* Replayed where the region is not mapped at all: NOT_PRESENT. */
	if (!start("hc.replay-unmapped-in-other-space")) {
		len = req1(breq, VA(5) + 8, 8, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE); /* firmware tables: slot 201 empty */
		verdict("hc.replay-unmapped-in-other-space", regs_are(h, AHV_E_NOT_PRESENT, 0, VA(5) + 8));
	}
	use_space(pml4_a);
	/* The request buffer runs from a mapped page into a not-present one. */
	if (!start("hc.request-crosses-into-unmapped")) {
		len = req1(breq, da(), 16, AHV_SPACE_GVA);
		memcpy(scratch2 + 4096 - 100, breq, 100);
		h = call((void *)(uintptr_t)(VA(4) - 100), len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.request-crosses-into-unmapped", regs_are(h, AHV_E_NOT_PRESENT, AHV_OBJ_REQUEST_BUFFER, VA(4)));
	}
	/* ... into a hypervisor frame: the nested fault at that page. */
	if (!start("hc.request-crosses-into-hv-memory")) {
		len = req1(breq, da(), 16, AHV_SPACE_GVA);
		memcpy(scratch + 4096 - 100, breq, 100);
		h = call((void *)(uintptr_t)(VA(1) - 100), len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.request-crosses-into-hv-memory",
			regs_are(h, AHV_E_NESTED_FAULT, AHV_OBJ_REQUEST_BUFFER, VA(1)));
	}
	/* The report would run into a hypervisor frame: refused at step 10,
	 * nothing written (the scratch page keeps its bytes). */
	if (!start("hc.report-crosses-into-hv-memory")) {
		len = req1(breq, da(), 16, AHV_SPACE_GVA);
		memset(scratch, 0xa5, 4096);
		h = call(breq, len, (void *)(uintptr_t)(VA(1) - 100), AHV_REPORT_MAX_SIZE);
		int kept = scratch[4095] == 0xa5 && scratch[4096 - 100] == 0xa5;
		int ok = regs_are(h, AHV_E_NESTED_FAULT, AHV_OBJ_OUTPUT_BUFFER, VA(1));
		verdict("hc.report-crosses-into-hv-memory", ok && kept);
	}
	/* GET_INFO's buffer likewise. */
	if (!start("hc.info-crosses-into-hv-memory")) {
		h = (struct hc){AHV_HC_GET_INFO, VA(1) - 100, 4096, 0, 0};
		hypercall(&h);
		verdict("hc.info-crosses-into-hv-memory", regs_are(h, AHV_E_NESTED_FAULT, AHV_OBJ_OUTPUT_BUFFER, VA(1)));
	}
	/* A region whose page table is a hypervisor frame (the PDE points at
	 * it): the walk's read of that table is refused by the nested tables
	 * (§4.3 rules 4, 5), at the region's address. */
	if (!start("hc.region-page-table-in-hv-memory")) {
		len = req1(breq, VA2M(1) + 0x123, 32, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-page-table-in-hv-memory", regs_are(h, AHV_E_NESTED_FAULT, 0, VA2M(1) + 0x123));
	}
	/* A 2 MiB guest page over the hypervisor frame. */
	if (!start("hc.region-2m-page-on-hv-memory")) {
		uint64_t va = VA2M(2) + (hv_page_known & 0x1fffff);
		len = req1(breq, va, 64, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-2m-page-on-hv-memory", regs_are(h, AHV_E_NESTED_FAULT, 0, va));
	}
	/* A reserved bit in a page-directory entry (not the leaf). */
	if (!start("hc.region-pde-reserved-bit")) {
		len = req1(breq, VA2M(3) + 8, 8, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-pde-reserved-bit", regs_are(h, AHV_E_GUEST_RSVD, 0, VA2M(3) + 8));
	}
	/* A region in a PML4 slot nobody filled. */
	if (!start("hc.region-pml4e-not-present")) {
		uint64_t va = 0x0000650000000000ull; /* slot 202 */
		len = req1(breq, va, 8, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-pml4e-not-present", regs_are(h, AHV_E_NOT_PRESENT, 0, va));
	}
	use_space(NULL);
}

/* ---- the request's own fields at their limits ----------------------------------- */
/* Sign, call with a report capacity of `cap`, expect (rax, rdx, rcx). */
static void field_case(const char *name, unsigned n, uint64_t rax, uint64_t rdx, uint64_t rcx)
{
	guest_req_sign(breq, n, &gkey, &rng);
	struct hc h = call(breq, AHV_REQUEST_SIZE(n), brep, AHV_REPORT_MAX_SIZE);
	int ok = rax == AHV_OK ? report_ok(h, brep, n) : regs_are(h, rax, rdx, rcx);
	verdict(name, ok);
}

static struct ahv_request_hdr *hdr(void) { return (struct ahv_request_hdr *)breq; }

static void nonce_case(const char *name, unsigned nlen, uint64_t rax)
{
	if (start(name))
		return;
	guest_req_init(breq, 1, nonce, gkey_id);
	guest_req_region(breq, 0)->address = da();
	guest_req_region(breq, 0)->size = 16;
	hdr()->nonce_len = (uint16_t)nlen;
	for (unsigned i = 0; i < AHV_NONCE_MAX; i++)
		hdr()->nonce[i] = i < nlen ? (uint8_t)(0xc0 + i) : 0;
	field_case(name, 1, rax, AHV_OBJ_REQUEST_FIELD, 22);
}

static void cases_fields(void)
{
	nonce_case("hc.nonce-min", AHV_NONCE_MIN, AHV_OK);
	nonce_case("hc.nonce-max", AHV_NONCE_MAX, AHV_OK);
	nonce_case("hc.nonce-below-min", AHV_NONCE_MIN - 1, AHV_E_BAD_NONCE_LEN);
	nonce_case("hc.nonce-above-max", AHV_NONCE_MAX + 1, AHV_E_BAD_NONCE_LEN);
	/* 64 regions, the most a request may carry: OK, the largest report. */
	if (!start("hc.regions-at-max")) {
		guest_req_init(breq, AHV_MAX_REGIONS, nonce, gkey_id);
		for (unsigned i = 0; i < AHV_MAX_REGIONS; i++) {
			guest_req_region(breq, i)->address = da() + 64 * i;
			guest_req_region(breq, i)->size = 64;
		}
		guest_req_sign(breq, AHV_MAX_REGIONS, &gkey, &rng);
		struct hc h = call(breq, AHV_REQUEST_MAX_SIZE, brep, AHV_REPORT_MAX_SIZE);
		int ok = report_ok(h, brep, AHV_MAX_REGIONS) && digest_is(brep, 63, data_buf + 64 * 63, 64);
		verdict("hc.regions-at-max", ok && h.rbx == AHV_REPORT_MAX_SIZE);
	}
	/* A reserved header flag bit, a reserved region flag bit, a claimed
	 * digest without the CLAIMED flag, the signature field's unused tail:
	 * AHV_E_RESERVED at the field's offset (§5.2 step 6). */
	if (!start("hc.header-flag-reserved")) {
		guest_req_init(breq, 1, nonce, gkey_id);
		hdr()->flags = 1u << 31;
		field_case("hc.header-flag-reserved", 1, AHV_E_RESERVED, AHV_OBJ_REQUEST_FIELD, 12);
	}
	if (!start("hc.region-flag-reserved")) {
		guest_req_init(breq, 1, nonce, gkey_id);
		guest_req_region(breq, 0)->flags = 1u << 31;
		field_case("hc.region-flag-reserved", 1, AHV_E_RESERVED, AHV_OBJ_REQUEST_FIELD,
			   AHV_REQUEST_REGION_OFFSET(0) + 20);
	}
	if (!start("hc.claim-without-flag")) {
		guest_req_init(breq, 1, nonce, gkey_id);
		guest_req_region(breq, 0)->claimed_digest[0] = 1;
		field_case("hc.claim-without-flag", 1, AHV_E_RESERVED, AHV_OBJ_REQUEST_FIELD,
			   AHV_REQUEST_REGION_OFFSET(0) + 24);
	}
	if (!start("hc.signature-tail-nonzero")) {
		guest_req_init(breq, 1, nonce, gkey_id);
		guest_req_sign(breq, 1, &gkey, &rng);
		breq[AHV_REQUEST_SIG_OFFSET(1) + AHV_SIG_FIELD_SIZE - 1] = 1; /* not signed, must be 0 */
		struct hc h = call(breq, AHV_REQUEST_SIZE(1), brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.signature-tail-nonzero",
			regs_are(h, AHV_E_RESERVED, AHV_OBJ_REQUEST_FIELD, AHV_REQUEST_SIG_OFFSET(1) + 64));
	}
	/* A two-region request's length one byte short: within 320..6368 but
	 * not total_size: REQUEST_SIZE at total_size's offset (step 6). */
	if (!start("hc.length-one-short")) {
		guest_req_init(breq, 2, nonce, gkey_id);
		guest_req_sign(breq, 2, &gkey, &rng);
		struct hc h = call(breq, AHV_REQUEST_SIZE(2) - 1, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.length-one-short", regs_are(h, AHV_E_REQUEST_SIZE, AHV_OBJ_REQUEST_FIELD, 8));
	}
	/* A claim that does not match: not an error, the report says so. */
	if (!start("hc.claim-mismatch")) {
		guest_req_init(breq, 1, nonce, gkey_id);
		guest_req_region(breq, 0)->address = da();
		guest_req_region(breq, 0)->size = 32;
		guest_req_region(breq, 0)->flags = AHV_REGION_F_CLAIMED;
		memset(guest_req_region(breq, 0)->claimed_digest, 0x77, 32);
		guest_req_sign(breq, 1, &gkey, &rng);
		struct hc h = call(breq, AHV_REQUEST_SIZE(1), brep, AHV_REPORT_MAX_SIZE);
		const struct ahv_report_hdr *r = (const void *)brep;
		int ok = report_ok(h, brep, 1) && (r->flags & AHV_REPORT_F_CLAIM_MISMATCH) &&
			 (result(brep, 0)->flags & 3) == AHV_RESULT_F_CLAIMED && digest_is(brep, 0, data_buf, 32);
		verdict("hc.claim-mismatch", ok);
	}
}

/* ---- buffers and regions that overlap, addresses at the edges ------------------- */
static void cases_buffers(void)
{
	struct hc h;
	size_t len;
	/* The same signed request (same nonce) twice: both served, the
	 * counter moves (§9.3); refusing replays is the verifier's job. */
	if (!start("hc.nonce-reused")) {
		len = req1(breq, da(), 64, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		int a = report_ok(h, brep, 1);
		uint64_t c = counter_of(brep);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		int b = report_ok(h, brep, 1) && counter_of(brep) > c;
		DET(L"counters %lu then %lu", c, counter_of(brep));
		verdict("hc.nonce-reused", a && b);
	}
	/* The region is the request buffer itself: its digest is of the
	 * request's bytes as submitted. */
	if (!start("hc.region-is-request-buffer")) {
		len = req1(breq, 0, 0, AHV_SPACE_GVA);
		guest_req_region(breq, 0)->address = (uint64_t)(uintptr_t)breq;
		guest_req_region(breq, 0)->size = len;
		guest_req_sign(breq, 1, &gkey, &rng);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-is-request-buffer", report_ok(h, brep, 1) && digest_is(brep, 0, breq, len));
	}
	/* The region is the report buffer: measured before the report is
	 * written over it (§5.2 steps 11, 12). */
	if (!start("hc.region-is-report-buffer")) {
		static uint8_t before[AHV_REPORT_SIZE(1)];
		memset(brep, 0xa5, AHV_REPORT_SIZE(1));
		memcpy(before, brep, sizeof(before));
		len = req1(breq, (uint64_t)(uintptr_t)brep, AHV_REPORT_SIZE(1), AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-is-report-buffer", report_ok(h, brep, 1) && digest_is(brep, 0, before, sizeof(before)));
	}
	/* The report written over the request: the request was copied once
	 * (step 5), so the call is served and the buffer holds the report. */
	if (!start("hc.report-over-request")) {
		len = req1(breq, da(), 64, AHV_SPACE_GVA);
		h = call(breq, len, breq, AHV_REPORT_MAX_SIZE);
		verdict("hc.report-over-request", report_ok(h, breq, 1) && digest_is(breq, 0, data_buf, 64));
	}
	/* Buffers at odd addresses: any alignment is allowed. */
	if (!start("hc.misaligned-buffers")) {
		len = req1(breq + 4096 + 1, da() + 3, 61, AHV_SPACE_GVA);
		h = call(breq + 4096 + 1, len, brep + 4096 + 7, AHV_REPORT_MAX_SIZE);
		verdict("hc.misaligned-buffers", report_ok(h, brep + 4096 + 7, 1) && digest_is(brep + 4096 + 7, 0, data_buf + 3, 61));
	}
	/* A report buffer of exactly the report's size, and one byte less. */
	if (!start("hc.report-capacity-exact")) {
		len = req1(breq, da(), 16, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_SIZE(1));
		verdict("hc.report-capacity-exact", report_ok(h, brep, 1));
	}
	if (!start("hc.report-capacity-one-short")) {
		len = req1(breq, da(), 16, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_SIZE(1) - 1);
		int ok = regs_are(h, AHV_E_BUFFER_TOO_SMALL, AHV_OBJ_OUTPUT_BUFFER, 0) && h.rbx == AHV_REPORT_SIZE(1);
		verdict("hc.report-capacity-one-short", ok);
	}
	/* A zero-size region anywhere, even non-canonical: the empty message
	 * (§4.3: rules 2-7 vacuous). */
	if (!start("hc.zero-size-noncanonical")) {
		len = req1(breq, 0x8000000000000000ull, 0, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.zero-size-noncanonical", report_ok(h, brep, 1) && digest_is(brep, 0, "", 0));
	}
	/* Ending exactly at 2^64 is no wrap (the top page is not mapped under
	 * UEFI: NOT_PRESENT); one byte more wraps. */
	if (!start("hc.region-ends-at-2^64")) {
		len = req1(breq, 0xfffffffffffffff0ull, 16, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-ends-at-2^64", regs_are(h, AHV_E_NOT_PRESENT, 0, 0xfffffffffffffff0ull));
	}
	if (!start("hc.region-wraps-by-one")) {
		len = req1(breq, 0xfffffffffffffff0ull, 17, AHV_SPACE_GVA);
		h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		verdict("hc.region-wraps-by-one", regs_are(h, AHV_E_RANGE_WRAP, 0, 0xfffffffffffffff0ull));
	}
	/* GET_INFO with exactly its size, and one byte less. */
	if (!start("hc.info-capacity-exact")) {
		h = (struct hc){AHV_HC_GET_INFO, (uint64_t)(uintptr_t)brep, AHV_HV_INFO_SIZE, 0, 0};
		hypercall(&h);
		verdict("hc.info-capacity-exact", regs_are(h, AHV_OK, AHV_OBJ_NONE, 0) && h.rbx == AHV_HV_INFO_SIZE);
	}
	if (!start("hc.info-capacity-one-short")) {
		h = (struct hc){AHV_HC_GET_INFO, (uint64_t)(uintptr_t)brep, AHV_HV_INFO_SIZE - 1, 0, 0};
		hypercall(&h);
		int ok = regs_are(h, AHV_E_BUFFER_TOO_SMALL, AHV_OBJ_OUTPUT_BUFFER, 0) && h.rbx == AHV_HV_INFO_SIZE;
		verdict("hc.info-capacity-one-short", ok);
	}
}

/* ---- the region list rewritten by the other CPU during the call ---------------- */
/* The AP flips region 0's size between the signed 64 and 128 while this
 * CPU submits: the hypervisor copies the request once (step 5), so each
 * call verifies what it copied - OK for the signed size (the report says
 * 64, its digest that of 64 bytes) or BAD_SIGNATURE - never a report of
 * a size nobody signed. BUSY is allowed (§3.4). */
static volatile uint32_t flip_run, flip_done;
static volatile uint64_t flips;

static void __attribute__((ms_abi)) flip_ap(void *arg)
{
	volatile uint64_t *size = arg;
	while (flip_run) {
		*size = 128;
		*size = 64;
		flips++;
	}
	flip_done = 1;
}

#define RACE_CALLS 40
static void race_case(void)
{
	if (start("hc.region-list-race"))
		return;
	size_t len = req1(breq, da(), 64, AHV_SPACE_GVA);
	flip_run = 1, flip_done = 0, flips = 0;
	EFI_EVENT ev = ap_start(flip_ap, (void *)&guest_req_region(breq, 0)->size);
	if (!ev && (!mp || n_cpus < 2)) {
		not_applicable("hc.region-list-race", "one CPU (smp needs --smp 2)");
		return;
	} else if (!ev) {
		DET(L"MP services did not start the AP");
		verdict("hc.region-list-race", 0);
		return;
	}
	for (unsigned i = 0; i < 100000000 && !flips; i++)
		__asm__ volatile("pause");
	unsigned good = 0, forged = 0, busy = 0, other = 0;
	for (unsigned i = 0; i < RACE_CALLS; i++) {
		struct hc h = call(breq, len, brep, AHV_REPORT_MAX_SIZE);
		if (h.rax == AHV_OK && report_ok(h, brep, 1) && result(brep, 0)->size == 64 &&
		    digest_is(brep, 0, data_buf, 64))
			good++;
		else if (h.rax == AHV_E_BAD_SIGNATURE && h.rdx == AHV_OBJ_REQUEST_FIELD)
			forged++;
		else if (h.rax == AHV_E_BUSY)
			busy++;
		else
			other++;
	}
	uint64_t n = flips;
	flip_run = 0;
	for (unsigned i = 0; i < 50000000 && !flip_done; i++)
		__asm__ volatile("pause");
	ap_end(ev);
	DET(L"%u calls: %u OK with the signed size, %u BAD_SIGNATURE, %u BUSY, %u other; %lu rewrites", RACE_CALLS, good,
	    forged, busy, other, n);
	verdict("hc.region-list-race", !other && good >= 1 && n > 0 && flip_done);
}

void cases_hypercalls(void)
{
	if (!hv_page_known || build_spaces()) {
		not_applicable("hc.*-spaces", "no hypervisor page found by the hvmem sweep, or no memory for tables");
	} else {
		__asm__ volatile("cli");
		cases_spaces();
		__asm__ volatile("sti");
	}
	cases_fields();
	cases_buffers();
	race_case();
}
