#include "store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "vutil.h"

enum { ST_SQLITE = 1, ST_PG = 2 };

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_NONCE_INS, Q_NONCE_GET, Q_NONCE_USE,
	Q_NONCE_USED, Q_NONCE_GC, Q_NONCE_USES_GC, Q_AUDIT_INS, Q_AUDIT_HAS, Q_KEYS_ACTIVE, Q__N
};

/* One SQL text per query; $n placeholders work in both (SQLite accepts
 * $NNN as a named parameter, bound by index in order of appearance). */
static const char *const sql[Q__N] = {
	[Q_BEGIN] = "BEGIN",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_NONCE_INS] = "INSERT INTO nonces(nonce, issued_ms, expires_ms, replica) VALUES ($1, $2, $3, $4)",
	/* Consumption is an INSERT (the daemon's role needs no UPDATE): the
	 * primary key makes a second use of a nonce insert nothing; with
	 * PostgreSQL a concurrent insert by another replica waits for the
	 * first transaction and then conflicts. */
	[Q_NONCE_GET] = "SELECT expires_ms FROM nonces WHERE nonce = $1",
	[Q_NONCE_USE] = "INSERT INTO nonce_uses(nonce, consumed_ms, decision_id, expires_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (nonce) DO NOTHING",
	[Q_NONCE_USED] = "SELECT 1 FROM nonce_uses WHERE nonce = $1",
	/* PostgreSQL: the daemon's role may not DELETE; an owner's function
	 * (SECURITY DEFINER) prunes expired nonces only */
	/* retention: an unused nonce goes as soon as it expires (nothing can
	 * use it any more); a used one, so that a replay reads "replayed",
	 * once its nonce_uses row is older than nonce_retention_s */
	[Q_NONCE_USES_GC] = "DELETE FROM nonce_uses WHERE expires_ms < $1",
	[Q_NONCE_GC] = "DELETE FROM nonces WHERE expires_ms < $1 AND NOT EXISTS (SELECT 1 FROM nonce_uses u WHERE u.nonce = nonces.nonce)",
	[Q_AUDIT_HAS] = "SELECT 1 FROM audit WHERE decision_id = $1",
	/* 1: enrolled and active, 0: revoked, NULL: not enrolled (per kind) */
	[Q_KEYS_ACTIVE] = "SELECT (SELECT CASE WHEN revoked_ms IS NULL THEN 1 ELSE 0 END FROM keys WHERE key_id = $1 AND kind = 'hv'), "
			  "(SELECT CASE WHEN revoked_ms IS NULL THEN 1 ELSE 0 END FROM keys WHERE key_id = $2 AND kind = 'guest')",
	[Q_AUDIT_INS] = "INSERT INTO audit(decision_id, ts_ms, replica, client, verdict, code, http, detail, nonce, hv_key_id, guest_key_id, boot_id, counter, composite_digest, request_digest, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
};

/* nonces consumed by an older version (nonces.consumed_ms) stay consumed */
#define MIGRATE_USES "INSERT INTO nonce_uses(nonce, consumed_ms, decision_id, expires_ms) SELECT nonce, consumed_ms, COALESCE(decision_id, ''), expires_ms FROM nonces WHERE consumed_ms IS NOT NULL ON CONFLICT (nonce) DO NOTHING"

static const char *const schema_sqlite[] = {
	"PRAGMA journal_mode=WAL",
	"CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('hv','guest')), sig_alg INTEGER NOT NULL, name TEXT NOT NULL, spki_pem TEXT NOT NULL, enrolled_ms INTEGER NOT NULL, revoked_ms INTEGER, enrollment TEXT NOT NULL DEFAULT 'unrecorded')",
	"CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, consumed_ms INTEGER, decision_id TEXT, replica TEXT)",
	"CREATE TABLE IF NOT EXISTS nonce_uses (nonce TEXT PRIMARY KEY, consumed_ms INTEGER NOT NULL, decision_id TEXT NOT NULL, expires_ms INTEGER NOT NULL)",
	MIGRATE_USES,
	"CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, decision_id TEXT NOT NULL UNIQUE, ts_ms INTEGER NOT NULL, replica TEXT NOT NULL, client TEXT NOT NULL, verdict TEXT NOT NULL, code TEXT NOT NULL, http INTEGER NOT NULL, detail TEXT NOT NULL, nonce TEXT NOT NULL, hv_key_id TEXT NOT NULL, guest_key_id TEXT NOT NULL, boot_id TEXT NOT NULL, counter INTEGER NOT NULL, composite_digest TEXT NOT NULL, request_digest TEXT NOT NULL, evidence TEXT)",
	"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
	"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
	"CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_ms)",
	"CREATE INDEX IF NOT EXISTS nonce_uses_expiry ON nonce_uses(expires_ms)",
	NULL};

