/* base64.c - RFC 4648 base64, standard (padded) and URL-safe (unpadded);
 * attest/base64.h says which caller uses which. */
#include <attest/base64.h>

static const char *alphabet(enum ahv_b64_alphabet a)
{
	return a == AHV_B64_URL ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
				: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

/* Value of one character in alphabet a, or -1 (padding included). */
static int b64_value(char c, enum ahv_b64_alphabet a)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (a == AHV_B64_URL ? '-' : '+'))
		return 62;
	if (c == (a == AHV_B64_URL ? '_' : '/'))
		return 63;
	return -1;
}

size_t ahv_b64_encoded_len(size_t n, enum ahv_b64_alphabet a)
{
	if (a == AHV_B64_STD)
		return (n + 2) / 3 * 4;
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t ahv_b64_encode(char *out, const uint8_t *in, size_t n, enum ahv_b64_alphabet a)
{
	const char *al = alphabet(a);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3; /* input bytes in this group */
		uint32_t w = (uint32_t)in[i] << 16 | (k > 1 ? (uint32_t)in[i + 1] << 8 : 0) |
			     (k > 2 ? in[i + 2] : 0);
		for (size_t c = 0; c <= k; c++) /* k bytes: k + 1 characters */
			out[o++] = al[w >> (18 - 6 * c) & 63];
		for (size_t c = k + 1; a == AHV_B64_STD && c < 4; c++)
			out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

size_t ahv_b64_decoded_max(size_t len)
{
	return (len + 3) / 4 * 3;
}

long ahv_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len, enum ahv_b64_alphabet a)
{
	size_t data = len; /* characters before the padding */
	if (a == AHV_B64_STD) {
		if (len % 4)
			return -1;
		/* at most two '=', and only at the end of the last quantum */
		for (int p = 0; p < 2 && data && in[data - 1] == '='; p++)
			data--;
	}
	if (data % 4 == 1) /* 6 bits cannot end a byte */
		return -1;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < data; i++) {
		int v = b64_value(in[i], a);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1)) /* unused low bits set: not canonical */
		return -1;
	return (long)o;
}
