/* store_sqlite.c - the verifier's storage on SQLite (sqlite:PATH): the
 * embedded default, WAL with synchronous=FULL (store_impl.h). */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_impl.h"

struct sq_store {
	struct v_store base; /* first: a struct v_store * is a struct sq_store * */
	sqlite3 *db;
	sqlite3_stmt *st[Q__N];
};

static struct sq_store *sq(struct v_store *st)
{
	return (struct sq_store *)st;
}

static const char *const schema[] = {
	"PRAGMA journal_mode=WAL",
	"CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('hv','guest')), sig_alg INTEGER NOT NULL, name TEXT NOT NULL, spki_pem TEXT NOT NULL, enrolled_ms INTEGER NOT NULL, revoked_ms INTEGER, enrollment TEXT NOT NULL DEFAULT 'unrecorded')",
	"CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, consumed_ms INTEGER, decision_id TEXT, replica TEXT)",
	"CREATE TABLE IF NOT EXISTS nonce_uses (nonce TEXT PRIMARY KEY, consumed_ms INTEGER NOT NULL, decision_id TEXT NOT NULL, expires_ms INTEGER NOT NULL)",
	V_STORE_MIGRATE_USES,
	"CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, decision_id TEXT NOT NULL UNIQUE, ts_ms INTEGER NOT NULL, replica TEXT NOT NULL, client TEXT NOT NULL, verdict TEXT NOT NULL, code TEXT NOT NULL, http INTEGER NOT NULL, detail TEXT NOT NULL, nonce TEXT NOT NULL, hv_key_id TEXT NOT NULL, guest_key_id TEXT NOT NULL, boot_id TEXT NOT NULL, counter INTEGER NOT NULL, composite_digest TEXT NOT NULL, request_digest TEXT NOT NULL, evidence TEXT)",
	"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
	"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
	"CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_ms)",
	"CREATE INDEX IF NOT EXISTS nonce_uses_expiry ON nonce_uses(expires_ms)",
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

/* A statement of text parameters for the low-rate paths (finalize it). */
static sqlite3_stmt *prepare_text(struct sq_store *s, const char *q, int np, const char *const *pv, char *err,
				  size_t errlen)
{
	sqlite3_stmt *stmt;
	char *t = sqlite_sql(q);
	int rc = t ? sqlite3_prepare_v2(s->db, t, -1, &stmt, NULL) : SQLITE_NOMEM;
	free(t);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return NULL;
	}
	for (int i = 0; i < np; i++)
		sqlite3_bind_text(stmt, i + 1, pv[i], -1, SQLITE_STATIC);
	return stmt;
}

static void sq_close(struct v_store *st)
{
	struct sq_store *s = sq(st);
	for (int i = 0; i < Q__N; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db)
		sqlite3_close(s->db);
	free(s);
}

static const char *sq_errtext(struct v_store *st)
{
	return sqlite3_errmsg(sq(st)->db);
}

static int sq_init(struct v_store *st, char *err, size_t errlen)
{
	struct sq_store *s = sq(st);
	for (int i = 0; schema[i]; i++)
		if (sqlite3_exec(s->db, schema[i], NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "sqlite schema: %s", sqlite3_errmsg(s->db));
			return -1;
		}
	/* A table made before enrollments were recorded: add the column
	 * (SQLite has no ADD COLUMN IF NOT EXISTS; "duplicate column" is fine). */
	if (sqlite3_exec(s->db, "ALTER TABLE keys ADD COLUMN enrollment TEXT NOT NULL DEFAULT 'unrecorded'", NULL, NULL,
			 NULL) != SQLITE_OK && !strstr(sqlite3_errmsg(s->db), "duplicate column")) {
		snprintf(err, errlen, "sqlite schema: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	for (int i = 0; i < Q__N; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
		char *q = sqlite_sql(v_store_sql[i]);
		int rc = q ? sqlite3_prepare_v3(s->db, q, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) : SQLITE_NOMEM;
		free(q);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(s->db));
			return -1;
		}
	}
	return 0;
}