/* Run by `attest-verifier init` as the tables' owner; the daemon runs none
 * of it (its role has no CREATE), it only checks the tables are there. */
static const char *const schema_pg[] = {
	"SET client_min_messages TO warning",
	"SELECT pg_advisory_xact_lock(4242)", /* serialize concurrent inits */
	"CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('hv','guest')), sig_alg INTEGER NOT NULL, name TEXT NOT NULL, spki_pem TEXT NOT NULL, enrolled_ms BIGINT NOT NULL, revoked_ms BIGINT, enrollment TEXT NOT NULL DEFAULT 'unrecorded')",
	/* tables made before enrollments were recorded */
	"ALTER TABLE keys ADD COLUMN IF NOT EXISTS enrollment TEXT NOT NULL DEFAULT 'unrecorded'",
	"CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, issued_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, consumed_ms BIGINT, decision_id TEXT, replica TEXT)",
	"CREATE TABLE IF NOT EXISTS nonce_uses (nonce TEXT PRIMARY KEY, consumed_ms BIGINT NOT NULL, decision_id TEXT NOT NULL, expires_ms BIGINT NOT NULL)",
	MIGRATE_USES,
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
static const char *const grants_pg[] = {
	"GRANT USAGE ON SCHEMA public TO %s",
	"GRANT SELECT ON keys TO %s",
	"GRANT SELECT, INSERT ON nonces, nonce_uses, audit TO %s",
	"GRANT USAGE ON SEQUENCE audit_seq_seq TO %s",
	"GRANT EXECUTE ON FUNCTION attest_nonce_gc(BIGINT, BIGINT) TO %s",
	NULL};

/* SQLite numbers parameters by first appearance for "$N"; "?N" is the
 * explicit form. Rewrite the shared SQL text (no '$' in literals here). */
static char *sqlite_sql(const char *q)
{
	char *o = strdup(q);
	for (char *c = o; c && *c; c++)
		if (c[0] == '$' && c[1] >= '0' && c[1] <= '9')
			c[0] = '?';
	return o;
}

struct v_store {
	int kind;
	sqlite3 *db;
	sqlite3_stmt *st[Q__N];
	PGconn *pg;
	bool in_tx; /* between v_store_begin and commit/rollback */
	char err[512];
};

const char *v_store_kind(const struct v_store *st)
{
	return st->kind == ST_SQLITE ? "sqlite" : "postgresql";
}
const char *v_store_errmsg(struct v_store *st)
{
	return st->err;
}

static void set_err(struct v_store *st, const char *what)
{
	if (st->kind == ST_SQLITE)
		snprintf(st->err, sizeof st->err, "%s: %s", what, sqlite3_errmsg(st->db));
	else
		snprintf(st->err, sizeof st->err, "%s: %s", what, PQerrorMessage(st->pg));
	size_t l = strlen(st->err);
	while (l && st->err[l - 1] == '\n')
		st->err[--l] = 0;
}

/* Per connection: an acknowledged decision must survive a crash. */
static int pg_session(struct v_store *st)
{
	PGresult *r = PQexec(st->pg, "SET synchronous_commit TO on");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		set_err(st, "SET synchronous_commit");
	return ok ? 0 : -1;
}

/* PostgreSQL: a connection lost to a server restart is opened again
 * before the next statement, but never inside a transaction (whatever it
 * did is gone: the caller's failed statement already aborts it). So a
 * replica serves again as soon as the database does. */
static int pg_usable(struct v_store *st)
{
	if (PQstatus(st->pg) == CONNECTION_OK)
		return 0;
	if (st->in_tx) {
		set_err(st, "connection lost in a transaction");
		return -1;
	}
	PQreset(st->pg);
	if (PQstatus(st->pg) != CONNECTION_OK) {
		set_err(st, "reconnect");
		return -1;
	}
	return pg_session(st);
}

struct v_store *v_store_open(const char *url, char *err, size_t errlen)
{
	struct v_store *st = calloc(1, sizeof *st);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!strncmp(url, "sqlite:", 7)) {
		st->kind = ST_SQLITE;
		int rc = sqlite3_open_v2(url + 7, &st->db,
					 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "sqlite %s: %s", url + 7, st->db ? sqlite3_errmsg(st->db) : "cannot open");
			goto fail;
		}
		sqlite3_busy_timeout(st->db, 30000);
		/* durable: every COMMIT syncs the WAL before it returns */
		if (sqlite3_exec(st->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(st->db));
			goto fail;
		}
	} else if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11) ||
		   !strncmp(url, "pg:", 3)) {
		st->kind = ST_PG;
		setenv("PGCONNECT_TIMEOUT", "5", 0); /* a reconnect must not hang the writer */
		st->pg = PQconnectdb(!strncmp(url, "pg:", 3) ? url + 3 : url);
		if (!st->pg || PQstatus(st->pg) != CONNECTION_OK) {
			snprintf(err, errlen, "postgresql: %s", st->pg ? PQerrorMessage(st->pg) : "cannot connect");
			goto fail;
		}
		if (pg_session(st)) {
			snprintf(err, errlen, "postgresql: %s", st->err);
			goto fail;
		}
	} else {
		snprintf(err, errlen, "storage \"%s\": expected sqlite:PATH, postgresql://... or pg:CONNINFO", url);
		goto fail;
	}
	return st;
