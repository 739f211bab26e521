/* Scripted transport and response mutation loop (tpm_test_util.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tpm_test_util.h"

int script_submit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
		  size_t rsp_cap, size_t *rsp_len)
{
	struct script *s = ctx;
	s->calls++;
	if (cmd_len > sizeof(s->cmd))
		return -1;
	memcpy(s->cmd, cmd, cmd_len);
	s->cmd_len = cmd_len;
	if (s->fail || s->n == 0)
		return -1;
	unsigned i = s->next < s->n ? s->next : s->n - 1;
	s->next++;
	if (s->rsp_len[i] > rsp_cap)
		return -1;
	memcpy(rsp, s->rsp[i], s->rsp_len[i]);
	*rsp_len = s->rsp_len[i] + s->claim_extra;
	return 0;
}

static uint64_t rng;
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void set_size(uint8_t *b, size_t len)
{
	if (len >= 6) {
		b[2] = (uint8_t)(len >> 24);
		b[3] = (uint8_t)(len >> 16);
		b[4] = (uint8_t)(len >> 8);
		b[5] = (uint8_t)len;
	}
}

unsigned mutate_responses(tpm_runner runner, const uint8_t *rsp, size_t len,
			  unsigned iterations, uint64_t seed)
{
	static uint8_t buf[AHV_TPM_BUF_SIZE];
	static struct ahv_tpm t;
	struct script s;
	unsigned accepted = 0;

	assert_true(len >= 10 && len + 64 <= sizeof(buf));
	rng = seed | 1;
	for (unsigned it = 0; it < iterations; it++) {
		size_t n = len;
		int must_fail = 0;
		memcpy(buf, rsp, len);
		switch (next_rand() % 6) {
		case 0: /* truncate, header untouched */
			n = next_rand() % len;
			must_fail = 1;
			break;
		case 1: /* truncate, responseSize made consistent */
			n = next_rand() % len;
			set_size(buf, n);
			must_fail = 1;
			break;
		case 2: { /* trailing bytes, responseSize consistent */
			size_t extra = 1 + next_rand() % 32;
			for (size_t i = 0; i < extra; i++)
				buf[len + i] = (uint8_t)next_rand();
			n = len + extra;
			set_size(buf, n);
			must_fail = 1;
			break;
		}
		case 3: /* flip bits in 1..4 bytes past the header */
			for (unsigned k = 0, m = 1 + next_rand() % 4; k < m && len > 10; k++)
				buf[10 + next_rand() % (len - 10)] ^= (uint8_t)(1u << (next_rand() % 8));
			break;
		case 4: /* overwrite a byte anywhere */
			buf[next_rand() % len] = (uint8_t)next_rand();
			break;
		default: { /* damage a 16-bit length-looking field */
			size_t at = 10 + (len > 12 ? next_rand() % (len - 11) : 0);
			if (at + 1 < len) {
				uint16_t v = (uint16_t)((buf[at] << 8) | buf[at + 1]);
				v = (uint16_t)(v + (int)(next_rand() % 9) - 4);
				buf[at] = (uint8_t)(v >> 8);
				buf[at + 1] = (uint8_t)v;
			}
			break;
		}
		}
		memset(&s, 0, sizeof(s));
		s.rsp[0] = buf;
		s.rsp_len[0] = n;
		s.n = 1;
		ahv_tpm_init(&t, script_submit, &s);
		int err = runner(&t);
		assert_true(err <= 0 && err >= AHV_TPM_ENOLOAD);
		if (must_fail)
			assert_int_not_equal(err, AHV_TPM_OK);
		if (err == AHV_TPM_OK)
			accepted++;
	}
	return accepted;
}
