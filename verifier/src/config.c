#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

static void defaults(struct v_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen, sizeof c->listen, "127.0.0.1");
	c->port = 8443;
	snprintf(c->storage, sizeof c->storage, "sqlite:/var/lib/attest-verifier/verifier.db");
	snprintf(c->policy, sizeof c->policy, "/etc/attest-verifier/policy.json");
	snprintf(c->token_key, sizeof c->token_key, "/etc/attest-verifier/token-key.pem");
	snprintf(c->issuer, sizeof c->issuer, "attest-verifier");
	if (gethostname(c->replica_id, sizeof c->replica_id - 1))
		snprintf(c->replica_id, sizeof c->replica_id, "verifier");
	c->token_ttl_s = 300;
	c->nonce_ttl_s = 120;
	c->nonce_retention_s = 86400;
	c->max_body_bytes = 65536;
	c->max_connections = 1024;
	c->max_batch = 512;
	c->max_challenge_count = 1000;
	c->max_connections_per_client = 64;
	c->request_timeout_s = 10;
	c->request_deadline_s = 30;
	c->verify_tables_max = 1024;
	c->client_requests_per_s = 500;
	c->client_request_burst = 1000;
	c->client_nonces_per_s = 50;
	c->client_nonce_burst = 1000;
	c->client_unauth_audits_per_s = 5;
	c->client_unauth_audit_burst = 50;
}

static int str(json_t *root, const char *k, char *out, size_t cap,
	       const char *dir, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, k);
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		snprintf(err, errlen, "\"%s\" must be a string shorter than %zu bytes", k, cap);
		return -1;
	}
	const char *s = json_string_value(v);
	int n = dir && s[0] && s[0] != '/' ? snprintf(out, cap, "%s/%s", dir, s)
					   : snprintf(out, cap, "%s", s);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "\"%s\": path too long", k);
		return -1;
	}
	return 0;
}

