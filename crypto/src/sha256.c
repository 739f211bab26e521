/*
 * sha256.c - SHA-256 (FIPS 180-4) for mbedTLS under MBEDTLS_SHA256_ALT:
 * buffering and padding here, compression by SHA-NI (sha256_shani.c) when
 * CPUID reports it, else by portable C (sha256_portable.c).
 *
 * Vector state in the hypervisor: host code is built with
 * -mgeneral-regs-only, so the only XMM user is the SHA-NI function. In the
 * freestanding build every SHA-NI call is bracketed by FXSAVE64/FXRSTOR64
 * (SDM Vol. 1 10.5: the image covers XMM0-15 and MXCSR; SHA-NI is
 * legacy-SSE encoded and leaves the upper YMM/ZMM halves untouched), so the
 * guest's registers survive. Runs shorter than SHANI_MIN_BLOCKS take the
 * portable path there: the save costs more than it gains. The hosted build
 * calls SHA-NI directly (XMM registers are caller-saved in the SysV ABI).
 */
#include <string.h>
#include "mbedtls/sha256.h"
#include "mbedtls/platform_util.h"
#include "ahv/crypto.h"
#include "sha256_block.h"

#if defined(AHV_FREESTANDING)
#define SHANI_MIN_BLOCKS 4
#else
#define SHANI_MIN_BLOCKS 1
#endif

enum { IMPL_UNKNOWN = 0, IMPL_PORTABLE, IMPL_SHANI };
static volatile int sha256_impl = IMPL_UNKNOWN;
static volatile int sha256_forced_portable;

static int shani_available(void)
{
	if (sha256_forced_portable)
		return 0;
	if (sha256_impl == IMPL_UNKNOWN)
		sha256_impl = ahv_cpu_has_shani() ? IMPL_SHANI : IMPL_PORTABLE;
	return sha256_impl == IMPL_SHANI;
}

const char *ahv_sha256_impl(void)
{
	return shani_available() ? "sha-ni" : "portable";
}

void ahv_sha256_force_portable(int force)
{
	sha256_forced_portable = force != 0;
}

static void compress(uint32_t state[8], const uint8_t *data, size_t nblocks)
{
	if (nblocks < SHANI_MIN_BLOCKS || !shani_available()) {
		ahv_sha256_blocks_portable(state, data, nblocks);
		return;
	}
#if defined(AHV_FREESTANDING)
	{
		/* FXSAVE64 image: 512 bytes, 16-byte aligned (SDM Vol. 1 table 10-2). */
		_Alignas(16) unsigned char fx[512];
		__asm__ volatile("fxsave64 %0" : "=m"(fx));
		ahv_sha256_blocks_shani(state, data, nblocks);
		__asm__ volatile("fxrstor64 %0" : : "m"(fx));
	}
#else
	ahv_sha256_blocks_shani(state, data, nblocks);
#endif
}

void mbedtls_sha256_init(mbedtls_sha256_context *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
}

void mbedtls_sha256_free(mbedtls_sha256_context *ctx)
{
	if (ctx)
		mbedtls_platform_zeroize(ctx, sizeof(*ctx));
}

void mbedtls_sha256_clone(mbedtls_sha256_context *dst, const mbedtls_sha256_context *src)
{
	*dst = *src;
}

int mbedtls_sha256_starts(mbedtls_sha256_context *ctx, int is224)
{
	/* FIPS 180-4 section 5.3.3 initial hash value. SHA-224 is not built. */
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	if (is224 != 0)
		return MBEDTLS_ERR_SHA256_BAD_INPUT_DATA;
	memcpy(ctx->state, iv, sizeof(iv));
	ctx->total = 0;
	return 0;
}

int mbedtls_internal_sha256_process(mbedtls_sha256_context *ctx, const unsigned char data[64])
{
	compress(ctx->state, data, 1);
	return 0;
}

int mbedtls_sha256_update(mbedtls_sha256_context *ctx, const unsigned char *input, size_t ilen)
{
	size_t used = (size_t)(ctx->total & 63);

	ctx->total += ilen;
	if (used) {
		size_t fill = 64 - used;
		if (ilen < fill) {
			memcpy(ctx->buffer + used, input, ilen);
			return 0;
		}
		memcpy(ctx->buffer + used, input, fill);
		compress(ctx->state, ctx->buffer, 1);
		input += fill;
		ilen -= fill;
	}
	if (ilen >= 64) {
		compress(ctx->state, input, ilen / 64);
		input += ilen & ~(size_t)63;
		ilen &= 63;
	}
	if (ilen)
		memcpy(ctx->buffer, input, ilen);
	return 0;
}

int mbedtls_sha256_finish(mbedtls_sha256_context *ctx, unsigned char *output)
{
	/* FIPS 180-4 section 5.1.1 padding: 0x80, zeros, 64-bit big-endian bit length. */
	size_t used = (size_t)(ctx->total & 63);
	uint64_t bits = ctx->total << 3;

	ctx->buffer[used++] = 0x80;
	if (used > 56) {
		memset(ctx->buffer + used, 0, 64 - used);
		compress(ctx->state, ctx->buffer, 1);
		used = 0;
	}
	memset(ctx->buffer + used, 0, 56 - used);
	for (int i = 0; i < 8; i++)
		ctx->buffer[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	compress(ctx->state, ctx->buffer, 1);
	for (int i = 0; i < 8; i++) {
		output[4 * i] = (unsigned char)(ctx->state[i] >> 24);
		output[4 * i + 1] = (unsigned char)(ctx->state[i] >> 16);
		output[4 * i + 2] = (unsigned char)(ctx->state[i] >> 8);
		output[4 * i + 3] = (unsigned char)ctx->state[i];
	}
	return 0;
}
