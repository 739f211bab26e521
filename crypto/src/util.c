/* util.c - error strings, constant-time compare, wiping, pool set-up. */
#include <string.h>
#include "ahv/crypto.h"
#if defined(AHV_FREESTANDING)
#include "mbedtls/memory_buffer_alloc.h"
#endif

const char *ahv_crypto_strerror(int err)
{
	switch (err) {
	case AHV_CRYPTO_OK: return "success";
	case AHV_CRYPTO_EINVAL: return "invalid argument";
	case AHV_CRYPTO_EBUFSIZE: return "output buffer too small";
	case AHV_CRYPTO_EBADSIG: return "signature does not verify";
	case AHV_CRYPTO_EBADKEY: return "malformed or invalid key";
	case AHV_CRYPTO_EFORMAT: return "malformed encoding";
	case AHV_CRYPTO_ENOENTROPY: return "no entropy available";
	case AHV_CRYPTO_ENOMEM: return "crypto memory pool exhausted";
	case AHV_CRYPTO_EINTERNAL: return "internal crypto error";
	}
	return "unknown crypto error";
}

int ahv_ct_memcmp(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

void ahv_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len--)
		*v++ = 0;
}

#define AHV_CRYPTO_MIN_POOL (16u * 1024u)

int ahv_crypto_init(void *pool, size_t pool_len)
{
#if defined(AHV_FREESTANDING)
	if (!pool || pool_len < AHV_CRYPTO_MIN_POOL)
		return AHV_CRYPTO_EINVAL;
	mbedtls_memory_buffer_alloc_init(pool, pool_len);
#else
	(void)pool;
	(void)pool_len;
#endif
	return AHV_CRYPTO_OK;
}
