/* util.c - hex, base64, files, hashes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "ahv/hex.h"

void ahvl_hex(char *out, const uint8_t *b, size_t n)
{
	ahv_hex_encode(out, b, n);
}

int ahvl_unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	long n = ahv_hex_decode(s, strlen(s), out, cap);

	if (n < 0)
		return AHVL_E_INVALID;
	*len = (size_t)n;
	return AHVL_OK;
}

static const char b64s[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64u[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *ahvl_b64(const uint8_t *b, size_t n, bool url)
{
	const char *a = url ? b64u : b64s;
	char *o = malloc(4 * ((n + 2) / 3) + 1), *p = o;
	if (!o)
		return NULL;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
		*p++ = a[v >> 18];
		*p++ = a[(v >> 12) & 63];
		*p++ = a[(v >> 6) & 63];
		*p++ = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0);
		*p++ = a[v >> 18];
		*p++ = a[(v >> 12) & 63];
		if (i + 1 < n)
			*p++ = a[(v >> 6) & 63];
		else if (!url)
			*p++ = '=';
		if (!url)
			*p++ = '=';
	}
	*p = 0;
	return o;
}

/* base64url (RFC 4648 §5), strict as JWS needs it (RFC 7515 §2, §C): the
 * URL-safe alphabet only, no padding, no whitespace, a length that is not
 * 1 mod 4, and the unused low bits of the last character zero (so one
 * value has exactly one encoding). */
static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

uint8_t *ahvl_unb64(const char *s, size_t slen, size_t *len)
{
	if (slen % 4 == 1)
		return NULL;
	uint8_t *o = malloc(slen * 3 / 4 + 3);
	if (!o)
		return NULL;
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < slen; i++) {
		int v = b64url_val(s[i]);
		if (v < 0) {
			free(o);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1)) { /* non-canonical: unused bits set */
		free(o);
		return NULL;
	}
	*len = n;
	return o;
}

int ahvl_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return ahvl_fail(AHVL_E_IO, "cannot open %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	if (!b) {
		fclose(f);
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				free(b);
				fclose(f);
				return ahvl_fail(AHVL_E_IO, "%s is larger than %zu bytes", path, max);
			}
			cap = cap * 2 > max ? max : cap * 2;
			uint8_t *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return ahvl_fail(AHVL_E_NOMEM, "out of memory");
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		return ahvl_fail(AHVL_E_IO, "cannot read %s", path);
	}
	*out = b;
	*len = n;
	return AHVL_OK;
}

const EVP_MD *ahvl_md(uint32_t hash_alg)
{
	switch (hash_alg) {
	case AHV_WIRE_HASH_SHA256: return EVP_sha256();
	case AHV_WIRE_HASH_SHA384: return EVP_sha384();
	case AHV_WIRE_HASH_SHA512: return EVP_sha512();
	case AHV_WIRE_HASH_SHA3_256: return EVP_sha3_256();
	case AHV_WIRE_HASH_SHA3_384: return EVP_sha3_384();
	case AHV_WIRE_HASH_SHA3_512: return EVP_sha3_512();
	default: return NULL;
	}
}

const char *ahvl_hash_name(uint32_t hash_alg)
{
	static const char *const n[] = {NULL, "sha256", "sha384", "sha512",
					"sha3-256", "sha3-384", "sha3-512"};
	return hash_alg >= 1 && hash_alg <= 6 ? n[hash_alg] : NULL;
}

int ahvl_digest(uint32_t hash_alg, const void *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = ahvl_md(hash_alg);
	unsigned int ol = 0;
	if (!md)
		return ahvl_fail(AHVL_E_INVALID, "unknown hash algorithm %u", hash_alg);
	if (!EVP_Digest(data, len, out, &ol, md, NULL))
		return ahvl_fail_ssl(AHVL_E_INTERNAL, "digest failed");
	return AHVL_OK;
}
