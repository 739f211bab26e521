/*
 * attest/base64.h - base64 (RFC 4648) for the hosted wire library: one
 * strict decoder and one encoder, each told which alphabet its caller needs.
 *
 *   AHV_B64_STD  standard alphabet (A-Z a-z 0-9 + /), '=' padding to a
 *                multiple of 4 (RFC 4648 §4). The verifier's submission
 *                ("request", "report": docs/verifier.md) and PEM bodies.
 *   AHV_B64_URL  URL-safe alphabet (A-Z a-z 0-9 - _), no padding (RFC 4648
 *                §5 as JWS uses it, RFC 7515 §2): tokens and JWKS members.
 *
 * Decoding is strict: only the chosen alphabet, no whitespace, padding
 * exactly where (and only where) the variant has it, and the unused low bits
 * of the last character zero, so that one value has exactly one encoding.
 */
#ifndef ATTEST_BASE64_H
#define ATTEST_BASE64_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ahv_b64_alphabet {
	AHV_B64_STD,
	AHV_B64_URL,
};

/* Characters that encode n bytes (no NUL). */
size_t ahv_b64_encoded_len(size_t n, enum ahv_b64_alphabet a);
/* Encode n bytes into out (ahv_b64_encoded_len(n) + 1 bytes, NUL-terminated);
 * returns the characters written. */
size_t ahv_b64_encode(char *out, const uint8_t *in, size_t n, enum ahv_b64_alphabet a);
/* Bytes that len characters may decode to at most (a bound for out). */
size_t ahv_b64_decoded_max(size_t len);
/* Decode exactly len characters into out (cap bytes). Returns the bytes
 * written, or -1 for anything not canonical in alphabet a or longer than cap. */
long ahv_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len, enum ahv_b64_alphabet a);

#ifdef __cplusplus
}
#endif
#endif