fail:
	v_store_close(st);
	return NULL;
}

void v_store_close(struct v_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < Q__N; i++)
		sqlite3_finalize(st->st[i]);
	if (st->db)
		sqlite3_close(st->db);
	if (st->pg)
		PQfinish(st->pg);
	free(st);
}

static int sqlite_prepare(struct v_store *st, char *err, size_t errlen)
{
	for (int i = 0; i < Q__N; i++) {
		char *q = sqlite_sql(sql[i]);
		int rc = q ? sqlite3_prepare_v3(st->db, q, -1, SQLITE_PREPARE_PERSISTENT, &st->st[i], NULL) : SQLITE_NOMEM;
		free(q);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

/* Run statements in one PostgreSQL transaction; %s in a statement is
 * replaced by arg (an already quoted identifier). */
static int pg_script(struct v_store *st, const char *const *stmts, const char *arg, char *err, size_t errlen)
{
	PGresult *r = PQexec(st->pg, "BEGIN");
	PQclear(r);
	for (int i = 0; stmts[i]; i++) {
		char q[1024];
		snprintf(q, sizeof q, stmts[i], arg ? arg : "");
		r = PQexec(st->pg, arg ? q : stmts[i]);
		ExecStatusType s = PQresultStatus(r);
		PQclear(r);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "postgresql: %s", PQerrorMessage(st->pg));
			r = PQexec(st->pg, "ROLLBACK");
			PQclear(r);
			return -1;
		}
	}
	r = PQexec(st->pg, "COMMIT");
	ExecStatusType s = PQresultStatus(r);
	PQclear(r);
	if (s != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "postgresql commit: %s", PQerrorMessage(st->pg));
		return -1;
	}
	return 0;
}

int v_store_init(struct v_store *st, char *err, size_t errlen)
{
	if (st->kind == ST_SQLITE) {
		for (int i = 0; schema_sqlite[i]; i++)
			if (sqlite3_exec(st->db, schema_sqlite[i], NULL, NULL, NULL) != SQLITE_OK) {
				snprintf(err, errlen, "sqlite schema: %s", sqlite3_errmsg(st->db));
				return -1;
			}
		/* A table made before enrollments were recorded: add the column
		 * (SQLite has no ADD COLUMN IF NOT EXISTS; "duplicate column" is fine). */
		if (sqlite3_exec(st->db, "ALTER TABLE keys ADD COLUMN enrollment TEXT NOT NULL DEFAULT 'unrecorded'", NULL,
				 NULL, NULL) != SQLITE_OK && !strstr(sqlite3_errmsg(st->db), "duplicate column")) {
			snprintf(err, errlen, "sqlite schema: %s", sqlite3_errmsg(st->db));
			return -1;
		}
		return sqlite_prepare(st, err, errlen);
	}
	return pg_script(st, schema_pg, NULL, err, errlen);
}

int v_store_attach(struct v_store *st, char *err, size_t errlen)
{
	if (st->kind == ST_SQLITE)
		return v_store_init(st, err, errlen);
	PGresult *r = PQexec(st->pg, "SELECT 1 FROM keys, nonces, nonce_uses, audit LIMIT 0");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (!ok)
		snprintf(err, errlen, "postgresql: %s(run `attest-verifier init --grant ROLE` as the tables' owner)",
			 PQerrorMessage(st->pg));
	return ok ? 0 : -1;
}

