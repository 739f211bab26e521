/*
 * hash.c - hashing by algorithm id over mbedTLS's SHA-2 and SHA-3 modules,
 * and the MBEDTLS_SHA256_PROCESS_ALT block function that picks SHA-NI or the
 * portable path.
 *
 * Vector state in the hypervisor: host code is built with
 * -mgeneral-regs-only, so the only XMM user is the SHA-NI block function.
 * In the freestanding build ahv_hash_update()/final() save the x87/SSE state
 * with FXSAVE64 around the SHA-256 work (SDM Vol. 1 10.5: FXSAVE covers
 * XMM0-15 and MXCSR; SHA-NI is legacy-SSE encoded and leaves the upper YMM/ZMM
 * halves untouched) and arm SHA-NI for that one mbedTLS context. SHA-256 used
 * anywhere else (HMAC_DRBG, ECDSA) runs the portable path, so no guest vector
 * register is ever clobbered. The hosted build uses SHA-NI unconditionally
 * when the CPU has it (XMM registers are caller-saved in the SysV ABI).
 */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include <string.h>
#include "mbedtls/sha256.h"
#include "mbedtls/sha512.h"
#include "mbedtls/sha3.h"
#include "ahv/crypto.h"
#include "sha256_block.h"

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((ahv_hash_ctx *)0)->opaque), "sha256 ctx");
_Static_assert(sizeof(mbedtls_sha512_context) <= sizeof(((ahv_hash_ctx *)0)->opaque), "sha512 ctx");
_Static_assert(sizeof(mbedtls_sha3_context) <= sizeof(((ahv_hash_ctx *)0)->opaque), "sha3 ctx");

/* ---- SHA-256 block function selection -------------------------------------- */
enum { IMPL_UNKNOWN = 0, IMPL_PORTABLE, IMPL_SHANI };
static volatile int sha256_impl = IMPL_UNKNOWN;
static volatile int sha256_forced_portable;

static int sha256_shani_available(void)
{
	if (sha256_forced_portable)
		return 0;
	if (sha256_impl == IMPL_UNKNOWN)
		sha256_impl = ahv_cpu_has_shani() ? IMPL_SHANI : IMPL_PORTABLE;
	return sha256_impl == IMPL_SHANI;
}

const char *ahv_sha256_impl(void)
{
	return sha256_shani_available() ? "sha-ni" : "portable";
}

void ahv_sha256_force_portable(int force)
{
	sha256_forced_portable = force != 0;
}

#if defined(AHV_FREESTANDING)
/* The context whose vector state is saved right now (NULL: none). A context
 * belongs to one CPU at a time, so comparing against it is correct with
 * several CPUs too: a CPU that loses the slot to another falls back to the
 * portable path, never to unsaved SHA-NI. */
static mbedtls_sha256_context *volatile shani_armed;

struct vec_save {
	_Alignas(16) unsigned char area[512]; /* FXSAVE64 image, SDM Vol. 1 table 10-2 */
};

static int vec_begin(struct vec_save *s, mbedtls_sha256_context *c)
{
	if (!sha256_shani_available())
		return 0;
	__asm__ volatile("fxsave64 %0" : "=m"(s->area));
	shani_armed = c;
	return 1;
}

static void vec_end(struct vec_save *s, int armed)
{
	if (!armed)
		return;
	shani_armed = NULL;
	__asm__ volatile("fxrstor64 %0" : : "m"(s->area));
}

static int use_shani(const mbedtls_sha256_context *c)
{
	return c == shani_armed;
}
#else
struct vec_save { char unused; };
static int vec_begin(struct vec_save *s, mbedtls_sha256_context *c)
{
	(void)s;
	(void)c;
	return 0;
}
static void vec_end(struct vec_save *s, int armed)
{
	(void)s;
	(void)armed;
}
static int use_shani(const mbedtls_sha256_context *c)
{
	(void)c;
	return sha256_shani_available();
}
#endif

/* mbedTLS hook (MBEDTLS_SHA256_PROCESS_ALT): compress one 64-byte block. */
int mbedtls_internal_sha256_process(mbedtls_sha256_context *ctx, const unsigned char data[64])
{
	if (use_shani(ctx))
		ahv_sha256_blocks_shani(ctx->state, data, 1);
	else
		ahv_sha256_blocks_portable(ctx->state, data, 1);
	return 0;
}

/* ---- ids ------------------------------------------------------------------- */
size_t ahv_hash_size(ahv_hash_alg alg)
{
	switch (alg) {
	case AHV_HASH_SHA256: case AHV_HASH_SHA3_256: return 32;
	case AHV_HASH_SHA384: case AHV_HASH_SHA3_384: return 48;
	case AHV_HASH_SHA512: case AHV_HASH_SHA3_512: return 64;
	}
	return 0;
}

