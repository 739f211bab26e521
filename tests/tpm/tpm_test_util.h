/*
 * tpm_test_util.h - test-only helpers for the TPM library: a scripted
 * transport that records commands and plays back canned responses, and the
 * mutation loop that feeds damaged responses to a command's parser.
 */
#ifndef AHV_TPM_TEST_UTIL_H
#define AHV_TPM_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ahv/tpm_commands.h"

#define SCRIPT_MAX 8

/* Plays responses[0], [1], ... (the last one repeats); records the last
 * command sent. */
struct script {
	const uint8_t *rsp[SCRIPT_MAX];
	size_t rsp_len[SCRIPT_MAX];
	unsigned n, next;
	uint8_t cmd[AHV_TPM_BUF_SIZE];
	size_t cmd_len;
	unsigned calls;
	int fail;             /* nonzero: the transport reports failure */
	size_t claim_extra;   /* report this many bytes more than the buffer */
};
int script_submit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
		  size_t rsp_cap, size_t *rsp_len);

/* A command run against some transport, as the mutation loop replays it. */
typedef int (*tpm_runner)(struct ahv_tpm *t);

/* Feed `iterations` damaged copies of a valid response to runner: random
 * truncations (with and without responseSize fixed up), trailing bytes,
 * byte flips and overwrites, size-field edits. Asserts (cmocka) that every
 * result is a named status, and that truncated or extended ones fail.
 * Returns the number of mutants that were accepted (OK). */
unsigned mutate_responses(tpm_runner runner, const uint8_t *rsp, size_t len,
			  unsigned iterations, uint64_t seed);

#endif
