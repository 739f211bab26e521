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
