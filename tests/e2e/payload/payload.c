/*
 * payload.c - the UEFI guest payload of the e2e-svm and e2e-vmx tests (one
 * payload for both back ends: VMCALL on Intel, VMMCALL on AMD, chosen by the
 * CPUID vendor as protocol.md §3 tells guests to): runs as the
 * hypervisor's guest (the loader's next stage) and exercises the protocol
 * from inside: discovery, GET_INFO, a good attestation (its report printed
 * in hex for the host checker), and hostile calls, each of which must return
 * its documented status (docs/protocol.md §5) with the guest still running.
 *
 * Serial markers (COM1, the firmware console):
 *   AHV-E2E: case <name> ok|FAIL status=0x.. want=0x..
 *   AHV-E2E-REPORT <hex>      (the good report, 64 bytes a line)
 *   AHV-E2E-NONCE <hex>, AHV-E2E-DIGEST0 <hex>
 *   AHV-E2E: <n> CPUs, <m> under the hypervisor (GET_INFO vcpu_count) and
 *   AHV-E2E: cpu <apic id>: AttestHVisor, attestation 0x.. (every AP,
 *   when the machine has more than one CPU: docs/smp.md)
 *   AHV-E2E: PASS <n> checks  |  AHV-E2E: FAIL <n> of <m> checks
 * Then it powers the machine off.
 *
 * The guest private key comes from \attest-hv\test\guest.hex on the ESP (a
 * throwaway test key made by the test script; its public key is enrolled in
 * the hypervisor's configuration).
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "attest/wire.h"
#include "guest_call.h"
#include "guest_req.h"
#include "mp_services.h"

static uint8_t crypto_pool[192 * 1024] __attribute__((aligned(16)));
static int checks, fails;
static ahv_drbg rng;
static ahv_ec_key gkey;
static uint8_t gkey_id[32];
static ahv_ec_pub hv_pub;

/* Measured data: 3 pages + some, filled with a pattern. */
static uint8_t data_buf[4 * 4096] __attribute__((aligned(4096)));
static uint8_t req_buf[AHV_REQUEST_MAX_SIZE + 4096] __attribute__((aligned(4096)));
static uint8_t rep_buf[AHV_REPORT_MAX_SIZE + 4096] __attribute__((aligned(4096)));
static uint8_t info_buf[4096] __attribute__((aligned(4096)));

void ahv_crypto_fatal(int status)
{
	Print(L"AHV-E2E: FAIL crypto heap corruption (%d)\r\n", status);
	RT->ResetSystem(EfiResetShutdown, EFI_ABORTED, 0, NULL);
	for (;;)
		__asm__ volatile("hlt");
}

static int intel; /* GenuineIntel: VT-x back end, VMCALL */
static uint32_t want_backend;

static void vmmcall(struct hc *h)
{
	guest_hypercall(h, intel);
}

static void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static void check(int ok, const char *what, uint64_t got, uint64_t want)
{
	checks++;
	if (!ok)
		fails++;
	Print(L"AHV-E2E: case %a %a status=0x%lx want=0x%lx\r\n", what, ok ? "ok" : "FAIL", got, want);
}


/* ---- requests -------------------------------------------------------------- */
static const uint8_t nonce[32] = {0x4e, 0x4f, 0x4e, 0x43, 0x45, 0x2d, 0x65, 0x32, 0x65, 0x2d,
				  0x73, 0x76, 0x6d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				  14, 15, 16, 17, 18, 19};

static struct ahv_region *region(uint8_t *r, unsigned i) { return guest_req_region(r, i); }

/* A well-formed request of n regions (all zero-size GVA regions). */
static size_t init_req(uint8_t *r, unsigned n) { return guest_req_init(r, n, nonce, gkey_id); }

static void sign_req(uint8_t *r, unsigned n) { guest_req_sign(r, n, &gkey, &rng); }

static struct hc attest_call(const void *req, uint64_t len, void *rep, uint64_t cap)
{
	struct hc h = {AHV_HC_ATTEST_GUEST_MEMORY, (uint64_t)(uintptr_t)req, len, (uint64_t)(uintptr_t)rep, cap};
	vmmcall(&h);
	return h;
}

