/*
 * store.h - durable storage of the verifier: enrolled keys, issued nonces
 * and the append-only audit log. Two back ends behind one interface:
 *   sqlite:PATH            embedded default (WAL, synchronous=FULL)
 *   postgresql://... | postgres://... | pg:CONNINFO
 *                          shared by several replicas (synchronous_commit on)
 * A store handle is used by one thread at a time.
 */
#ifndef AHV_STORE_H
#define AHV_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verify.h"

struct v_store;

enum v_nonce_result { V_NONCE_OK = 0, V_NONCE_UNKNOWN, V_NONCE_EXPIRED, V_NONCE_REPLAYED };

struct v_audit {
	char decision_id[37];
	int64_t ts_ms;
	char replica[65];
	char client[64];
	const char *verdict; /* "accept" / "reject" */
	const char *code;    /* error code or "ok" */
	unsigned http;
	const char *detail;
	char nonce[129];     /* hex, "" if none */
	char hv_key_id[65], guest_key_id[65], boot_id[33];
	uint64_t counter;
	char composite[129], request_digest[129];
	char *evidence;      /* JSON text (checks, regions), may be NULL */
};

struct v_store *v_store_open(const char *url, char *err, size_t errlen);
void v_store_close(struct v_store *st);
const char *v_store_kind(const struct v_store *st); /* "sqlite" / "postgresql" */
/* Create tables, triggers and indexes if missing (`attest-verifier init`,
 * PostgreSQL: as the tables' owner). */
int v_store_init(struct v_store *st, char *err, size_t errlen);
/* The daemon's start: SQLite as v_store_init (its own file); PostgreSQL
 * runs no DDL (the least-privilege role cannot), it checks the tables. */
int v_store_attach(struct v_store *st, char *err, size_t errlen);
/* PostgreSQL: grant the daemon's least privileges to role (SELECT on keys,
 * SELECT/INSERT on nonces, nonce_uses and audit, the retention function). */
int v_store_grant(struct v_store *st, const char *role, char *err, size_t errlen);

int v_store_begin(struct v_store *st);
int v_store_commit(struct v_store *st);
void v_store_rollback(struct v_store *st);
int v_store_ping(struct v_store *st);

int v_store_nonce_insert(struct v_store *st, const char *nonce_hex,
			 int64_t issued_ms, int64_t expires_ms,
			 const char *replica);
/* Consume atomically; *res tells why not. 0 on success (whatever *res). */
int v_store_nonce_consume(struct v_store *st, const char *nonce_hex,
			  int64_t now_ms, const char *decision_id,
			  enum v_nonce_result *res);
/* Unused nonces expired before now_ms, used ones expired before
 * used_before_ms (now - nonce_retention_s). */
int v_store_nonce_gc(struct v_store *st, int64_t now_ms, int64_t used_before_ms);
/* After a failed COMMIT: did it happen after all? 1 yes, 0 no, -1 error. */
int v_store_audit_has(struct v_store *st, const char *decision_id);
int v_store_nonce_issued(struct v_store *st, const char *nonce_hex);
int v_store_audit_insert(struct v_store *st, const struct v_audit *a);

/* Who changes a key and how; every key change is an audit row. */
struct v_key_change {
	const char *replica;  /* audit `replica` (the CLI's replica_id) */
	const char *actor;    /* audit `client`: "cli:USER" */
	bool unrevoke;        /* enrolling a revoked key again is allowed */
	char *evidence;       /* JSON for the audit row, may be NULL */
	/* the key's record: "tpm-ek" (EK-rooted evidence checked),
	 * "insecure-no-evidence" (hv key without it), "operator" (guest) */
	const char *enrollment;
};

/* Enroll (or re-enroll an active key: new name). A revoked key is refused
 * unless kc->unrevoke; a key of another kind always. Audited. */
int v_store_key_add(struct v_store *st, int kind, const char *key_id_hex,
		    unsigned sig_alg, const char *spki_pem, const char *name,
		    const struct v_key_change *kc, char *err, size_t errlen);
int v_store_key_revoke(struct v_store *st, const char *key_id_hex,
		       const struct v_key_change *kc, char *err, size_t errlen);
/* Inside the caller's transaction: is each key enrolled as its kind and not
 * revoked right now? (Revocation holds from the next request on, whatever
 * the daemon's loaded key set says.) */
int v_store_keys_active(struct v_store *st, const char *hv_key_hex,
			const char *guest_key_hex, bool *hv_ok, bool *guest_ok);
int v_store_keys_load(struct v_store *st, struct v_keyset *ks, char *err,
		      size_t errlen);
int v_store_keys_list(struct v_store *st, FILE *out);
/* Audit rows as JSON lines, seq > since; limit 0 = all. */
int v_store_audit_dump(struct v_store *st, FILE *out, int64_t since,
		       int64_t limit);
const char *v_store_errmsg(struct v_store *st);

#endif
