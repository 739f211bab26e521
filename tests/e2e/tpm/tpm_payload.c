/*
 * tests/e2e/tpm/tpm_payload.c - the guest of the e2e-tpm tests (a UEFI
 * application the loader starts as the hypervisor's guest).
 *
 *  1. discovery + GET_INFO: prints the hypervisor key (if any) and flags;
 *  2. one attestation of a 64-byte buffer, signed with the test guest key
 *     (\attest-hv\test\guest.hex): prints the status, and for AHV_OK the
 *     request and the report, checked against the GET_INFO key;
 *  3. the guest's own try at the sealed key: reads \attest-hv\tpm\hv-key.blob
 *     and runs the same unseal (PolicyPCR session + TPM2_Unseal) through
 *     EFI_TCG2_PROTOCOL; it must fail with AHV_TPM_EPOLICY (PCR 8 locked).
 * Markers (COM1): "AHV-TPM-E2E: ..." lines,
 *   AHV-TPM-E2E: info flags=<hex> features=<hex> spki_len=<n>
 *   AHV-TPM-E2E: attest status=<hex> (<name>)
 *   AHV-TPM-E2E-REQUEST <hex> / AHV-TPM-E2E-REPORT <hex> (64 bytes a line)
 *   AHV-TPM-E2E: guest-unseal <status name>
 *   AHV-TPM-E2E: DONE        then the machine powers off.
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "ahv/tpm_seal.h"
#include "attest/wire.h"
#include "tcg2_efi.h"
#include "../payload/guest_call.h"

static uint8_t crypto_pool[192 * 1024] __attribute__((aligned(16)));
static ahv_drbg rng;
static ahv_ec_key gkey;
static uint8_t gkey_id[32];
static uint8_t data_buf[4096] __attribute__((aligned(4096)));
static uint8_t req_buf[AHV_REQUEST_MAX_SIZE + 4096] __attribute__((aligned(4096)));
static uint8_t rep_buf[AHV_REPORT_MAX_SIZE + 4096] __attribute__((aligned(4096)));
static uint8_t info_buf[4096] __attribute__((aligned(4096)));
static struct ahv_tpm tpm;
static const uint8_t nonce[32] = "attest-hv e2e-tpm nonce 0123456";

void ahv_crypto_fatal(int status)
{
	Print(L"AHV-TPM-E2E: crypto heap corruption (%d)\r\n", status);
	RT->ResetSystem(EfiResetShutdown, EFI_ABORTED, 0, NULL);
	for (;;)
		__asm__ volatile("hlt");
}

/* e2e-tpm runs under QEMU with AMD SVM: VMMCALL. */
static void vmmcall(struct hc *h)
{
	guest_hypercall(h, 0);
}


static EFI_STATUS read_esp(EFI_HANDLE image, CHAR16 *path, void *buf, UINTN *n)
{
	EFI_LOADED_IMAGE *li;
	EFI_FILE_HANDLE root, fh;
	EFI_STATUS st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st))
		return st;
	root = LibOpenRoot(li->DeviceHandle);
	if (!root)
		return EFI_NOT_FOUND;
	st = uefi_call_wrapper(root->Open, 5, root, &fh, path, EFI_FILE_MODE_READ, 0);
	uefi_call_wrapper(root->Close, 1, root);
	if (EFI_ERROR(st))
		return st;
	st = uefi_call_wrapper(fh->Read, 3, fh, n, buf);
	uefi_call_wrapper(fh->Close, 1, fh);
	return st;
}

static int load_key(EFI_HANDLE image)
{
	char hex[200] = {0};
	uint8_t d[32];
	UINTN n = sizeof(hex) - 1;
	if (EFI_ERROR(read_esp(image, L"\\attest-hv\\test\\guest.hex", hex, &n)) || n < 64)
		return -1;
	if (ahv_hex_decode(hex, 64, d, 32) != 32)
		return -1;
	if (ahv_ec_key_from_private(AHV_CURVE_P256, d, 32, &rng, &gkey))
		return -1;
	return ahv_spki_key_id(&gkey.pub, gkey_id);
}

static const char *status_name(uint64_t st)
{
	switch (st) {
	case AHV_OK: return "OK";
	case AHV_E_NO_KEY: return "NO_KEY";
	default: return "other";
	}
}