int v_store_grant(struct v_store *st, const char *role, char *err, size_t errlen)
{
	if (st->kind != ST_PG) {
		snprintf(err, errlen, "--grant applies to PostgreSQL only");
		return -1;
	}
	char *q = PQescapeIdentifier(st->pg, role, strlen(role));
	if (!q) {
		snprintf(err, errlen, "role name: %s", PQerrorMessage(st->pg));
		return -1;
	}
	int rc = pg_script(st, grants_pg, q, err, errlen);
	PQfreemem(q);
	return rc;
}

/* ---- a tiny parameter binding layer ------------------------------------- */
#define MAXP 16
struct params {
	int n;
	const char *v[MAXP];
	char buf[MAXP][24]; /* integers as text for PostgreSQL */
	int64_t iv[MAXP];
	bool is_int[MAXP], is_null[MAXP];
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->is_int[p->n] = false;
	p->is_null[p->n] = s == NULL;
	p->n++;
}
static void p_int(struct params *p, int64_t x)
{
	snprintf(p->buf[p->n], sizeof p->buf[0], "%" PRId64, x);
	p->v[p->n] = p->buf[p->n];
	p->iv[p->n] = x;
	p->is_int[p->n] = true;
	p->is_null[p->n] = false;
	p->n++;
}

/* Run query q; for SELECTs the caller gets the sqlite stmt (row ready, rc
 * SQLITE_ROW) or the PGresult. Returns rows affected / rows returned, -1. */
struct result {
	sqlite3_stmt *s;
	PGresult *r;
	bool row;
};

static long run(struct v_store *st, int q, struct params *p, struct result *res)
{
	if (st->kind == ST_SQLITE) {
		sqlite3_stmt *s = st->st[q];
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		for (int i = 0; p && i < p->n; i++) {
			if (p->is_null[i])
				sqlite3_bind_null(s, i + 1);
			else if (p->is_int[i])
				sqlite3_bind_int64(s, i + 1, p->iv[i]);
			else
				sqlite3_bind_text(s, i + 1, p->v[i], -1, SQLITE_STATIC);
		}
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			if (res) {
				res->s = s;
				res->row = true;
			}
			return 1;
		}
		if (rc != SQLITE_DONE) {
			set_err(st, sql[q]);
			sqlite3_reset(s);
			return -1;
		}
		long ch = sqlite3_changes(st->db);
		sqlite3_reset(s);
		return ch;
	}
	if (pg_usable(st))
		return -1;
	PGresult *r = PQexecParams(st->pg, sql[q], p ? p->n : 0, NULL, p ? p->v : NULL, NULL, NULL, 0);
	ExecStatusType es = PQresultStatus(r);
	if (es == PGRES_TUPLES_OK) {
		long n = PQntuples(r);
		if (res) {
			res->r = r;
			res->row = n > 0;
		} else
			PQclear(r);
		return n;
	}
	if (es != PGRES_COMMAND_OK) {
		set_err(st, sql[q]);
		PQclear(r);
		return -1;
	}
	long n = atol(PQcmdTuples(r));
	PQclear(r);
	return n;
}

static void res_done(struct result *res)
{
	if (res->s)
		sqlite3_reset(res->s);
	if (res->r)
		PQclear(res->r);
	memset(res, 0, sizeof *res);
}

static bool res_null(struct result *res, int col)
{
	return res->s ? sqlite3_column_type(res->s, col) == SQLITE_NULL
		      : PQgetisnull(res->r, 0, col);
}
static int64_t res_int(struct result *res, int col)
{
	return res->s ? sqlite3_column_int64(res->s, col)
		      : strtoll(PQgetvalue(res->r, 0, col), NULL, 10);
}

int v_store_begin(struct v_store *st)
{
	st->in_tx = false;
	int rc = run(st, Q_BEGIN, NULL, NULL) < 0 ? -1 : 0;
	st->in_tx = rc == 0;
	return rc;
}
int v_store_commit(struct v_store *st)
{
	int rc = run(st, Q_COMMIT, NULL, NULL) < 0 ? -1 : 0;
	st->in_tx = false;
	return rc;
}
void v_store_rollback(struct v_store *st)
{
	bool was = st->in_tx;
	st->in_tx = false;
	if (st->kind == ST_SQLITE && sqlite3_get_autocommit(st->db))
		return;
	if (st->kind == ST_PG && !was && PQstatus(st->pg) != CONNECTION_OK)
		return; /* nothing to roll back on a lost connection */
	run(st, Q_ROLLBACK, NULL, NULL);
}