const char *ahv_hash_name(ahv_hash_alg alg)
{
	switch (alg) {
	case AHV_HASH_SHA256: return "sha256";
	case AHV_HASH_SHA384: return "sha384";
	case AHV_HASH_SHA512: return "sha512";
	case AHV_HASH_SHA3_256: return "sha3-256";
	case AHV_HASH_SHA3_384: return "sha3-384";
	case AHV_HASH_SHA3_512: return "sha3-512";
	}
	return NULL;
}

static mbedtls_sha3_id sha3_id(ahv_hash_alg alg)
{
	return alg == AHV_HASH_SHA3_256 ? MBEDTLS_SHA3_256 :
	       alg == AHV_HASH_SHA3_384 ? MBEDTLS_SHA3_384 : MBEDTLS_SHA3_512;
}

/* ---- streaming --------------------------------------------------------------- */
int ahv_hash_init(ahv_hash_ctx *ctx, ahv_hash_alg alg)
{
	int rc;

	if (!ctx || !ahv_hash_size(alg))
		return AHV_CRYPTO_EINVAL;
	memset(ctx, 0, sizeof(*ctx));
	ctx->alg = alg;
	switch (alg) {
	case AHV_HASH_SHA256:
		mbedtls_sha256_init((mbedtls_sha256_context *)ctx->opaque);
		rc = mbedtls_sha256_starts((mbedtls_sha256_context *)ctx->opaque, 0);
		break;
	case AHV_HASH_SHA384:
	case AHV_HASH_SHA512:
		mbedtls_sha512_init((mbedtls_sha512_context *)ctx->opaque);
		rc = mbedtls_sha512_starts((mbedtls_sha512_context *)ctx->opaque,
					   alg == AHV_HASH_SHA384);
		break;
	default:
		mbedtls_sha3_init((mbedtls_sha3_context *)ctx->opaque);
		rc = mbedtls_sha3_starts((mbedtls_sha3_context *)ctx->opaque, sha3_id(alg));
		break;
	}
	if (rc) {
		ahv_hash_abort(ctx);
		return AHV_CRYPTO_EINTERNAL;
	}
	return AHV_CRYPTO_OK;
}

int ahv_hash_update(ahv_hash_ctx *ctx, const void *data, size_t len)
{
	int rc;

	if (!ctx || !ahv_hash_size((ahv_hash_alg)ctx->alg) || (!data && len))
		return AHV_CRYPTO_EINVAL;
	if (len == 0)
		return AHV_CRYPTO_OK;
	switch (ctx->alg) {
	case AHV_HASH_SHA256: {
		mbedtls_sha256_context *c = (mbedtls_sha256_context *)ctx->opaque;
		struct vec_save vs;
		int armed = len >= 64 ? vec_begin(&vs, c) : 0;
		rc = mbedtls_sha256_update(c, data, len);
		vec_end(&vs, armed);
		break;
	}
	case AHV_HASH_SHA384:
	case AHV_HASH_SHA512:
		rc = mbedtls_sha512_update((mbedtls_sha512_context *)ctx->opaque, data, len);
		break;
	default:
		rc = mbedtls_sha3_update((mbedtls_sha3_context *)ctx->opaque, data, len);
		break;
	}
	return rc ? AHV_CRYPTO_EINTERNAL : AHV_CRYPTO_OK;
}

int ahv_hash_final(ahv_hash_ctx *ctx, uint8_t *out)
{
	int rc;

	if (!ctx || !out || !ahv_hash_size((ahv_hash_alg)ctx->alg))
		return AHV_CRYPTO_EINVAL;
	switch (ctx->alg) {
	case AHV_HASH_SHA256:
		/* The last one or two blocks: the portable path is cheaper than a
		 * vector-state save here. */
		rc = mbedtls_sha256_finish((mbedtls_sha256_context *)ctx->opaque, out);
		break;
	case AHV_HASH_SHA384:
	case AHV_HASH_SHA512:
		rc = mbedtls_sha512_finish((mbedtls_sha512_context *)ctx->opaque, out);
		break;
	default:
		rc = mbedtls_sha3_finish((mbedtls_sha3_context *)ctx->opaque, out,
					 ahv_hash_size((ahv_hash_alg)ctx->alg));
		break;
	}
	ahv_hash_abort(ctx);
	return rc ? AHV_CRYPTO_EINTERNAL : AHV_CRYPTO_OK;
}

void ahv_hash_abort(ahv_hash_ctx *ctx)
{
	if (ctx)
		ahv_wipe(ctx, sizeof(*ctx));
}

int ahv_hash(ahv_hash_alg alg, const void *data, size_t len, uint8_t *out)
{
	ahv_hash_ctx ctx;
	int rc = ahv_hash_init(&ctx, alg);

	if (rc == AHV_CRYPTO_OK)
		rc = ahv_hash_update(&ctx, data, len);
	if (rc == AHV_CRYPTO_OK)
		return ahv_hash_final(&ctx, out);
	ahv_hash_abort(&ctx);
	return rc;
}
