/*
 * drbg.c - HMAC_DRBG (NIST SP 800-90A section 10.1.2) with SHA-256, seeded
 * from RDSEED/RDRAND XOR a caller-supplied source. XOR of independent sources
 * keeps the entropy of the better one.
 */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include <string.h>
#include "mbedtls/hmac_drbg.h"
#include "mbedtls/md.h"
#include "ahv/crypto.h"
#include "drbg_internal.h"

_Static_assert(sizeof(mbedtls_hmac_drbg_context) <= sizeof(((ahv_drbg *)0)->opaque), "drbg ctx");

static mbedtls_hmac_drbg_context *ctx_of(ahv_drbg *d)
{
	return (mbedtls_hmac_drbg_context *)d->opaque;
}

/* mbedTLS entropy callback: exactly len bytes or an error. */
static int drbg_entropy(void *arg, unsigned char *out, size_t len)
{
	ahv_drbg *d = arg;
	size_t done = 0;

	memset(out, 0, len);
	if (d->flags & AHV_DRBG_HW) {
		if (ahv_hw_entropy(NULL, out, len) != AHV_CRYPTO_OK)
			return MBEDTLS_ERR_HMAC_DRBG_ENTROPY_SOURCE_FAILED;
	}
	if (d->extra) {
		while (done < len) {
			uint8_t tmp[64];
			size_t n = len - done < sizeof(tmp) ? len - done : sizeof(tmp);
			if (d->extra(d->extra_arg, tmp, n) != 0) {
				ahv_wipe(tmp, sizeof(tmp));
				return MBEDTLS_ERR_HMAC_DRBG_ENTROPY_SOURCE_FAILED;
			}
			for (size_t i = 0; i < n; i++)
				out[done + i] ^= tmp[i];
			ahv_wipe(tmp, sizeof(tmp));
			done += n;
		}
	}
	return 0;
}

int ahv_drbg_init(ahv_drbg *d, uint32_t flags, ahv_entropy_fn extra,
		  void *extra_arg, const void *pers, size_t pers_len)
{
	int rc;

	if (!d || (flags & ~(uint32_t)AHV_DRBG_HW) || (!(flags & AHV_DRBG_HW) && !extra) ||
	    (!pers && pers_len))
		return AHV_CRYPTO_EINVAL;
	memset(d, 0, sizeof(*d));
	d->flags = flags;
	d->extra = extra;
	d->extra_arg = extra_arg;
	mbedtls_hmac_drbg_init(ctx_of(d));
	rc = mbedtls_hmac_drbg_seed(ctx_of(d), mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
				    drbg_entropy, d, pers, pers_len);
	if (rc) {
		ahv_drbg_free(d);
		if (rc == MBEDTLS_ERR_HMAC_DRBG_ENTROPY_SOURCE_FAILED)
			return AHV_CRYPTO_ENOENTROPY;
		return rc == MBEDTLS_ERR_MD_ALLOC_FAILED ? AHV_CRYPTO_ENOMEM : AHV_CRYPTO_EINTERNAL;
	}
	return AHV_CRYPTO_OK;
}

int ahv_drbg_reseed(ahv_drbg *d, const void *additional, size_t add_len)
{
	int rc;

	if (!d || (!additional && add_len))
		return AHV_CRYPTO_EINVAL;
	rc = mbedtls_hmac_drbg_reseed(ctx_of(d), additional, add_len);
	if (rc == MBEDTLS_ERR_HMAC_DRBG_ENTROPY_SOURCE_FAILED)
		return AHV_CRYPTO_ENOENTROPY;
	return rc ? AHV_CRYPTO_EINVAL : AHV_CRYPTO_OK;
}

int ahv_drbg_generate(ahv_drbg *d, void *out, size_t len)
{
	/* mbedTLS caps one request at MBEDTLS_HMAC_DRBG_MAX_REQUEST bytes. */
	uint8_t *p = out;

	if (!d || (!out && len))
		return AHV_CRYPTO_EINVAL;
	while (len) {
		size_t n = len < MBEDTLS_HMAC_DRBG_MAX_REQUEST ? len : MBEDTLS_HMAC_DRBG_MAX_REQUEST;
		int rc = mbedtls_hmac_drbg_random(ctx_of(d), p, n);
		if (rc == MBEDTLS_ERR_HMAC_DRBG_ENTROPY_SOURCE_FAILED)
			return AHV_CRYPTO_ENOENTROPY;
		if (rc)
			return AHV_CRYPTO_EINTERNAL;
		p += n;
		len -= n;
	}
	return AHV_CRYPTO_OK;
}

uint64_t ahv_drbg_reseed_counter(const ahv_drbg *d)
{
	const mbedtls_hmac_drbg_context *c = (const mbedtls_hmac_drbg_context *)d->opaque;

	return (uint64_t)c->reseed_counter;
}

void ahv_drbg_free(ahv_drbg *d)
{
	if (!d)
		return;
	mbedtls_hmac_drbg_free(ctx_of(d));
	ahv_wipe(d, sizeof(*d));
}

/* The mbedTLS RNG callback shape, for ECDSA. */
int ahv_drbg_rng(void *arg, unsigned char *out, size_t len)
{
	return ahv_drbg_generate(arg, out, len) == AHV_CRYPTO_OK ? 0 : -1;
}

int ahv_drbg_set_reseed_interval(ahv_drbg *d, uint32_t interval)
{
	if (!d || interval == 0 || interval > MBEDTLS_HMAC_DRBG_RESEED_INTERVAL)
		return AHV_CRYPTO_EINVAL;
	mbedtls_hmac_drbg_set_reseed_interval(ctx_of(d), (int)interval);
	return AHV_CRYPTO_OK;
}