static int untouched(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0x5a)
			return 0;
	return 1;
}

/* One hostile call: expect `want` in RAX (and, when want_obj != ~0, RDX), the
 * report buffer untouched. */
static void expect(const char *name, struct hc h, uint64_t want, uint64_t want_obj)
{
	int ok = h.rax == want && (want_obj == ~0ull || h.rdx == want_obj);
	if (!ok)
		Print(L"AHV-E2E: %a: rax=%lx rbx=%lx rcx=%lx rdx=%lx\r\n", name, h.rax, h.rbx, h.rcx, h.rdx);
	check(ok, name, h.rax, want);
}

#define REP_CAP (AHV_REPORT_MAX_SIZE)
static void hostile_req(const char *name, unsigned n, uint64_t len, int sign, uint64_t want, uint64_t obj)
{
	memset(rep_buf, 0x5a, REP_CAP);
	if (sign)
		sign_req(req_buf, n);
	struct hc h = attest_call(req_buf, len, rep_buf, REP_CAP);
	int ok = h.rax == want && (obj == ~0ull || h.rdx == obj) && untouched(rep_buf, REP_CAP);
	if (!ok)
		Print(L"AHV-E2E: %a: rax=%lx rbx=%lx rcx=%lx rdx=%lx untouched=%d\r\n", name, h.rax, h.rbx,
		      h.rcx, h.rdx, untouched(rep_buf, REP_CAP));
	check(ok, name, h.rax, want);
}

/* ---- our own page tables for unmapped / read-only / reserved-bit pages ---- */
#define HOSTILE_VA 0x0000640000000000ull /* PML4 slot 200: unused by OVMF */
static uint64_t *my_pml4, saved_cr3;
enum { PG_NOTPRESENT, PG_READONLY, PG_RSVD, PG_HVMEM, PG_OK, PG_COUNT };

static uint64_t *page(void)
{
	EFI_PHYSICAL_ADDRESS a = 0;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 1, &a)))
		return NULL;
	memset((void *)(uintptr_t)a, 0, 4096);
	return (uint64_t *)(uintptr_t)a;
}

static int build_tables(uint64_t hv_frame, uint64_t ro_frame, unsigned phys_bits)
{
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	saved_cr3 = cr3;
	uint64_t *pml4 = page(), *pdpt = page(), *pd = page(), *pt = page();
	if (!pml4 || !pdpt || !pd || !pt)
		return -1;
	memcpy(pml4, (void *)(uintptr_t)(cr3 & 0x000ffffffffff000ull), 4096);
	pml4[200] = (uint64_t)(uintptr_t)pdpt | 7;
	pdpt[0] = (uint64_t)(uintptr_t)pd | 7;
	pd[0] = (uint64_t)(uintptr_t)pt | 7;
	pt[PG_NOTPRESENT] = ro_frame | 6;               /* P = 0 */
	pt[PG_READONLY] = ro_frame | 5;                 /* P, U, R/W = 0 */
	pt[PG_RSVD] = ro_frame | 7 | (1ull << 51);      /* bit 51 reserved (MAXPHYADDR < 52) */
	if (phys_bits >= 52)
		pt[PG_RSVD] = ro_frame | 7 | (1ull << 7);   /* PAT bit... not reserved: fall back */
	pt[PG_HVMEM] = hv_frame | 7;                    /* hypervisor frame */
	pt[PG_OK] = ro_frame | 7;
	my_pml4 = pml4;
	return 0;
}

static void use_my_tables(int on)
{
	uint64_t v = on ? ((uint64_t)(uintptr_t)my_pml4 | (saved_cr3 & 0xfff)) : saved_cr3;
	__asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}

static uint64_t hva(unsigned pg) { return HOSTILE_VA + pg * 4096ull; }

