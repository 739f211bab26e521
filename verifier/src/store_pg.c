/* store_pg.c - the verifier's storage on PostgreSQL (postgresql://...,
 * postgres://..., pg:CONNINFO): shared by several replicas,
 * synchronous_commit on, the daemon under a least-privilege role
 * (store_impl.h, docs/operator-verifier.md). */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_impl.h"

struct pg_store {
	struct v_store base; /* first: a struct v_store * is a struct pg_store * */
	PGconn *pg;
};

static PGconn *conn(struct v_store *st)
{
	return ((struct pg_store *)st)->pg;
}

/* Run by `attest-verifier init` as the tables' owner; the daemon runs none
 * of it (its role has no CREATE), it only checks the tables are there. */
static const char *const schema[] = {
	"SET client_min_messages TO warning",
	"SELECT pg_advisory_xact_lock(4242)", /* serialize concurrent inits */
	"CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('hv','guest')), sig_alg INTEGER NOT NULL, name TEXT NOT NULL, spki_pem TEXT NOT NULL, enrolled_ms BIGINT NOT NULL, revoked_ms BIGINT, enrollment TEXT NOT NULL DEFAULT 'unrecorded')",
	/* tables made before enrollments were recorded */
	"ALTER TABLE keys ADD COLUMN IF NOT EXISTS enrollment TEXT NOT NULL DEFAULT 'unrecorded'",
	"CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, issued_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, consumed_ms BIGINT, decision_id TEXT, replica TEXT)",
	"CREATE TABLE IF NOT EXISTS nonce_uses (nonce TEXT PRIMARY KEY, consumed_ms BIGINT NOT NULL, decision_id TEXT NOT NULL, expires_ms BIGINT NOT NULL)",
	V_STORE_MIGRATE_USES,
	"CREATE TABLE IF NOT EXISTS audit (seq BIGSERIAL PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE, ts_ms BIGINT NOT NULL, replica TEXT NOT NULL, client TEXT NOT NULL, verdict TEXT NOT NULL, code TEXT NOT NULL, http INTEGER NOT NULL, detail TEXT NOT NULL, nonce TEXT NOT NULL, hv_key_id TEXT NOT NULL, guest_key_id TEXT NOT NULL, boot_id TEXT NOT NULL, counter BIGINT NOT NULL, composite_digest TEXT NOT NULL, request_digest TEXT NOT NULL, evidence TEXT)",
	"CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$",
	"DROP TRIGGER IF EXISTS audit_append_only ON audit",
	"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
	/* TRUNCATE fires no row or UPDATE/DELETE trigger: its own */
	"DROP TRIGGER IF EXISTS audit_no_truncate ON audit",
	"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
	"CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_ms)",
	"CREATE INDEX IF NOT EXISTS nonce_uses_expiry ON nonce_uses(expires_ms)",
	/* the daemon's retention without DELETE rights: expired nonces only */
	"DROP FUNCTION IF EXISTS attest_nonce_gc(BIGINT)",
	"CREATE OR REPLACE FUNCTION attest_nonce_gc(now_ms BIGINT, used_before_ms BIGINT) RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public AS "
	"$$ DELETE FROM nonce_uses WHERE expires_ms < used_before_ms; "
	"DELETE FROM nonces WHERE expires_ms < now_ms AND NOT EXISTS (SELECT 1 FROM nonce_uses u WHERE u.nonce = nonces.nonce) $$",
	"REVOKE ALL ON FUNCTION attest_nonce_gc(BIGINT, BIGINT) FROM PUBLIC",
	NULL};

/* The least privileges of the daemon's role (docs/operator-verifier.md);
 * %s is the role, quoted by the caller. */
static const char *const grants[] = {
	"GRANT USAGE ON SCHEMA public TO %s",
	"GRANT SELECT ON keys TO %s",
	"GRANT SELECT, INSERT ON nonces, nonce_uses, audit TO %s",
	"GRANT USAGE ON SEQUENCE audit_seq_seq TO %s",
	"GRANT EXECUTE ON FUNCTION attest_nonce_gc(BIGINT, BIGINT) TO %s",
	NULL};