static int num(json_t *root, const char *k, int64_t min, int64_t max,
	       int64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, k);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, errlen, "\"%s\" must be an integer in %lld..%lld", k, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int v_config_load(struct v_config *c, const char *path, char *err,
		  size_t errlen)
{
	defaults(c);
	if (!path)
		return 0;
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "%s: line %d: %s", path, je.line, je.text);
		return -1;
	}
	char dir[PATH_MAX], e[256] = "";
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	static const char *const known[] = {"listen", "port", "storage", "policy", "token_key", "tls_cert", "tls_key",
					    "issuer", "replica_id", "token_ttl_s", "nonce_ttl_s", "nonce_retention_s",
					    "max_body_bytes", "max_connections", "max_batch", "max_challenge_count",
					    "max_connections_per_client", "request_timeout_s", "request_deadline_s", "verify_tables_max", "client_requests_per_s",
					    "client_request_burst", "client_nonces_per_s", "client_nonce_burst",
					    "client_unauth_audits_per_s", "client_unauth_audit_burst", "comment", NULL};
	const char *k;
	json_t *v;
	int rc = -1;
	json_object_foreach(root, k, v)
	{
		int ok = 0;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(known[i], k);
		if (!ok) {
			snprintf(e, sizeof e, "unknown key \"%s\"", k);
			goto out;
		}
	}
	int64_t port = c->port, tt = c->token_ttl_s, nt = c->nonce_ttl_s, nr = c->nonce_retention_s,
		mb = c->max_body_bytes, mc = c->max_connections, bt = c->max_batch, cc = c->max_challenge_count,
		mpc = c->max_connections_per_client, rt = c->request_timeout_s, rd = c->request_deadline_s, vt = c->verify_tables_max;
	char storage[1024];
	if (str(root, "listen", c->listen, sizeof c->listen, NULL, e, sizeof e) ||
	    str(root, "storage", storage, sizeof storage, NULL, e, sizeof e) ||
	    str(root, "policy", c->policy, sizeof c->policy, dir, e, sizeof e) ||
	    str(root, "token_key", c->token_key, sizeof c->token_key, dir, e, sizeof e) ||
	    str(root, "tls_cert", c->tls_cert, sizeof c->tls_cert, dir, e, sizeof e) ||
	    str(root, "tls_key", c->tls_key, sizeof c->tls_key, dir, e, sizeof e) ||
	    str(root, "issuer", c->issuer, sizeof c->issuer, NULL, e, sizeof e) ||
	    str(root, "replica_id", c->replica_id, sizeof c->replica_id, NULL, e, sizeof e) ||
	    num(root, "port", 0, 65535, &port, e, sizeof e) ||
	    num(root, "token_ttl_s", 1, 86400 * 366, &tt, e, sizeof e) ||
	    num(root, "nonce_ttl_s", 1, 86400, &nt, e, sizeof e) ||
	    num(root, "nonce_retention_s", 0, 86400 * 3660, &nr, e, sizeof e) ||
	    num(root, "max_body_bytes", 4096, 16 << 20, &mb, e, sizeof e) ||
	    num(root, "max_connections", 1, 65536, &mc, e, sizeof e) ||
	    num(root, "max_batch", 1, 65536, &bt, e, sizeof e) ||
	    num(root, "max_challenge_count", 1, 100000, &cc, e, sizeof e) ||
	    num(root, "max_connections_per_client", 1, 65536, &mpc, e, sizeof e) ||
	    num(root, "request_timeout_s", 1, 3600, &rt, e, sizeof e) ||
	    num(root, "request_deadline_s", 1, 3600, &rd, e, sizeof e) ||
	    num(root, "verify_tables_max", 0, 1000000, &vt, e, sizeof e) ||
	    num(root, "client_requests_per_s", 0, 1000000, &c->client_requests_per_s, e, sizeof e) ||
	    num(root, "client_request_burst", 1, 10000000, &c->client_request_burst, e, sizeof e) ||
	    num(root, "client_nonces_per_s", 0, 1000000, &c->client_nonces_per_s, e, sizeof e) ||
	    num(root, "client_nonce_burst", 1, 10000000, &c->client_nonce_burst, e, sizeof e) ||
	    num(root, "client_unauth_audits_per_s", 0, 1000000, &c->client_unauth_audits_per_s, e, sizeof e) ||
	    num(root, "client_unauth_audit_burst", 1, 10000000, &c->client_unauth_audit_burst, e, sizeof e))
		goto out;
	if (c->client_nonces_per_s && c->client_nonce_burst < cc) {
		snprintf(e, sizeof e, "\"client_nonce_burst\" (%lld) below \"max_challenge_count\" (%lld): no full challenge could pass",
			 (long long)c->client_nonce_burst, (long long)cc);
		goto out;
	}
	if (json_object_get(root, "storage")) {
		/* sqlite:relative/path is relative to the config folder too */
		int n = !strncmp(storage, "sqlite:", 7) && storage[7] && storage[7] != '/'
				? snprintf(c->storage, sizeof c->storage, "sqlite:%s/%s", dir, storage + 7)
				: snprintf(c->storage, sizeof c->storage, "%s", storage);
		if (n < 0 || (size_t)n >= sizeof c->storage) {
			snprintf(e, sizeof e, "\"storage\" too long");
			goto out;
		}
	}
	c->port = (unsigned)port;
	c->token_ttl_s = tt;
	c->nonce_ttl_s = nt;
	c->nonce_retention_s = nr;
	c->max_body_bytes = (unsigned)mb;
	c->max_connections = (unsigned)mc;
	c->max_batch = (unsigned)bt;
	c->max_challenge_count = (unsigned)cc;
	c->max_connections_per_client = (unsigned)mpc;
	c->request_timeout_s = (unsigned)rt;
	c->request_deadline_s = (unsigned)rd;
	c->verify_tables_max = (size_t)vt;
	rc = 0;
out:
	if (rc)
		snprintf(err, errlen, "%s: %s", path, e);
	json_decref(root);
	return rc;
}