/* ---- the good attestation --------------------------------------------------- */
static int good_attestation(int print)
{
	unsigned n = 3;
	size_t len = init_req(req_buf, n);
	region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf + 100;
	region(req_buf, 0)->size = 3 * 4096; /* crosses 4 pages */
	region(req_buf, 1)->address = (uint64_t)(uintptr_t)data_buf; /* UEFI: GVA == GPA */
	region(req_buf, 1)->size = 64;
	region(req_buf, 1)->space = AHV_SPACE_GPA;
	region(req_buf, 2)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 2)->size = 0;
	/* claim for region 1 */
	ahv_hash(AHV_HASH_SHA256, data_buf, 64, region(req_buf, 1)->claimed_digest);
	region(req_buf, 1)->flags = AHV_REGION_F_CLAIMED;
	sign_req(req_buf, n);
	memset(rep_buf, 0, AHV_REPORT_SIZE(n));
	struct hc h = attest_call(req_buf, len, rep_buf, REP_CAP);
	int ok = h.rax == AHV_OK && h.rbx == AHV_REPORT_SIZE(n);
	struct ahv_report_hdr *r = (void *)rep_buf;
	uint8_t d0[32], d1[32], dg[32];
	ahv_hash(AHV_HASH_SHA256, data_buf + 100, 3 * 4096, d0);
	ahv_hash(AHV_HASH_SHA256, data_buf, 64, d1);
	struct ahv_region_result *rr = (void *)(rep_buf + AHV_REPORT_RESULT_OFFSET(0));
	ok = ok && r->magic == AHV_REPORT_MAGIC && r->region_count == n && r->total_size == AHV_REPORT_SIZE(n) &&
	     !memcmp(r->nonce, nonce, sizeof(nonce)) && !memcmp(rr[0].digest, d0, 32) &&
	     !memcmp(rr[1].digest, d1, 32) && (rr[1].flags & AHV_RESULT_F_MATCH) &&
	     r->backend == want_backend && r->caller_cpl == 0;
	ahv_hash(AHV_HASH_SHA256, rep_buf, AHV_REPORT_SIGNED_SIZE(n), dg);
	int sig_ok = ahv_ecdsa_verify_raw(&hv_pub, dg, 32, rep_buf + AHV_REPORT_SIG_OFFSET(n), 64) == 0;
	if (print) {
		Print(L"AHV-E2E: good attestation: status 0x%lx, %lu bytes, counter %lu, sig %a\r\n", h.rax,
		      h.rbx, h.rax == AHV_OK ? r->counter : 0, sig_ok ? "verifies" : "BAD");
		if (h.rax == AHV_OK) {
			print_hex("AHV-E2E-REPORT", rep_buf, AHV_REPORT_SIZE(n));
			print_hex("AHV-E2E-NONCE", nonce, sizeof(nonce));
			print_hex("AHV-E2E-DIGEST0", d0, 32);
		}
	}
	check(ok && sig_ok, print ? "good-attestation" : "good-attestation-again", h.rax, AHV_OK);
	return ok && sig_ok;
}

/* ---- every CPU (docs/smp.md) ------------------------------------------------ */
/* With more than one CPU, each application processor - run by the
 * firmware's MP services, all at once - must see the hypervisor's CPUID
 * signature and get a good report for one signed request: the hypervisor
 * runs under every CPU and serves hypercalls from each, while the others
 * (the boot CPU waiting in MP services included) are stopped for it. */
#define AP_MAX 16
struct ap_result {
	uint32_t apic_id, sig_ok;
	uint64_t status, bytes;
};
static struct ap_result ap_res[AP_MAX];
static uint8_t ap_rep[AP_MAX][AHV_REPORT_SIZE(1)] __attribute__((aligned(64)));
static uint32_t ap_slot;
static size_t ap_req_len;

