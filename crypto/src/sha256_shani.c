/*
 * sha256_shani.c - SHA-256 compression with the x86 SHA extensions
 * (SHA256RNDS2/SHA256MSG1/SHA256MSG2, SDM Vol. 2B instruction reference).
 * This file alone is built with -msse4.1 -msha and uses XMM registers: in the
 * hypervisor it only runs inside a vector-state save (see hash.c).
 */
#include <immintrin.h>
#include "sha256_block.h"

/* FIPS 180-4 section 4.2.2 round constants, four per 128-bit lane group. */
static const uint32_t K[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

void ahv_sha256_blocks_shani(uint32_t state[8], const uint8_t *data, size_t nblocks)
{
	/* Byte swap of each 32-bit word: the message is big-endian. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);  /* A B C D */
	__m128i st1 = _mm_loadu_si128((const __m128i *)&state[4]);  /* E F G H */
	__m128i st0;

	/* SHA256RNDS2 keeps the state as ABEF / CDGH. */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);
	st1 = _mm_shuffle_epi32(st1, 0x1B);
	st0 = _mm_alignr_epi8(tmp, st1, 8);       /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);    /* CDGH */

	while (nblocks--) {
		const __m128i abef = st0, cdgh = st1;
		__m128i m[4];

#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i msg;
			if (i < 4) {
				m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
			} else {
				/* W[4i..4i+3] from the previous sixteen words (FIPS 180-4 6.2.2 step 1). */
				__m128i t = _mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]);
				t = _mm_add_epi32(t, _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4));
				m[i & 3] = _mm_sha256msg2_epu32(t, m[(i + 3) & 3]);
			}
			msg = _mm_add_epi32(m[i & 3], _mm_load_si128((const __m128i *)&K[4 * i]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			msg = _mm_shuffle_epi32(msg, 0x0E);
			st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
		}
		st0 = _mm_add_epi32(st0, abef);
		st1 = _mm_add_epi32(st1, cdgh);
		data += 64;
	}

	tmp = _mm_shuffle_epi32(st0, 0x1B);       /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);       /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);    /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);       /* HGFE */
	_mm_storeu_si128((__m128i *)&state[0], st0);
	_mm_storeu_si128((__m128i *)&state[4], st1);
}
