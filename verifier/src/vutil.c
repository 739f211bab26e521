#include "vutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "ahv/hex.h"
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

void v_hex(char *out, const uint8_t *in, size_t n)
{
	ahv_hex_encode(out, in, n);
}

long v_unhex(uint8_t *out, size_t cap, const char *in)
{
	return ahv_hex_decode(in, strlen(in), out, cap);
}

static const char b64std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long v_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
	if (len % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = in[i + k];
			if (c == '=') {
				/* padding only in the last quantum, at 2 or 3 */
				if (i + 4 != len || k < 2)
					return -1;
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1; /* data after '=' */
			v[k] = b64val(c);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		size_t nb = 3 - (size_t)pad;
		/* canonical encoding: unused bits must be zero */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		if (o + nb > cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (nb > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (nb > 2)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

static size_t b64_enc(char *out, const uint8_t *in, size_t n,
		      const char *alpha, int pad)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = alpha[w >> 6 & 63];
		out[o++] = alpha[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;
		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = alpha[w >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

size_t v_b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}
size_t v_b64url_encode(char *out, const uint8_t *in, size_t n)
{
	return b64_enc(out, in, n, b64url, 0);
}
size_t v_b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}
size_t v_b64_encode(char *out, const uint8_t *in, size_t n)
{
	return b64_enc(out, in, n, b64std, 1);
}

uint64_t v_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t v_now_s(void)
{
	return (int64_t)time(NULL);
}

int v_random(uint8_t *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

int v_uuid(char out[37])
{
	uint8_t b[16];
	if (v_random(b, sizeof b))
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	char h[33];
	v_hex(h, b, 16);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
		 h + 16, h + 20);
	return 0;
}

uint8_t *v_read_file(const char *path, size_t *len, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				buf = NULL;
				errno = EFBIG;
				break;
			}
			cap *= 2;
			uint8_t *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		n += r;
	}
	fclose(f);
	if (buf) {
		if (n > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		buf[n] = 0;
		*len = n;
	}
	return buf;
}