static void __attribute__((ms_abi)) ap_proc(void *arg)
{
	(void)arg;
	uint32_t i = __atomic_fetch_add(&ap_slot, 1, __ATOMIC_SEQ_CST), r[4];
	if (i >= AP_MAX)
		return;
	cpuid(1, r);
	ap_res[i].apic_id = r[1] >> 24;
	cpuid(AHV_CPUID_LEAF_SIGNATURE, r);
	ap_res[i].sig_ok = r[1] == AHV_CPUID_SIG_EBX && r[2] == AHV_CPUID_SIG_ECX && r[3] == AHV_CPUID_SIG_EDX;
	struct hc h = attest_call(req_buf, ap_req_len, ap_rep[i], sizeof(ap_rep[i]));
	ap_res[i].status = h.rax;
	ap_res[i].bytes = h.rbx;
}

static void every_cpu(void)
{
	UINTN cpus;
	ahv_mp_services *mp = ahv_mp_locate(&cpus);
	if (!mp || cpus < 2)
		return;
	/* What the hypervisor says: every CPU the firmware has is under it. */
	struct hc h = {AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, sizeof(info_buf), 0, 0};
	vmmcall(&h);
	uint32_t under = ((struct ahv_hv_info *)info_buf)->vcpu_count;
	Print(L"AHV-E2E: %lu CPUs, %u under the hypervisor (GET_INFO vcpu_count)\r\n", (uint64_t)cpus, under);
	check(h.rax == AHV_OK && under == cpus, "cpus-under-hypervisor", under, cpus);
	/* The firmware wakes its HLT-looping APs with INIT-SIPI: under
	 * smp = on the hypervisor emulates both (docs/smp.md). */
	ap_req_len = init_req(req_buf, 1);
	region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 0)->size = sizeof(data_buf);
	sign_req(req_buf, 1);
	EFI_STATUS st = uefi_call_wrapper(mp->StartupAllAPs, 7, mp, ap_proc, FALSE, NULL, (UINTN)60000000, NULL, NULL);
	uint8_t want[32];
	ahv_hash(AHV_HASH_SHA256, data_buf, sizeof(data_buf), want);
	uint32_t n = ap_slot < AP_MAX ? ap_slot : AP_MAX, good = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct ahv_region_result *rr = (const void *)(ap_rep[i] + AHV_REPORT_RESULT_OFFSET(0));
		int ok = ap_res[i].sig_ok && ap_res[i].status == AHV_OK && ap_res[i].bytes == AHV_REPORT_SIZE(1) &&
			 !memcmp(rr->digest, want, 32);
		Print(L"AHV-E2E: cpu %u: %a, attestation 0x%lx %a\r\n", ap_res[i].apic_id,
		      ap_res[i].sig_ok ? "AttestHVisor" : "NO SIGNATURE", ap_res[i].status, ok ? "ok" : "BAD");
		good += ok;
	}
	Print(L"AHV-E2E: %u of %lu application processors under the hypervisor and served (MP services status %lx)\r\n",
	      good, (uint64_t)(cpus - 1), (uint64_t)st);
	check(!EFI_ERROR(st) && n == cpus - 1 && good == n, "every-cpu", good, cpus - 1);
}

/* A page of hypervisor memory, found as any guest could: the hypervisor
 * lives in runtime-services memory (docs/pitfalls.md 6), and a signed GPA
 * attestation of its first bytes is refused with AHV_E_HV_MEMORY (or the
 * nested fault) where it is the hypervisor's. The loader publishes nothing. */
static uint64_t find_hv_frame(void)
{
	UINTN n = 0, key, dsz;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &dsz, &dver);
	uint64_t found = 0;
	for (UINTN i = 0; map && i < n && !found; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((uint8_t *)map + i * dsz);
		if ((d->Type != EfiRuntimeServicesCode && d->Type != EfiRuntimeServicesData) || d->NumberOfPages < 16)
			continue;
		size_t len = init_req(req_buf, 1);
		region(req_buf, 0)->address = d->PhysicalStart;
		region(req_buf, 0)->size = 64;
		region(req_buf, 0)->space = AHV_SPACE_GPA;
		sign_req(req_buf, 1);
		struct hc h = attest_call(req_buf, len, rep_buf, REP_CAP);
		if (h.rax == AHV_E_HV_MEMORY || h.rax == AHV_E_NESTED_FAULT)
			found = d->PhysicalStart;
	}
	if (map)
		FreePool(map);
	return found;
}

