/*
 * client_limits.h - per-client abuse limits of attest-verifierd (docs/verifier.md
 * "Abuse limits"): token buckets per client address for requests, issued
 * nonces and individually audited unauthenticated rejections, and the
 * counts of the rejections that were not recorded one by one.
 * Thread-safe; bounded (least recently seen clients are forgotten).
 */
#ifndef AHV_CLIENT_LIMITS_H
#define AHV_CLIENT_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "evidence.h"

enum v_bucket { V_B_REQUESTS, V_B_NONCES, V_B_UNAUTH_AUDIT, V_B__N };

struct v_rate {
	double per_s; /* 0: unlimited */
	double burst;
};

int v_limits_init(const struct v_rate rates[V_B__N], unsigned max_clients);
/* Take n tokens of bucket b for client at now_ns; false: over the limit
 * (nothing taken). */
bool v_limits_take(const char *client, enum v_bucket b, double n, uint64_t now_ns);
/* An unauthenticated rejection that was not audited individually. */
void v_limits_note_unrecorded(const char *client, enum v_err code);
/* For each client with unrecorded rejections: fn(ctx, client, total,
 * per-code counts, first_ms, last_ms); the counts are reset. */
typedef void (*v_limits_summary_fn)(void *ctx, const char *client, uint64_t total,
				    const uint32_t counts[V_E__COUNT], int64_t first_ms, int64_t last_ms);
void v_limits_drain(v_limits_summary_fn fn, void *ctx);

#endif
