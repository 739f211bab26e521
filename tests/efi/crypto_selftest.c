/*
 * crypto_selftest.c - UEFI application that runs the crypto known-answer
 * tests (tests/crypto/kat.c) on the freestanding crypto build, where it
 * really runs: under OVMF, without a C library, from a fixed memory pool.
 * Judged by the markers it prints on the console (OVMF mirrors the console
 * to the serial port): "AHV-SELFTEST: PASS" or "AHV-SELFTEST: FAIL".
 * Then it powers the machine off.
 */
#include <efi.h>
#include <efilib.h>
#include "ahv/crypto.h"
#include "../crypto/kat.h"

static uint8_t crypto_pool[256 * 1024] __attribute__((aligned(16)));
static int checks;

void ahv_crypto_fatal(int status)
{
	Print(L"AHV-SELFTEST: FAIL crypto heap corruption (%d)\r\n", status);
	RT->ResetSystem(EfiResetShutdown, EFI_ABORTED, 0, NULL);
	for (;;)
		__asm__ volatile("hlt");
}

static void report(void *arg, const char *group, const char *name, int ok)
{
	(void)arg;
	checks++;
	Print(L"ahv-kat %a %a/%a\r\n", ok ? "ok  " : "FAIL", group, name);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	ahv_drbg rng;
	int fails, rc;

	InitializeLib(image, systab);
	Print(L"AHV-SELFTEST: start (freestanding crypto, sha256 path: %a)\r\n", ahv_sha256_impl());
	rc = ahv_crypto_init(crypto_pool, sizeof(crypto_pool));
	if (rc != AHV_CRYPTO_OK) {
		Print(L"AHV-SELFTEST: FAIL crypto init: %a\r\n", ahv_crypto_strerror(rc));
		goto out;
	}
	rc = ahv_drbg_init(&rng, AHV_DRBG_HW, NULL, NULL, "selftest", 8);
	if (rc != AHV_CRYPTO_OK)
		Print(L"ahv-kat note: no hardware DRBG (%a): sign round trips skipped\r\n",
		      ahv_crypto_strerror(rc));
	fails = ahv_kat_all(rc == AHV_CRYPTO_OK ? &rng : NULL, report, NULL);
	if (rc == AHV_CRYPTO_OK)
		ahv_drbg_free(&rng);
	/* The portable SHA-256 path too, when SHA-NI was the live one. */
	ahv_sha256_force_portable(1);
	fails += ahv_kat_hashes(report, NULL);
	ahv_sha256_force_portable(0);
	if (fails)
		Print(L"AHV-SELFTEST: FAIL %d of %d checks\r\n", fails, checks);
	else
		Print(L"AHV-SELFTEST: PASS %d checks\r\n", checks);
out:
	RT->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