/* the daemon's start: its own file, so the same as init */
static int sq_attach(struct v_store *st, char *err, size_t errlen)
{
	return sq_init(st, err, errlen);
}

static long sq_run(struct v_store *st, int q, const struct v_params *p, struct v_row *row)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt = s->st[q];
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	for (int i = 0; p && i < p->n; i++) {
		if (p->is_null[i])
			sqlite3_bind_null(stmt, i + 1);
		else if (p->is_int[i])
			sqlite3_bind_int64(stmt, i + 1, p->iv[i]);
		else
			sqlite3_bind_text(stmt, i + 1, p->v[i], -1, SQLITE_STATIC);
	}
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (row) {
			row->row = true;
			for (int c = 0; c < V_STORE_ROW_COLS && c < sqlite3_column_count(stmt); c++) {
				row->is_null[c] = sqlite3_column_type(stmt, c) == SQLITE_NULL;
				row->iv[c] = sqlite3_column_int64(stmt, c);
			}
		}
		sqlite3_reset(stmt);
		return 1;
	}
	if (rc != SQLITE_DONE) {
		v_store_set_err(st, v_store_sql[q]);
		sqlite3_reset(stmt);
		return -1;
	}
	long ch = sqlite3_changes(s->db);
	sqlite3_reset(stmt);
	return ch;
}

static bool sq_tx_open(struct v_store *st, bool in_tx)
{
	(void)in_tx;
	return !sqlite3_get_autocommit(sq(st)->db);
}

static int sq_ping(struct v_store *st)
{
	return sqlite3_exec(sq(st)->db, "SELECT count(*) FROM nonces WHERE 0", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int sq_nonce_gc(struct v_store *st, int64_t now_ms, int64_t used_before_ms)
{
	struct v_params p = {0}, u = {0};
	v_param_int(&p, now_ms);
	v_param_int(&u, used_before_ms);
	return sq_run(st, Q_NONCE_USES_GC, &u, NULL) < 0 || sq_run(st, Q_NONCE_GC, &p, NULL) < 0 ? -1 : 0;
}

static int sq_exec(struct v_store *st, const char *q, int np, const char *const *pv, long *changes, char *err,
		   size_t errlen)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt = prepare_text(s, q, np, pv, err, errlen);
	if (!stmt)
		return -1;
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	if (changes)
		*changes = sqlite3_changes(s->db);
	return 0;
}

static int sq_select(struct v_store *st, const char *q, int np, const char *const *pv, v_row_fn fn, void *ctx,
		     char *err, size_t errlen)
{
	struct sq_store *s = sq(st);
	const char *vals[24];
	sqlite3_stmt *stmt = prepare_text(s, q, np, pv, err, errlen);
	if (!stmt)
		return -1;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int nc = sqlite3_column_count(stmt);
		for (int i = 0; i < nc && i < 24; i++)
			vals[i] = (const char *)sqlite3_column_text(stmt, i);
		if (fn(ctx, nc, vals)) {
			sqlite3_finalize(stmt);
			snprintf(err, errlen, "row rejected");
			return -1;
		}
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

static const struct v_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.init = sq_init,
	.attach = sq_attach,
	.grant = NULL,
	.errtext = sq_errtext,
	.run = sq_run,
	.tx_open = sq_tx_open,
	.ping = sq_ping,
	.nonce_gc = sq_nonce_gc,
	.exec = sq_exec,
	.select = sq_select,
	/* no FOR UPDATE in SQLite: its writers are serialized by the database lock */
	.key_row_sql = "SELECT kind, revoked_ms FROM keys WHERE key_id = $1",
};

struct v_store *v_store_sqlite_open(const char *path, char *err, size_t errlen)
{
	struct sq_store *s = v_store_alloc(sizeof *s, &sqlite_ops, err, errlen);
	if (!s)
		return NULL;
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "sqlite %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		sq_close(&s->base);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 30000);
	/* durable: every COMMIT syncs the WAL before it returns */
	if (sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
		sq_close(&s->base);
		return NULL;
	}
	return &s->base;
}