/* "triple-fault" in the load options: make the guest triple-fault (an empty
 * IDT, then #BP -> #GP -> #DF -> shutdown); the hypervisor must log it with
 * the guest state and halt cleanly. */
static void maybe_triple_fault(EFI_HANDLE image)
{
	EFI_LOADED_IMAGE *li;
	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)) ||
	    !li->LoadOptions)
		return;
	CHAR16 *o = li->LoadOptions;
	UINTN n = li->LoadOptionsSize / 2;
	static const CHAR16 key[] = L"triple-fault";
	for (UINTN i = 0; i + 12 <= n; i++)
		if (!CompareMem(o + i, key, 24)) {
			struct __attribute__((packed)) { uint16_t lim; uint64_t base; } idt = {0, 0};
			Print(L"AHV-E2E: triple-faulting on purpose\r\n");
			__asm__ volatile("cli; lidt %0; int3" ::"m"(idt));
		}
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	uint32_t r[4];
	InitializeLib(image, st);
	Print(L"AHV-E2E: payload start\r\n");
	maybe_triple_fault(image);
	for (size_t i = 0; i < sizeof(data_buf); i++)
		data_buf[i] = (uint8_t)(i * 7 + (i >> 8));
	if (ahv_crypto_init(crypto_pool, sizeof(crypto_pool)) ||
	    (ahv_drbg_init(&rng, AHV_DRBG_HW, NULL, NULL, "e2e", 3) &&
	     ahv_drbg_init(&rng, 0, guest_tsc_entropy, NULL, "e2e", 3))) {
		Print(L"AHV-E2E: FAIL crypto/DRBG init\r\n");
		goto out;
	}

	/* 1. discovery (protocol.md §2) */
	cpuid(0, r);
	intel = r[1] == 0x756e6547 && r[3] == 0x49656e69 && r[2] == 0x6c65746e; /* "GenuineIntel" */
	want_backend = intel ? AHV_BACKEND_VMX : AHV_BACKEND_SVM;
	cpuid(1, r);
	int vmx_bit = (r[2] >> 5) & 1;
	int present = (r[2] >> 31) & 1;
	cpuid(AHV_CPUID_LEAF_SIGNATURE, r);
	int sig_ok = r[0] >= AHV_CPUID_MAX_LEAF && r[1] == AHV_CPUID_SIG_EBX && r[2] == AHV_CPUID_SIG_ECX &&
		     r[3] == AHV_CPUID_SIG_EDX;
	cpuid(AHV_CPUID_LEAF_FEATURES, r);
	uint32_t features = r[1];
	Print(L"AHV-E2E: discovery: hypervisor bit %d, signature %a, wire %x, features %x, hv %x, backend %u\r\n",
	      present, sig_ok ? "AttestHVisor" : "MISSING", r[0], r[1], r[2], r[3]);
	check(present && sig_ok && r[0] == AHV_CPUID_WIRE_VERSION && r[3] == want_backend, "discovery", r[3],
	      want_backend);
	if (intel) {
		check(!vmx_bit, "vmx-hidden", vmx_bit, 0);
	} else {
		cpuid(0x80000001u, r);
		check(!((r[2] >> 2) & 1), "svm-hidden", (r[2] >> 2) & 1, 0);
	}
	if (!sig_ok || !(features & AHV_FEAT_ATTEST)) {
		Print(L"AHV-E2E: FAIL no attest-hv or no attestation feature\r\n");
		goto out;
	}

	/* 2. GET_INFO */
	struct hc h = {AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, sizeof(info_buf), 0, 0};
	vmmcall(&h);
	struct ahv_hv_info *info = (void *)info_buf;
	check(h.rax == AHV_OK && h.rbx == AHV_HV_INFO_SIZE && info->magic == AHV_INFO_MAGIC &&
		      info->backend == want_backend && info->guest_key_count >= 1,
	      "get-info", h.rax, AHV_OK);
	if (h.rax != AHV_OK || ahv_spki_read_der(info->hv_spki, info->spki_len, &hv_pub)) {
		Print(L"AHV-E2E: FAIL GET_INFO gave no usable key\r\n");
		goto out;
	}
	print_hex("AHV-E2E-INFO-SPKI", info->hv_spki, info->spki_len);
	if (guest_key_load(image, &rng, &gkey, gkey_id)) {
		Print(L"AHV-E2E: FAIL cannot load the test guest key \\attest-hv\\test\\guest.hex\r\n");
		goto out;
	}

	/* 3. the good attestation */
	good_attestation(1);

	/* 4. hostile calls */
	uint64_t hv_frame = find_hv_frame();
	cpuid(0x80000008u, r);
	unsigned phys_bits = r[0] & 0xff;
	if (!hv_frame || build_tables(hv_frame, (uint64_t)(uintptr_t)data_buf, phys_bits)) {
		Print(L"AHV-E2E: FAIL cannot find hypervisor memory / build test page tables\r\n");
		goto out;
	}
	__asm__ volatile("cli");
	use_my_tables(1);

	h = (struct hc){0x41480099, 0, 0, 0, 0};
	vmmcall(&h);
	expect("unknown-function", h, AHV_E_BAD_FUNCTION, AHV_OBJ_NONE);
	h = (struct hc){0x100000000ull | AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, 4096, 0, 0};
	vmmcall(&h);
	expect("function-high-bits", h, AHV_E_BAD_FUNCTION, AHV_OBJ_NONE);
	h = (struct hc){AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, 100, 0, 0};
	vmmcall(&h);
	expect("info-capacity-small", h, AHV_E_BUFFER_TOO_SMALL, ~0ull);
	check(h.rbx == AHV_HV_INFO_SIZE, "info-capacity-rbx", h.rbx, AHV_HV_INFO_SIZE);
	h = (struct hc){AHV_HC_GET_INFO, 0x8000000000000000ull, 4096, 0, 0};
	vmmcall(&h);
	expect("info-noncanonical", h, AHV_E_NONCANONICAL, AHV_OBJ_OUTPUT_BUFFER);
	h = (struct hc){AHV_HC_GET_INFO, hva(PG_READONLY), 4096, 0, 0};
	vmmcall(&h);
	expect("info-readonly", h, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER);
	h = (struct hc){AHV_HC_GET_INFO, hva(PG_HVMEM), 4096, 0, 0};
	vmmcall(&h);
	expect("info-into-hv-memory", h, AHV_E_NESTED_FAULT, AHV_OBJ_OUTPUT_BUFFER);

	size_t len = init_req(req_buf, 1);
	hostile_req("request-too-short", 1, 100, 1, AHV_E_REQUEST_SIZE, ~0ull);
	hostile_req("request-too-long", 1, AHV_REQUEST_MAX_SIZE + 1, 1, AHV_E_REQUEST_SIZE, ~0ull);
	hostile_req("request-len-vs-total", 1, len + 96, 1, AHV_E_REQUEST_SIZE, ~0ull);
	memset(rep_buf, 0x5a, REP_CAP);
	h = attest_call((void *)0xffffffffffffff00ull, len, rep_buf, REP_CAP);
	expect("request-wraps", h, AHV_E_RANGE_WRAP, AHV_OBJ_REQUEST_BUFFER);
	h = attest_call((void *)(uintptr_t)hva(PG_NOTPRESENT), len, rep_buf, REP_CAP);
	expect("request-unmapped", h, AHV_E_NOT_PRESENT, AHV_OBJ_REQUEST_BUFFER);
	h = attest_call((void *)(uintptr_t)hva(PG_RSVD), len, rep_buf, REP_CAP);
	expect("request-reserved-bit-pte", h, AHV_E_GUEST_RSVD, AHV_OBJ_REQUEST_BUFFER);
	h = attest_call((void *)(uintptr_t)hva(PG_HVMEM), len, rep_buf, REP_CAP);
	expect("request-in-hv-memory", h, AHV_E_NESTED_FAULT, AHV_OBJ_REQUEST_BUFFER);

	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->magic = 0x51564842;
	hostile_req("bad-magic", 1, len, 1, AHV_E_BAD_MAGIC, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->version_major = 2;
	hostile_req("unknown-major-version", 1, len, 1, AHV_E_BAD_VERSION, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->version_minor = 7;
	hostile_req("newer-minor-version", 1, len, 1, AHV_E_BAD_VERSION, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->hash_alg = 9;
	hostile_req("unknown-hash-alg", 1, len, 1, AHV_E_BAD_HASH_ALG, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->sig_alg = 7;
	hostile_req("unknown-sig-alg", 1, len, 1, AHV_E_BAD_SIG_ALG, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->nonce_len = 4;
	hostile_req("nonce-too-short", 1, len, 1, AHV_E_BAD_NONCE_LEN, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->region_count = 0;
	hostile_req("zero-regions", 1, len, 1, AHV_E_BAD_REGION_COUNT, AHV_OBJ_REQUEST_FIELD);
	size_t maxlen = init_req(req_buf, AHV_MAX_REGIONS);
	((struct ahv_request_hdr *)req_buf)->region_count = AHV_MAX_REGIONS + 1;
	hostile_req("too-many-regions", AHV_MAX_REGIONS, maxlen, 0, AHV_E_BAD_REGION_COUNT, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->reserved = 1;
	hostile_req("reserved-field", 1, len, 1, AHV_E_RESERVED, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	region(req_buf, 0)->space = 3;
	hostile_req("bad-address-space", 1, len, 1, AHV_E_BAD_SPACE, AHV_OBJ_REQUEST_FIELD);

	init_req(req_buf, 1);
	sign_req(req_buf, 1);
	memset(rep_buf, 0x5a, REP_CAP);
	h = attest_call(req_buf, len, rep_buf, 100);
	expect("report-capacity-small", h, AHV_E_BUFFER_TOO_SMALL, ~0ull);
	check(h.rbx == AHV_REPORT_SIZE(1) && untouched(rep_buf, REP_CAP), "report-capacity-rbx", h.rbx,
	      AHV_REPORT_SIZE(1));

	init_req(req_buf, 1);
	memset(req_buf + AHV_REQUEST_TAIL_OFFSET(1), 0xee, 32);
	hostile_req("unknown-guest-key", 1, len, 1, AHV_E_UNKNOWN_KEY, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	((struct ahv_request_hdr *)req_buf)->sig_alg = AHV_SIG_ECDSA_P384_SHA384;
	hostile_req("key-curve-mismatch", 1, len, 1, AHV_E_KEY_MISMATCH, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 0)->size = 16;
	sign_req(req_buf, 1);
	req_buf[AHV_REQUEST_SIG_OFFSET(1) + 5] ^= 0x40; /* forged: one bit off */
	hostile_req("forged-signature", 1, len, 0, AHV_E_BAD_SIGNATURE, AHV_OBJ_REQUEST_FIELD);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 0)->size = 16;
	sign_req(req_buf, 1);
	region(req_buf, 0)->size = 4096; /* changed after signing */
	hostile_req("tampered-after-signing", 1, len, 0, AHV_E_BAD_SIGNATURE, AHV_OBJ_REQUEST_FIELD);

	init_req(req_buf, 1);
	region(req_buf, 0)->address = 0xfffffffffffff000ull;
	region(req_buf, 0)->size = 0x2000;
	hostile_req("region-wraps", 1, len, 1, AHV_E_RANGE_WRAP, 0);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = 0x00007ffffffff000ull;
	region(req_buf, 0)->size = 0x2000;
	hostile_req("region-noncanonical", 1, len, 1, AHV_E_NONCANONICAL, 0);
	len = init_req(req_buf, 2);
	region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 0)->size = AHV_MAX_TOTAL_BYTES;
	region(req_buf, 1)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 1)->size = 1;
	hostile_req("too-many-bytes", 2, len, 1, AHV_E_TOO_MANY_BYTES, 1);
	len = init_req(req_buf, 1);
	region(req_buf, 0)->address = hva(PG_NOTPRESENT) + 8;
	region(req_buf, 0)->size = 8;
	hostile_req("region-unmapped", 1, len, 1, AHV_E_NOT_PRESENT, 0);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = hva(PG_RSVD);
	region(req_buf, 0)->size = 8;
	hostile_req("region-reserved-bit-pte", 1, len, 1, AHV_E_GUEST_RSVD, 0);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = hva(PG_OK) + 4000; /* OK page, then slot 5: not present */
	region(req_buf, 0)->size = 200;
	hostile_req("region-crosses-into-unmapped", 1, len, 1, AHV_E_NOT_PRESENT, 0);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = 0xFEE00000ull; /* local APIC MMIO */
	region(req_buf, 0)->size = 16;
	region(req_buf, 0)->space = AHV_SPACE_GPA;
	hostile_req("region-mmio-lapic", 1, len, 1, AHV_E_NOT_RAM, 0);
	init_req(req_buf, 1);
	/* No RAM there, but inside the nested identity map on every back end:
	 * 2 MiB below 512 GiB or below the CPU's physical address width. */
	region(req_buf, 0)->address = (phys_bits < 39 ? 1ull << phys_bits : 0x8000000000ull) - 0x200000;
	region(req_buf, 0)->size = 16;
	region(req_buf, 0)->space = AHV_SPACE_GPA;
	hostile_req("region-beyond-ram", 1, len, 1, AHV_E_NOT_RAM, 0);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = hv_frame;
	region(req_buf, 0)->size = 64;
	region(req_buf, 0)->space = AHV_SPACE_GPA;
	memset(rep_buf, 0x5a, REP_CAP);
	sign_req(req_buf, 1);
	h = attest_call(req_buf, len, rep_buf, REP_CAP);
	expect("region-hv-memory-gpa", h,
	       h.rax == AHV_E_HV_MEMORY ? AHV_E_HV_MEMORY : AHV_E_NESTED_FAULT, 0);
	init_req(req_buf, 1);
	region(req_buf, 0)->address = hva(PG_HVMEM);
	region(req_buf, 0)->size = 64;
	hostile_req("region-hv-memory-gva", 1, len, 1, AHV_E_NESTED_FAULT, 0);

	init_req(req_buf, 1);
	region(req_buf, 0)->address = (uint64_t)(uintptr_t)data_buf;
	region(req_buf, 0)->size = 64;
	sign_req(req_buf, 1);
	h = attest_call(req_buf, len, (void *)(uintptr_t)hva(PG_READONLY), REP_CAP);
	expect("report-readonly", h, AHV_E_NOT_WRITABLE, AHV_OBJ_OUTPUT_BUFFER);
	h = attest_call(req_buf, len, (void *)(uintptr_t)hva(PG_NOTPRESENT), REP_CAP);
	expect("report-unmapped", h, AHV_E_NOT_PRESENT, AHV_OBJ_OUTPUT_BUFFER);
	h = attest_call(req_buf, len, (void *)(uintptr_t)hva(PG_HVMEM), REP_CAP);
	expect("report-into-hv-memory", h, AHV_E_NESTED_FAULT, AHV_OBJ_OUTPUT_BUFFER);
	h = attest_call(req_buf, len, (void *)0xfffffffffffffe00ull, REP_CAP);
	expect("report-wraps", h, AHV_E_RANGE_WRAP, AHV_OBJ_OUTPUT_BUFFER);

	use_my_tables(0);
	__asm__ volatile("sti");

	/* 5. still alive, still serving */
	good_attestation(0);

	/* 6. every CPU, when there are several */
	every_cpu();

out:
	if (fails || !checks)
		Print(L"AHV-E2E: FAIL %d of %d checks\r\n", fails, checks);
	else
		Print(L"AHV-E2E: PASS %d checks\r\n", checks);
	uefi_call_wrapper(BS->Stall, 1, 200000);
	RT->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
