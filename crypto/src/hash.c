/*
 * hash.c - hashing by algorithm id over the SHA-2 and SHA-3 modules (SHA-256
 * is ours, crypto/src/sha256.c; SHA-384/512 are mbedTLS's around our
 * compression function, crypto/src/sha512_block.c; SHA-3 is ours,
 * crypto/src/keccak.c).
 */
#include <string.h>
#include "mbedtls/sha256.h"
#include "mbedtls/sha512.h"
#include "ahv/crypto.h"
#include "keccak.h"

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((ahv_hash_ctx *)0)->opaque), "sha256 ctx");
_Static_assert(sizeof(mbedtls_sha512_context) <= sizeof(((ahv_hash_ctx *)0)->opaque), "sha512 ctx");
_Static_assert(sizeof(ahv_sha3_ctx) <= sizeof(((ahv_hash_ctx *)0)->opaque), "sha3 ctx");

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
		rc = ahv_sha3_init((ahv_sha3_ctx *)ctx->opaque, ahv_hash_size(alg));
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
	case AHV_HASH_SHA256:
		rc = mbedtls_sha256_update((mbedtls_sha256_context *)ctx->opaque, data, len);
		break;
	case AHV_HASH_SHA384:
	case AHV_HASH_SHA512:
		rc = mbedtls_sha512_update((mbedtls_sha512_context *)ctx->opaque, data, len);
		break;
	default:
		ahv_sha3_update((ahv_sha3_ctx *)ctx->opaque, data, len);
		rc = 0;
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
		rc = mbedtls_sha256_finish((mbedtls_sha256_context *)ctx->opaque, out);
		break;
	case AHV_HASH_SHA384:
	case AHV_HASH_SHA512:
		rc = mbedtls_sha512_finish((mbedtls_sha512_context *)ctx->opaque, out);
		break;
	default:
		ahv_sha3_final((ahv_sha3_ctx *)ctx->opaque, out);
		rc = 0;
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