int v_store_ping(struct v_store *st)
{
	if (st->kind == ST_SQLITE)
		return sqlite3_exec(st->db, "SELECT count(*) FROM nonces WHERE 0", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	if (pg_usable(st))
		return -1;
	PGresult *r = PQexec(st->pg, "SELECT 1");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (!ok)
		set_err(st, "ping");
	return ok ? 0 : -1;
}

int v_store_nonce_insert(struct v_store *st, const char *nonce_hex,
			 int64_t issued_ms, int64_t expires_ms,
			 const char *replica)
{
	struct params p = {0};
	p_text(&p, nonce_hex);
	p_int(&p, issued_ms);
	p_int(&p, expires_ms);
	p_text(&p, replica);
	return run(st, Q_NONCE_INS, &p, NULL) == 1 ? 0 : -1;
}

/* 1 if query q with the one text parameter v returns a row, 0 if not. */
static int exists(struct v_store *st, int q, const char *v)
{
	struct params p = {0};
	struct result res = {0};
	p_text(&p, v);
	long n = run(st, q, &p, &res);
	bool row = res.row; /* SQLite's count after a SELECT is not its rows */
	res_done(&res);
	return n < 0 ? -1 : row;
}

int v_store_nonce_consume(struct v_store *st, const char *nonce_hex,
			  int64_t now_ms, const char *decision_id,
			  enum v_nonce_result *resout)
{
	struct params g = {0}, u = {0};
	struct result res = {0};
	p_text(&g, nonce_hex);
	if (run(st, Q_NONCE_GET, &g, &res) < 0)
		return -1;
	bool issued = res.row;
	int64_t expires = issued ? res_int(&res, 0) : 0;
	res_done(&res);
	if (!issued) {
		*resout = V_NONCE_UNKNOWN;
		return 0;
	}
	if (expires <= now_ms) { /* a used one stays "replayed" after expiry */
		int used = exists(st, Q_NONCE_USED, nonce_hex);
		if (used < 0)
			return -1;
		*resout = used ? V_NONCE_REPLAYED : V_NONCE_EXPIRED;
		return 0;
	}
	p_text(&u, nonce_hex);
	p_int(&u, now_ms);
	p_text(&u, decision_id);
	p_int(&u, expires);
	long n = run(st, Q_NONCE_USE, &u, NULL);
	if (n < 0)
		return -1;
	*resout = n == 1 ? V_NONCE_OK : V_NONCE_REPLAYED;
	return 0;
}

int v_store_audit_has(struct v_store *st, const char *decision_id)
{
	return exists(st, Q_AUDIT_HAS, decision_id);
}

int v_store_nonce_issued(struct v_store *st, const char *nonce_hex)
{
	return exists(st, Q_NONCE_GET, nonce_hex);
}

int v_store_keys_active(struct v_store *st, const char *hv_key_hex,
			const char *guest_key_hex, bool *hv_ok, bool *guest_ok)
{
	struct params p = {0};
	struct result res = {0};
	p_text(&p, hv_key_hex);
	p_text(&p, guest_key_hex);
	if (run(st, Q_KEYS_ACTIVE, &p, &res) < 0)
		return -1;
	*hv_ok = res.row && !res_null(&res, 0) && res_int(&res, 0) == 1;
	*guest_ok = res.row && !res_null(&res, 1) && res_int(&res, 1) == 1;
	res_done(&res);
	return 0;
}

int v_store_nonce_gc(struct v_store *st, int64_t now_ms, int64_t used_before_ms)
{
	struct params p = {0}, u = {0};
	p_int(&p, now_ms);
	p_int(&u, used_before_ms);
	if (st->kind == ST_PG) { /* through the owner's function: no DELETE right */
		if (pg_usable(st))
			return -1;
		const char *pv[] = {p.v[0], u.v[0]};
		PGresult *r = PQexecParams(st->pg, "SELECT attest_nonce_gc(CAST($1 AS BIGINT), CAST($2 AS BIGINT))", 2, NULL, pv, NULL,
					   NULL, 0);
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		if (!ok)
			set_err(st, "nonce gc");
		return ok ? 0 : -1;
	}
	return run(st, Q_NONCE_USES_GC, &u, NULL) < 0 || run(st, Q_NONCE_GC, &p, NULL) < 0 ? -1 : 0;
}

int v_store_audit_insert(struct v_store *st, const struct v_audit *a)
{
	struct params p = {0};
	p_text(&p, a->decision_id);
	p_int(&p, a->ts_ms);
	p_text(&p, a->replica);
	p_text(&p, a->client);
	p_text(&p, a->verdict);
	p_text(&p, a->code);
	p_int(&p, a->http);
	p_text(&p, a->detail ? a->detail : "");
	p_text(&p, a->nonce);
	p_text(&p, a->hv_key_id);
	p_text(&p, a->guest_key_id);
	p_text(&p, a->boot_id);
	p_int(&p, (int64_t)a->counter);
	p_text(&p, a->composite);
	p_text(&p, a->request_digest);
	p_text(&p, a->evidence);
	return run(st, Q_AUDIT_INS, &p, NULL) == 1 ? 0 : -1;
}

/* ---- keys and dumps: low-rate, plain statements ------------------------- */
static int exec_simple(struct v_store *st, const char *q, int np,
		       const char *const *pv, char *err, size_t errlen,
		       long *changes)
{
	if (st->kind == ST_SQLITE) {
		sqlite3_stmt *s;
		char *sq = sqlite_sql(q);
		int prc = sq ? sqlite3_prepare_v2(st->db, sq, -1, &s, NULL) : SQLITE_NOMEM;
		free(sq);
		if (prc != SQLITE_OK) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
			return -1;
		}
		for (int i = 0; i < np; i++)
			sqlite3_bind_text(s, i + 1, pv[i], -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
			return -1;
		}
		if (changes)
			*changes = sqlite3_changes(st->db);
		return 0;
	}
	if (pg_usable(st)) {
		snprintf(err, errlen, "%s", st->err);
		return -1;
	}
	PGresult *r = PQexecParams(st->pg, q, np, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(st->pg));
		PQclear(r);
		return -1;
	}
	if (changes)
		*changes = atol(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/* Iterate over SELECT rows of text columns. */
typedef int (*row_fn)(void *ctx, int ncol, const char *const *vals);
static int select_rows(struct v_store *st, const char *q, int np,
		       const char *const *pv, row_fn fn, void *ctx, char *err,
		       size_t errlen);

/* The stored state of one key, for a key change. */
struct key_row {
	bool found, revoked;
	char kind[8];
};

static int key_row_fn(void *c, int nc, const char *const *v)
{
	struct key_row *k = c;
	(void)nc;
	k->found = true;
	snprintf(k->kind, sizeof k->kind, "%s", v[0] ? v[0] : "");
	k->revoked = v[1] != NULL;
	return 0;
}

/* Every key change is an audit row, committed in the key change's own
 * transaction: verdict "key_change", code what happened, the key id in
 * the column of its kind, the operator in `client`. */
static int audit_key_change(struct v_store *st, const struct v_key_change *kc,
			    int kind, const char *key_id_hex, const char *code,
			    const char *detail, char *err, size_t errlen)
{
	struct v_audit a;
	memset(&a, 0, sizeof a);
	if (v_uuid(a.decision_id)) {
		snprintf(err, errlen, "no randomness for the audit record");
		return -1;
	}
	a.ts_ms = (int64_t)(v_now_ns() / 1000000);
	snprintf(a.replica, sizeof a.replica, "%s", kc->replica ? kc->replica : "");
	snprintf(a.client, sizeof a.client, "%s", kc->actor ? kc->actor : "");
	a.verdict = "key_change";
	a.code = code;
	a.detail = detail;
	snprintf(kind == V_KEY_HV ? a.hv_key_id : a.guest_key_id, 65, "%s", key_id_hex);
	a.evidence = kc->evidence;
	if (v_store_audit_insert(st, &a)) {
		snprintf(err, errlen, "audit: %s", st->err);
		return -1;
	}
	return 0;
}

static int key_change_end(struct v_store *st, int rc, char *err, size_t errlen)
{
	if (rc == 0 && v_store_commit(st)) {
		snprintf(err, errlen, "commit: %s", st->err);
		rc = -1;
	}
	if (rc)
		v_store_rollback(st);
	return rc;
}

int v_store_key_add(struct v_store *st, int kind, const char *key_id_hex,
		    unsigned sig_alg, const char *spki_pem, const char *name,
		    const struct v_key_change *kc, char *err, size_t errlen)
{
	char alg[12], now[24], detail[160];
	snprintf(alg, sizeof alg, "%u", sig_alg);
	snprintf(now, sizeof now, "%" PRId64, (int64_t)(v_now_ns() / 1000000));
	const char *kname = v_key_kind_name(kind);
	const char *enr = kc->enrollment ? kc->enrollment : "unrecorded";
	const char *pv[] = {key_id_hex, kname, alg, name, spki_pem, now, enr};
	struct key_row k = {0};
	if (v_store_begin(st)) {
		snprintf(err, errlen, "begin: %s", st->err);
		return -1;
	}
	int rc = select_rows(st, st->kind == ST_PG ? "SELECT kind, revoked_ms FROM keys WHERE key_id = $1 FOR UPDATE"
						   : "SELECT kind, revoked_ms FROM keys WHERE key_id = $1",
			     1, pv, key_row_fn, &k, err, errlen);
	const char *code = "key_enrolled";
	if (rc == 0 && k.found && strcmp(k.kind, kname)) {
		snprintf(err, errlen, "key %s is already enrolled as another kind (%s)", key_id_hex, k.kind);
		rc = -1;
	} else if (rc == 0 && k.found && k.revoked && !kc->unrevoke) {
		snprintf(err, errlen, "key %s was revoked; enrolling it again needs --unrevoke", key_id_hex);
		rc = -1;
	} else if (rc == 0 && k.found) {
		code = k.revoked ? "key_unrevoked" : "key_reenrolled";
		const char *uv[] = {key_id_hex, name, now, enr};
		rc = exec_simple(st, "UPDATE keys SET revoked_ms = NULL, name = $2, enrolled_ms = CAST($3 AS BIGINT), enrollment = $4 WHERE key_id = $1",
				 4, uv, err, errlen, NULL);
	} else if (rc == 0) {
		rc = exec_simple(st, "INSERT INTO keys(key_id, kind, sig_alg, name, spki_pem, enrolled_ms, enrollment) VALUES ($1, $2, CAST($3 AS INTEGER), $4, $5, CAST($6 AS BIGINT), $7)",
				 7, pv, err, errlen, NULL);
	}
	snprintf(detail, sizeof detail, "%s key \"%.64s\" %s (%.40s)", kname, name, code + 4, enr);
	if (rc == 0)
		rc = audit_key_change(st, kc, kind, key_id_hex, code, detail, err, errlen);
	return key_change_end(st, rc, err, errlen);
}

int v_store_key_revoke(struct v_store *st, const char *key_id_hex,
		       const struct v_key_change *kc, char *err, size_t errlen)
{
	char now[24], detail[160];
	snprintf(now, sizeof now, "%" PRId64, (int64_t)(v_now_ns() / 1000000));
	const char *pv[] = {key_id_hex, now};
	struct key_row k = {0};
	if (v_store_begin(st)) {
		snprintf(err, errlen, "begin: %s", st->err);
		return -1;
	}
	int rc = select_rows(st, "SELECT kind, revoked_ms FROM keys WHERE key_id = $1", 1, pv, key_row_fn, &k, err, errlen);
	if (rc == 0 && (!k.found || k.revoked)) {
		snprintf(err, errlen, "no enrolled (unrevoked) key with id %s", key_id_hex);
		rc = -1;
	}
	if (rc == 0)
		rc = exec_simple(st, "UPDATE keys SET revoked_ms = CAST($2 AS BIGINT) WHERE key_id = $1", 2, pv, err, errlen, NULL);
	snprintf(detail, sizeof detail, "%s key revoked", k.kind);
	if (rc == 0)
		rc = audit_key_change(st, kc, !strcmp(k.kind, "hv") ? V_KEY_HV : V_KEY_GUEST, key_id_hex, "key_revoked",
				      detail, err, errlen);
	return key_change_end(st, rc, err, errlen);
}


static int select_rows(struct v_store *st, const char *q, int np,
		       const char *const *pv, row_fn fn, void *ctx, char *err,
		       size_t errlen)
{
	const char *vals[24];
	if (st->kind == ST_SQLITE) {
		sqlite3_stmt *s;
		char *sq = sqlite_sql(q);
		int prc = sq ? sqlite3_prepare_v2(st->db, sq, -1, &s, NULL) : SQLITE_NOMEM;
		free(sq);
		if (prc != SQLITE_OK) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
			return -1;
		}
		for (int i = 0; i < np; i++)
			sqlite3_bind_text(s, i + 1, pv[i], -1, SQLITE_STATIC);
		int rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			int nc = sqlite3_column_count(s);
			for (int i = 0; i < nc && i < 24; i++)
				vals[i] = (const char *)sqlite3_column_text(s, i);
			if (fn(ctx, nc, vals)) {
				sqlite3_finalize(s);
				snprintf(err, errlen, "row rejected");
				return -1;
			}
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
			return -1;
		}
		return 0;
	}
	if (pg_usable(st)) {
		snprintf(err, errlen, "%s", st->err);
		return -1;
	}
	PGresult *r = PQexecParams(st->pg, q, np, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(st->pg));
		PQclear(r);
		return -1;
	}
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

