/*
 * sha256_shani.c - SHA-256 compression with the x86 SHA extensions
 * (SHA256RNDS2/SHA256MSG1/SHA256MSG2, SDM Vol. 2B instruction reference).
 * This file alone is built with -msse4.1 -msha and uses XMM registers: in the
 * hypervisor it only runs inside a vector-state save (see sha256.c).
 */
#include <immintrin.h>
#include "sha256_block.h"

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
			msg = _mm_add_epi32(m[i & 3], _mm_load_si128((const __m128i *)&ahv_sha256_k[4 * i]));
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
