/*
 * store_impl.h - what store.c (the database-neutral part of store.h) and
 * each database's table of operations share: the queries of the hot path,
 * their parameters and first row, and struct v_store_ops. One file per
 * database fills the table: store_sqlite.c, store_pg.c.
 */
#ifndef AHV_STORE_IMPL_H
#define AHV_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The hot path's queries, prepared once (SQLite) or sent with parameters
 * (PostgreSQL); their text is v_store_sql[] (store.c). */
enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_NONCE_INS, Q_NONCE_GET, Q_NONCE_USE,
	Q_NONCE_USED, Q_NONCE_GC, Q_NONCE_USES_GC, Q_AUDIT_INS, Q_AUDIT_HAS, Q_KEYS_ACTIVE, Q__N
};
extern const char *const v_store_sql[Q__N];

/* nonces consumed by an older version (nonces.consumed_ms) stay consumed;
 * part of both databases' schema */
#define V_STORE_MIGRATE_USES                                                                                                  \
	"INSERT INTO nonce_uses(nonce, consumed_ms, decision_id, expires_ms) SELECT nonce, consumed_ms, COALESCE(decision_id, ''), " \
	"expires_ms FROM nonces WHERE consumed_ms IS NOT NULL ON CONFLICT (nonce) DO NOTHING"

/* A query's parameters: text (NULL is SQL NULL) or integers, also kept as
 * text for PostgreSQL. */
#define V_STORE_MAXP 16
struct v_params {
	int n;
	const char *v[V_STORE_MAXP];
	char buf[V_STORE_MAXP][24];
	int64_t iv[V_STORE_MAXP];
	bool is_int[V_STORE_MAXP], is_null[V_STORE_MAXP];
};
void v_param_text(struct v_params *p, const char *s);
void v_param_int(struct v_params *p, int64_t x);

/* The first row of a SELECT, as integers: all the hot path reads. */
#define V_STORE_ROW_COLS 2
struct v_row {
	bool row;
	int64_t iv[V_STORE_ROW_COLS];
	bool is_null[V_STORE_ROW_COLS];
};

/* A row of text columns (NULL for SQL NULL) for the low-rate statements. */
typedef int (*v_row_fn)(void *ctx, int ncol, const char *const *vals);

struct v_store_ops {
	const char *name; /* v_store_kind */
	void (*close)(struct v_store *st);
	int (*init)(struct v_store *st, char *err, size_t errlen);
	int (*attach)(struct v_store *st, char *err, size_t errlen);
	/* NULL where the database has no roles to grant */
	int (*grant)(struct v_store *st, const char *role, char *err, size_t errlen);
	/* the database's last error text (for st->err) */
	const char *(*errtext)(struct v_store *st);
	/* Run hot-path query q; a SELECT's first row goes to *row (may be
	 * NULL). Rows changed or returned, -1 with st->err set. */
	long (*run)(struct v_store *st, int q, const struct v_params *p, struct v_row *row);
	/* rollback: is there a transaction to roll back (in_tx: begun by us) */
	bool (*tx_open)(struct v_store *st, bool in_tx);
	int (*ping)(struct v_store *st);
	int (*nonce_gc)(struct v_store *st, int64_t now_ms, int64_t used_before_ms);
	/* low-rate statements of text parameters ($n), not prepared */
	int (*exec)(struct v_store *st, const char *q, int np, const char *const *pv, long *changes, char *err,
		    size_t errlen);
	int (*select)(struct v_store *st, const char *q, int np, const char *const *pv, v_row_fn fn, void *ctx,
		      char *err, size_t errlen);
	/* a key change reads the key's row with this (locking it where the
	 * database can: several CLIs on one PostgreSQL) */
	const char *key_row_sql;
};

/* The neutral part of every store; each database's struct starts with it. */
struct v_store {
	const struct v_store_ops *ops;
	bool in_tx; /* between v_store_begin and commit/rollback */
	char err[512];
};

/* st->err = "what: <the database's error>", without trailing newlines */
void v_store_set_err(struct v_store *st, const char *what);

/* A zeroed store of size bytes (the database's struct) with its table;
 * NULL with err set when out of memory. */
void *v_store_alloc(size_t size, const struct v_store_ops *ops, char *err, size_t errlen);

/* Each database's open: NULL with err set on failure. */
struct v_store *v_store_sqlite_open(const char *path, char *err, size_t errlen);
struct v_store *v_store_pg_open(const char *conninfo, char *err, size_t errlen);

#endif