struct load_ctx {
	struct v_keyset *ks;
	char *err;
	size_t errlen;
};

static int load_row(void *c, int nc, const char *const *v)
{
	struct load_ctx *lc = c;
	(void)nc;
	int kind = !strcmp(v[1], "hv") ? V_KEY_HV : V_KEY_GUEST;
	char e[200];
	if (v_keyset_add_pem(lc->ks, kind, v[3], strlen(v[3]), v[2], e, sizeof e)) {
		fprintf(stderr, "attest-verifier: stored key %s unusable: %s\n", v[0], e);
		return -1;
	}
	char hex[65];
	v_hex(hex, lc->ks->k[lc->ks->n - 1].id, 32);
	if (strcmp(hex, v[0])) {
		fprintf(stderr, "attest-verifier: stored key %s has id %s\n", v[0], hex);
		return -1;
	}
	return 0;
}

int v_store_keys_load(struct v_store *st, struct v_keyset *ks, char *err,
		      size_t errlen)
{
	struct load_ctx lc = {ks, err, errlen};
	return select_rows(st, "SELECT key_id, kind, name, spki_pem FROM keys WHERE revoked_ms IS NULL ORDER BY key_id", 0, NULL, load_row, &lc, err, errlen);
}

static int list_row(void *c, int nc, const char *const *v)
{
	(void)nc;
	fprintf(c, "%-5s %s P-%s %-16s %s %s\n", v[1], v[0], !strcmp(v[2], "1") ? "256" : "384", v[3],
		v[4] ? "revoked" : "active", v[5] ? v[5] : "");
	return 0;
}