static void attest_once(void)
{
	unsigned n = 1;
	size_t len = AHV_REQUEST_SIZE(n);
	struct ahv_request_hdr *q = (void *)req_buf;
	struct ahv_region *r = (void *)(req_buf + AHV_REQUEST_REGION_OFFSET(0));
	uint8_t dg[32];
	size_t sl;
	memset(req_buf, 0, len);
	q->magic = AHV_REQUEST_MAGIC;
	q->version_major = AHV_WIRE_VERSION_MAJOR;
	q->version_minor = AHV_WIRE_VERSION_MINOR;
	q->total_size = (uint32_t)len;
	q->hash_alg = AHV_WIRE_HASH_SHA256;
	q->sig_alg = AHV_SIG_ECDSA_P256_SHA256;
	q->region_count = (uint16_t)n;
	q->nonce_len = sizeof(nonce);
	memcpy(q->nonce, nonce, sizeof(nonce));
	r->space = AHV_SPACE_GVA;
	r->address = (uint64_t)(uintptr_t)data_buf;
	r->size = 64;
	memcpy(req_buf + AHV_REQUEST_TAIL_OFFSET(n), gkey_id, 32);
	ahv_hash(AHV_HASH_SHA256, req_buf, AHV_REQUEST_SIGNED_SIZE(n), dg);
	ahv_ecdsa_sign_raw(&gkey, &rng, dg, 32, req_buf + AHV_REQUEST_SIG_OFFSET(n), AHV_SIG_FIELD_SIZE, &sl);
	memset(rep_buf, 0x5a, AHV_REPORT_MAX_SIZE);
	struct hc h = {AHV_HC_ATTEST_GUEST_MEMORY, (uint64_t)(uintptr_t)req_buf, len, (uint64_t)(uintptr_t)rep_buf,
		       AHV_REPORT_MAX_SIZE};
	vmmcall(&h);
	Print(L"AHV-TPM-E2E: attest status=0x%lx (%a)\r\n", h.rax, status_name(h.rax));
	if (h.rax == AHV_OK) {
		struct ahv_hv_info *info = (void *)info_buf;
		ahv_ec_pub pub;
		const struct ahv_report_hdr *rh = (const void *)rep_buf;
		ahv_hash(AHV_HASH_SHA256, rep_buf, AHV_REPORT_SIGNED_SIZE(n), dg);
		int ok = !ahv_spki_read_der(info->hv_spki, info->spki_len, &pub) &&
			 !ahv_ecdsa_verify_raw(&pub, dg, 32, rep_buf + AHV_REPORT_SIG_OFFSET(n), 64);
		Print(L"AHV-TPM-E2E: report flags=0x%x signature %a\r\n", rh->flags, ok ? "verifies" : "BAD");
		print_hex("AHV-TPM-E2E-REQUEST", req_buf, len);
		print_hex("AHV-TPM-E2E-REPORT", rep_buf, AHV_REPORT_SIZE(n));
	} else {
		int untouched = 1;
		for (size_t i = 0; i < AHV_REPORT_MAX_SIZE; i++)
			untouched &= rep_buf[i] == 0x5a;
		Print(L"AHV-TPM-E2E: no report (report buffer %a)\r\n", untouched ? "untouched" : "WRITTEN");
	}
}

static void try_unseal(EFI_HANDLE image)
{
	static uint8_t blob[AHV_TPM_BLOB_MAX];
	uint8_t secret[64];
	size_t sn = 0;
	UINTN n = sizeof(blob);
	ahv_tcg2 *p = ahv_tcg2_locate();
	if (!p) {
		Print(L"AHV-TPM-E2E: guest-unseal no-tpm\r\n");
		return;
	}
	if (EFI_ERROR(read_esp(image, L"\\attest-hv\\tpm\\hv-key.blob", blob, &n))) {
		Print(L"AHV-TPM-E2E: guest-unseal no-blob\r\n");
		return;
	}
	ahv_tpm_init(&tpm, ahv_tcg2_submit, p);
	int rc = ahv_tpm_unseal(&tpm, blob, n, secret, sizeof(secret), &sn);
	Print(L"AHV-TPM-E2E: guest-unseal %a (rc %d, TPM rc 0x%x)\r\n",
	      rc == AHV_TPM_OK ? "UNSEALED-THE-KEY" : rc == AHV_TPM_EPOLICY ? "refused-policy" : ahv_tpm_strerror(rc),
	      rc, tpm.last_rc);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	uint32_t r[4];
	InitializeLib(image, st);
	Print(L"AHV-TPM-E2E: payload start\r\n");
	for (size_t i = 0; i < sizeof(data_buf); i++)
		data_buf[i] = (uint8_t)(i * 13 + 1);
	if (ahv_crypto_init(crypto_pool, sizeof(crypto_pool)) ||
	    ahv_drbg_init(&rng, AHV_DRBG_HW, NULL, NULL, "e2e-tpm", 7) || load_key(image)) {
		Print(L"AHV-TPM-E2E: FAIL crypto/DRBG/guest key\r\n");
		goto out;
	}
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(AHV_CPUID_LEAF_SIGNATURE), "c"(0));
	if (r[1] != AHV_CPUID_SIG_EBX) {
		Print(L"AHV-TPM-E2E: FAIL no attest-hv\r\n");
		goto out;
	}
	struct hc h = {AHV_HC_GET_INFO, (uint64_t)(uintptr_t)info_buf, sizeof(info_buf), 0, 0};
	vmmcall(&h);
	struct ahv_hv_info *info = (void *)info_buf;
	Print(L"AHV-TPM-E2E: info status=0x%lx flags=0x%x features=0x%x spki_len=%u\r\n", h.rax, info->flags,
	      info->features, info->spki_len);
	if (h.rax == AHV_OK && info->spki_len)
		print_hex("AHV-TPM-E2E-INFO-KEY-ID", info->hv_key_id, 32);
	attest_once();
	try_unseal(image);
out:
	Print(L"AHV-TPM-E2E: DONE\r\n");
	uefi_call_wrapper(BS->Stall, 1, 200000);
	RT->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
