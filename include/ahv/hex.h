/*
 * ahv/hex.h - hexadecimal encoding, shared by every world (loader config,
 * guest library, verifier, tests): header-only, freestanding-safe.
 */
#ifndef AHV_HEX_H
#define AHV_HEX_H
#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit (either case), or -1. */
static inline int ahv_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Lower-case hex of n bytes into out[2n + 1], NUL-terminated. */
static inline void ahv_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

/* Decode exactly len characters (len even, at most 2 * cap): the number of
 * bytes written, or -1 for an odd length, a non-hex character or no room. */
static inline long ahv_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int h = ahv_hex_digit(in[2 * i]), l = ahv_hex_digit(in[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return (long)(len / 2);
}
#endif
