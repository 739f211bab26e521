/*
 * vutil.h - small helpers of the verifier: hex, base64 (strict), base64url,
 * time, random ids. No global state.
 */
#ifndef AHV_VUTIL_H
#define AHV_VUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL terminated). */
void v_hex(char *out, const uint8_t *in, size_t n);
/* Strict hex decode (even length, [0-9a-fA-F], optional "0x" not allowed).
 * Returns the byte count, or -1 on bad input or when it exceeds cap. */
long v_unhex(uint8_t *out, size_t cap, const char *in);

/* Strict RFC 4648 base64 (standard alphabet, '=' padding required, no
 * whitespace). Returns decoded length or -1. out needs cap bytes. */
long v_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len);
/* base64url without padding (JWT). out needs v_b64url_len(n)+1 bytes. */
size_t v_b64url_len(size_t n);
size_t v_b64url_encode(char *out, const uint8_t *in, size_t n);
size_t v_b64_len(size_t n);
size_t v_b64_encode(char *out, const uint8_t *in, size_t n);

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
