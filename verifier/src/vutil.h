/*
 * vutil.h - small helpers of the verifier: hex, base64 and base64url (the
 * wire library's), time, random ids. No global state.
 */
#ifndef AHV_VUTIL_H
#define AHV_VUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <attest/base64.h>

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL terminated). */
void v_hex(char *out, const uint8_t *in, size_t n);
/* Strict hex decode (even length, [0-9a-fA-F], optional "0x" not allowed).
 * Returns the byte count, or -1 on bad input or when it exceeds cap. */
long v_unhex(uint8_t *out, size_t cap, const char *in);

/* base64 is the wire library's (attest/base64.h): the submission's request
 * and report in the standard alphabet with padding (AHV_B64_STD, strict:
 * no whitespace, canonical), tokens in base64url without padding
 * (AHV_B64_URL). Decode: the byte count or -1; out needs cap bytes. */
static inline long v_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
	return ahv_b64_decode(out, cap, in, len, AHV_B64_STD);
}
/* Encoders: out needs v_b64[url]_len(n) + 1 bytes (NUL-terminated). */
static inline size_t v_b64url_len(size_t n)
{
	return ahv_b64_encoded_len(n, AHV_B64_URL);
}
static inline size_t v_b64url_encode(char *out, const uint8_t *in, size_t n)
{
	return ahv_b64_encode(out, in, n, AHV_B64_URL);
}
static inline size_t v_b64_len(size_t n)
{
	return ahv_b64_encoded_len(n, AHV_B64_STD);
}
static inline size_t v_b64_encode(char *out, const uint8_t *in, size_t n)
{
	return ahv_b64_encode(out, in, n, AHV_B64_STD);
}

/* Wall clock in ns / s since the epoch. */
uint64_t v_now_ns(void);
int64_t v_now_s(void);

/* Random bytes from OpenSSL's CSPRNG; 0 on success. */
int v_random(uint8_t *out, size_t n);
/* A random UUIDv4 text (37 bytes incl. NUL). 0 on success. */
int v_uuid(char out[37]);

/* Read a whole file (NUL appended, not counted). NULL on error (errno). */
uint8_t *v_read_file(const char *path, size_t *len, size_t max);

#endif