static const char *pg_errtext(struct v_store *st)
{
	return PQerrorMessage(conn(st));
}

/* Run q; 0 if its status is want, else -1 with st->err "what: ..." */
static int pg_simple(struct v_store *st, const char *q, ExecStatusType want, const char *what)
{
	PGresult *r = PQexec(conn(st), q);
	int ok = PQresultStatus(r) == want;
	PQclear(r);
	if (!ok)
		v_store_set_err(st, what);
	return ok ? 0 : -1;
}

/* Per connection: an acknowledged decision must survive a crash. */
static int pg_session(struct v_store *st)
{
	return pg_simple(st, "SET synchronous_commit TO on", PGRES_COMMAND_OK, "SET synchronous_commit");
}

/* A connection lost to a server restart is opened again before the next
 * statement, but never inside a transaction (whatever it did is gone: the
 * caller's failed statement already aborts it). So a replica serves again
 * as soon as the database does. */
static int pg_usable(struct v_store *st)
{
	if (PQstatus(conn(st)) == CONNECTION_OK)
		return 0;
	if (st->in_tx) {
		v_store_set_err(st, "connection lost in a transaction");
		return -1;
	}
	PQreset(conn(st));
	if (PQstatus(conn(st)) != CONNECTION_OK) {
		v_store_set_err(st, "reconnect");
		return -1;
	}
	return pg_session(st);
}

static void pg_close(struct v_store *st)
{
	if (conn(st))
		PQfinish(conn(st));
	free(st);
}

/* Run statements in one transaction; %s in a statement is replaced by arg
 * (an already quoted identifier). */
static int pg_script(struct v_store *st, const char *const *stmts, const char *arg, char *err, size_t errlen)
{
	PGconn *pg = conn(st);
	PGresult *r = PQexec(pg, "BEGIN");
	PQclear(r);
	for (int i = 0; stmts[i]; i++) {
		char q[1024];
		snprintf(q, sizeof q, stmts[i], arg ? arg : "");
		r = PQexec(pg, arg ? q : stmts[i]);
		ExecStatusType s = PQresultStatus(r);
		PQclear(r);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "postgresql: %s", PQerrorMessage(pg));
			r = PQexec(pg, "ROLLBACK");
			PQclear(r);
			return -1;
		}
	}
	r = PQexec(pg, "COMMIT");
	ExecStatusType s = PQresultStatus(r);
	PQclear(r);
	if (s != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "postgresql commit: %s", PQerrorMessage(pg));
		return -1;
	}
	return 0;
}

static int pg_init(struct v_store *st, char *err, size_t errlen)
{
	return pg_script(st, schema, NULL, err, errlen);
}

/* the daemon's start: no DDL (the least-privilege role cannot), the
 * tables must be there */
static int pg_attach(struct v_store *st, char *err, size_t errlen)
{
	PGresult *r = PQexec(conn(st), "SELECT 1 FROM keys, nonces, nonce_uses, audit LIMIT 0");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (!ok)
		snprintf(err, errlen, "postgresql: %s(run `attest-verifier init --grant ROLE` as the tables' owner)",
			 PQerrorMessage(conn(st)));
	return ok ? 0 : -1;
}

static int pg_grant(struct v_store *st, const char *role, char *err, size_t errlen)
{
	char *q = PQescapeIdentifier(conn(st), role, strlen(role));
	if (!q) {
		snprintf(err, errlen, "role name: %s", PQerrorMessage(conn(st)));
		return -1;
	}
	int rc = pg_script(st, grants, q, err, errlen);
	PQfreemem(q);
	return rc;
}

static long pg_run(struct v_store *st, int q, const struct v_params *p, struct v_row *row)
{
	if (pg_usable(st))
		return -1;
	PGresult *r = PQexecParams(conn(st), v_store_sql[q], p ? p->n : 0, NULL, p ? p->v : NULL, NULL, NULL, 0);
	ExecStatusType es = PQresultStatus(r);
	long n;
	if (es == PGRES_TUPLES_OK) {
		n = PQntuples(r);
		if (row && n > 0) {
			row->row = true;
			for (int c = 0; c < V_STORE_ROW_COLS && c < PQnfields(r); c++) {
				row->is_null[c] = PQgetisnull(r, 0, c);
				row->iv[c] = strtoll(PQgetvalue(r, 0, c), NULL, 10);
			}
		}
	} else if (es == PGRES_COMMAND_OK) {
		n = atol(PQcmdTuples(r));
	} else {
		v_store_set_err(st, v_store_sql[q]);
		n = -1;
	}
	PQclear(r);
	return n;
}

