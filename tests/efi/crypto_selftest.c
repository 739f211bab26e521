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
#include <string.h>
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

/*
 * The hypervisor runs SHA-256 while the guest's XMM registers are live. Load
 * a pattern into XMM0-15 and MXCSR, hash 64 KiB (the SHA-NI path when the CPU
 * has it), read the registers back: they must be unchanged. This file is
 * built with -mgeneral-regs-only, so only these asm blocks touch XMM state.
 */
static uint8_t vec_buf[64 * 1024];

static int vector_state_preserved(void)
{
	uint8_t in[256] __attribute__((aligned(16))), out[256] __attribute__((aligned(16)));
	uint32_t mxcsr_in = 0x1f80 ^ 0x6000, mxcsr_out = 0, mxcsr_saved = 0; /* RC = toward zero */
	uint8_t digest[32];
	int rc;

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t i = 0; i < sizeof(vec_buf); i++)
		vec_buf[i] = (uint8_t)i;
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr_saved));
	__asm__ volatile(
		"ldmxcsr %1\n\t"
		"movdqu 0(%0), %%xmm0\n\t movdqu 16(%0), %%xmm1\n\t movdqu 32(%0), %%xmm2\n\t"
		"movdqu 48(%0), %%xmm3\n\t movdqu 64(%0), %%xmm4\n\t movdqu 80(%0), %%xmm5\n\t"
		"movdqu 96(%0), %%xmm6\n\t movdqu 112(%0), %%xmm7\n\t movdqu 128(%0), %%xmm8\n\t"
		"movdqu 144(%0), %%xmm9\n\t movdqu 160(%0), %%xmm10\n\t movdqu 176(%0), %%xmm11\n\t"
		"movdqu 192(%0), %%xmm12\n\t movdqu 208(%0), %%xmm13\n\t movdqu 224(%0), %%xmm14\n\t"
		"movdqu 240(%0), %%xmm15"
		: : "r"(in), "m"(mxcsr_in) : "memory");
	rc = ahv_hash(AHV_HASH_SHA256, vec_buf, sizeof(vec_buf), digest);
	__asm__ volatile(
		"movdqu %%xmm0, 0(%0)\n\t movdqu %%xmm1, 16(%0)\n\t movdqu %%xmm2, 32(%0)\n\t"
		"movdqu %%xmm3, 48(%0)\n\t movdqu %%xmm4, 64(%0)\n\t movdqu %%xmm5, 80(%0)\n\t"
		"movdqu %%xmm6, 96(%0)\n\t movdqu %%xmm7, 112(%0)\n\t movdqu %%xmm8, 128(%0)\n\t"
		"movdqu %%xmm9, 144(%0)\n\t movdqu %%xmm10, 160(%0)\n\t movdqu %%xmm11, 176(%0)\n\t"
		"movdqu %%xmm12, 192(%0)\n\t movdqu %%xmm13, 208(%0)\n\t movdqu %%xmm14, 224(%0)\n\t"
		"movdqu %%xmm15, 240(%0)\n\t"
		"stmxcsr %1"
		: : "r"(out), "m"(mxcsr_out) : "memory");
	__asm__ volatile("" : "+m"(mxcsr_out));
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_saved));
	return rc == AHV_CRYPTO_OK && mxcsr_out == mxcsr_in && memcmp(in, out, sizeof(in)) == 0;
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
	{
		int ok = vector_state_preserved();
		report(NULL, "vector-state", ahv_sha256_impl(), ok);
		fails += !ok;
	}
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
