/*
 * config.h - the verifier configuration file (JSON, docs/verifier.md
 * "Configuration"). Relative paths are relative to the file's folder.
 */
#ifndef AHV_CONFIG_H
#define AHV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct v_config {
	char listen[64];
	unsigned port;
	char storage[1024];
	char policy[1024];
	char token_key[1024];
	char tls_cert[1024], tls_key[1024];
	char issuer[256];
	char replica_id[65];
	int64_t token_ttl_s, nonce_ttl_s, nonce_retention_s;
	unsigned max_body_bytes, max_connections, max_batch, max_challenge_count;
	/* abuse limits, per client address (docs/verifier.md) */
	unsigned max_connections_per_client, request_timeout_s;
	unsigned request_deadline_s; /* total time to read one request (slowloris) */
	size_t verify_tables_max;    /* P-256 keys with a verify table (~150 KiB each) */
	int64_t client_requests_per_s, client_request_burst;
	int64_t client_nonces_per_s, client_nonce_burst;
	int64_t client_unauth_audits_per_s, client_unauth_audit_burst;
};

/* Defaults, then the file (if path != NULL). 0 on success. */
int v_config_load(struct v_config *c, const char *path, char *err,
		  size_t errlen);

#endif
