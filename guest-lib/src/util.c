/* util.c - hex, base64 (the wire library's, attest/base64.h), files,
 * hashes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <attest/base64.h>
#include <attest/wire_digest.h>

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

char *ahvl_b64(const uint8_t *b, size_t n, bool url)
{
	enum ahv_b64_alphabet a = url ? AHV_B64_URL : AHV_B64_STD;
	char *o = malloc(ahv_b64_encoded_len(n, a) + 1);
	if (o)
		ahv_b64_encode(o, b, n, a);
	return o;
}

uint8_t *ahvl_unb64(const char *s, size_t slen, size_t *len)
{
	size_t cap = ahv_b64_decoded_max(slen);
	uint8_t *o = malloc(cap + 1);
	long n = o ? ahv_b64_decode(o, cap, s, slen, AHV_B64_URL) : -1;
	if (n < 0) {
		free(o);
		return NULL;
	}
	*len = (size_t)n;
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

const char *ahvl_hash_name(uint32_t hash_alg)
{
	static const char *const n[] = {NULL, "sha256", "sha384", "sha512",
					"sha3-256", "sha3-384", "sha3-512"};
	return hash_alg >= 1 && hash_alg <= 6 ? n[hash_alg] : NULL;
}

int ahvl_digest(uint32_t hash_alg, const void *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = ahv_wire_md(hash_alg);
	unsigned int ol = 0;
	if (!md)
		return ahvl_fail(AHVL_E_INVALID, "unknown hash algorithm %u", hash_alg);
	if (!EVP_Digest(data, len, out, &ol, md, NULL))
		return ahvl_fail_ssl(AHVL_E_INTERNAL, "digest failed");
	return AHVL_OK;
}