int v_store_keys_list(struct v_store *st, FILE *out)
{
	char err[sizeof st->err];
	if (select_rows(st, "SELECT key_id, kind, sig_alg, name, revoked_ms, enrollment FROM keys ORDER BY kind, key_id", 0, NULL, list_row, out, err, sizeof err)) {
		snprintf(st->err, sizeof st->err, "%s", err);
		return -1;
	}
	return 0;
}

static const char *const audit_cols[] = {
	"seq", "decision_id", "ts_ms", "replica", "client", "verdict", "code", "http", "detail", "nonce",
	"hv_key_id", "guest_key_id", "boot_id", "counter", "composite_digest", "request_digest", "evidence", NULL};

static int dump_row(void *c, int nc, const char *const *v)
{
	json_t *o = json_object();
	for (int i = 0; i < nc && audit_cols[i]; i++) {
		const char *k = audit_cols[i];
		json_t *val;
		if (!v[i])
			val = json_null();
		else if (!strcmp(k, "seq") || !strcmp(k, "ts_ms") || !strcmp(k, "http") || !strcmp(k, "counter"))
			val = json_integer(strtoll(v[i], NULL, 10));
		else if (!strcmp(k, "evidence")) {
			val = json_loads(v[i], 0, NULL);
			if (!val)
				val = json_string(v[i]);
		} else
			val = json_string(v[i]);
		json_object_set_new(o, k, val);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -1;
	fprintf(c, "%s\n", s);
	free(s);
	return 0;
}

int v_store_audit_dump(struct v_store *st, FILE *out, int64_t since,
		       int64_t limit)
{
	char a[24], b[24], err[sizeof st->err];
	snprintf(a, sizeof a, "%" PRId64, since);
	snprintf(b, sizeof b, "%" PRId64, limit > 0 ? limit : INT64_MAX);
	const char *pv[] = {a, b};
	if (select_rows(st,
			"SELECT seq, decision_id, ts_ms, replica, client, verdict, code, http, detail, nonce, hv_key_id, guest_key_id, boot_id, counter, composite_digest, request_digest, evidence "
			"FROM audit WHERE seq > CAST($1 AS BIGINT) ORDER BY seq LIMIT CAST($2 AS BIGINT)",
			2, pv, dump_row, out, err, sizeof err)) {
		snprintf(st->err, sizeof st->err, "%s", err);
		return -1;
	}
	return 0;
}