/* nothing to roll back on a connection lost outside our transaction */
static bool pg_tx_open(struct v_store *st, bool in_tx)
{
	return in_tx || PQstatus(conn(st)) == CONNECTION_OK;
}

static int pg_ping(struct v_store *st)
{
	return pg_usable(st) ? -1 : pg_simple(st, "SELECT 1", PGRES_TUPLES_OK, "ping");
}

/* through the owner's function: the daemon's role may not DELETE */
static int pg_nonce_gc(struct v_store *st, int64_t now_ms, int64_t used_before_ms)
{
	struct v_params p = {0};
	v_param_int(&p, now_ms);
	v_param_int(&p, used_before_ms);
	if (pg_usable(st))
		return -1;
	PGresult *r = PQexecParams(conn(st), "SELECT attest_nonce_gc(CAST($1 AS BIGINT), CAST($2 AS BIGINT))", 2, NULL,
				   p.v, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (!ok)
		v_store_set_err(st, "nonce gc");
	return ok ? 0 : -1;
}

/* PQexecParams of a low-rate statement; its result if it has status want */
static PGresult *pg_exec_text(struct v_store *st, const char *q, int np, const char *const *pv,
			      ExecStatusType want, char *err, size_t errlen)
{
	if (pg_usable(st)) {
		snprintf(err, errlen, "%s", st->err);
		return NULL;
	}
	PGresult *r = PQexecParams(conn(st), q, np, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != want) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn(st)));
		PQclear(r);
		return NULL;
	}
	return r;
}

static int pg_exec(struct v_store *st, const char *q, int np, const char *const *pv, long *changes, char *err,
		   size_t errlen)
{
	PGresult *r = pg_exec_text(st, q, np, pv, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -1;
	if (changes)
		*changes = atol(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

static int pg_select(struct v_store *st, const char *q, int np, const char *const *pv, v_row_fn fn, void *ctx,
		     char *err, size_t errlen)
{
	const char *vals[24];
	PGresult *r = pg_exec_text(st, q, np, pv, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -1;
	int nc = PQnfields(r);
	for (int row = 0; row < PQntuples(r); row++) {
		for (int i = 0; i < nc && i < 24; i++)
			vals[i] = PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
		if (fn(ctx, nc, vals)) {
			PQclear(r);
			snprintf(err, errlen, "row rejected");
			return -1;
		}
	}
	PQclear(r);
	return 0;
}

static const struct v_store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.init = pg_init,
	.attach = pg_attach,
	.grant = pg_grant,
	.errtext = pg_errtext,
	.run = pg_run,
	.tx_open = pg_tx_open,
	.ping = pg_ping,
	.nonce_gc = pg_nonce_gc,
	.exec = pg_exec,
	.select = pg_select,
	/* two CLIs changing one key on a shared database: one waits */
	.key_row_sql = "SELECT kind, revoked_ms FROM keys WHERE key_id = $1 FOR UPDATE",
};

struct v_store *v_store_pg_open(const char *conninfo, char *err, size_t errlen)
{
	struct pg_store *s = v_store_alloc(sizeof *s, &pg_ops, err, errlen);
	if (!s)
		return NULL;
	setenv("PGCONNECT_TIMEOUT", "5", 0); /* a reconnect must not hang the writer */
	s->pg = PQconnectdb(conninfo);
	if (!s->pg || PQstatus(s->pg) != CONNECTION_OK) {
		snprintf(err, errlen, "postgresql: %s", s->pg ? PQerrorMessage(s->pg) : "cannot connect");
		pg_close(&s->base);
		return NULL;
	}
	if (pg_session(&s->base)) {
		snprintf(err, errlen, "postgresql: %s", s->base.err);
		pg_close(&s->base);
		return NULL;
	}
	return &s->base;
}
