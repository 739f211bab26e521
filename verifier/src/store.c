/* store.c - the database-neutral part of the verifier's storage
 * (store.h): which database a URL names, the hot path's queries and the
 * key changes; each database's operations are its table in store_sqlite.c
 * and store_pg.c (store_impl.h). */
#include "store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "store_impl.h"
#include "vutil.h"

/* One SQL text per query; $n placeholders work in both (SQLite accepts
 * $NNN as a named parameter, bound by index in order of appearance). */
const char *const v_store_sql[Q__N] = {
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
	 * (SECURITY DEFINER) prunes expired nonces only (store_pg.c) */
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

const char *v_store_kind(const struct v_store *st)
{
	return st->ops->name;
}
const char *v_store_errmsg(struct v_store *st)
{
	return st->err;
}

void v_store_set_err(struct v_store *st, const char *what)
{
	snprintf(st->err, sizeof st->err, "%s: %s", what, st->ops->errtext(st));
	size_t l = strlen(st->err);
	while (l && st->err[l - 1] == '\n')
		st->err[--l] = 0;
}

void *v_store_alloc(size_t size, const struct v_store_ops *ops, char *err, size_t errlen)
{
	struct v_store *st = calloc(1, size);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->ops = ops;
	return st;
}

struct v_store *v_store_open(const char *url, char *err, size_t errlen)
{
	if (!strncmp(url, "sqlite:", 7))
		return v_store_sqlite_open(url + 7, err, errlen);
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
		return v_store_pg_open(url, err, errlen);
	if (!strncmp(url, "pg:", 3))
		return v_store_pg_open(url + 3, err, errlen);
	snprintf(err, errlen, "storage \"%s\": expected sqlite:PATH, postgresql://... or pg:CONNINFO", url);
	return NULL;
}

void v_store_close(struct v_store *st)
{
	if (st)
		st->ops->close(st);
}

int v_store_init(struct v_store *st, char *err, size_t errlen)
{
	return st->ops->init(st, err, errlen);
}

int v_store_attach(struct v_store *st, char *err, size_t errlen)
{
	return st->ops->attach(st, err, errlen);
}

int v_store_grant(struct v_store *st, const char *role, char *err, size_t errlen)
{
	if (!st->ops->grant) {
		snprintf(err, errlen, "--grant applies to PostgreSQL only");
		return -1;
	}
	return st->ops->grant(st, role, err, errlen);
}

void v_param_text(struct v_params *p, const char *s)
{
	p->v[p->n] = s;
	p->is_int[p->n] = false;
	p->is_null[p->n] = s == NULL;
	p->n++;
}
void v_param_int(struct v_params *p, int64_t x)
{
	snprintf(p->buf[p->n], sizeof p->buf[0], "%" PRId64, x);
	p->v[p->n] = p->buf[p->n];
	p->iv[p->n] = x;
	p->is_int[p->n] = true;
	p->is_null[p->n] = false;
	p->n++;
}

static long run(struct v_store *st, int q, const struct v_params *p, struct v_row *row)
{
	return st->ops->run(st, q, p, row);
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
	if (st->ops->tx_open(st, was))
		run(st, Q_ROLLBACK, NULL, NULL);
}

int v_store_ping(struct v_store *st)
{
	return st->ops->ping(st);
}

int v_store_nonce_insert(struct v_store *st, const char *nonce_hex,
			 int64_t issued_ms, int64_t expires_ms,
			 const char *replica)
{
	struct v_params p = {0};
	v_param_text(&p, nonce_hex);
	v_param_int(&p, issued_ms);
	v_param_int(&p, expires_ms);
	v_param_text(&p, replica);
	return run(st, Q_NONCE_INS, &p, NULL) == 1 ? 0 : -1;
}

/* 1 if query q with the one text parameter v returns a row, 0 if not. */
static int exists(struct v_store *st, int q, const char *v)
{
	struct v_params p = {0};
	struct v_row row = {0};
	v_param_text(&p, v);
	long n = run(st, q, &p, &row);
	return n < 0 ? -1 : row.row; /* SQLite's count after a SELECT is not its rows */
}

int v_store_nonce_consume(struct v_store *st, const char *nonce_hex,
			  int64_t now_ms, const char *decision_id,
			  enum v_nonce_result *resout)
{
	struct v_params g = {0}, u = {0};
	struct v_row row = {0};
	v_param_text(&g, nonce_hex);
	if (run(st, Q_NONCE_GET, &g, &row) < 0)
		return -1;
	if (!row.row) {
		*resout = V_NONCE_UNKNOWN;
		return 0;
	}
	int64_t expires = row.iv[0];
	if (expires <= now_ms) { /* a used one stays "replayed" after expiry */
		int used = exists(st, Q_NONCE_USED, nonce_hex);
		if (used < 0)
			return -1;
		*resout = used ? V_NONCE_REPLAYED : V_NONCE_EXPIRED;
		return 0;
	}
	v_param_text(&u, nonce_hex);
	v_param_int(&u, now_ms);
	v_param_text(&u, decision_id);
	v_param_int(&u, expires);
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
	struct v_params p = {0};
	struct v_row row = {0};
	v_param_text(&p, hv_key_hex);
	v_param_text(&p, guest_key_hex);
	if (run(st, Q_KEYS_ACTIVE, &p, &row) < 0)
		return -1;
	*hv_ok = row.row && !row.is_null[0] && row.iv[0] == 1;
	*guest_ok = row.row && !row.is_null[1] && row.iv[1] == 1;
	return 0;
}

int v_store_nonce_gc(struct v_store *st, int64_t now_ms, int64_t used_before_ms)
{
	return st->ops->nonce_gc(st, now_ms, used_before_ms);
}

int v_store_audit_insert(struct v_store *st, const struct v_audit *a)
{
	struct v_params p = {0};
	v_param_text(&p, a->decision_id);
	v_param_int(&p, a->ts_ms);
	v_param_text(&p, a->replica);
	v_param_text(&p, a->client);
	v_param_text(&p, a->verdict);
	v_param_text(&p, a->code);
	v_param_int(&p, a->http);
	v_param_text(&p, a->detail ? a->detail : "");
	v_param_text(&p, a->nonce);
	v_param_text(&p, a->hv_key_id);
	v_param_text(&p, a->guest_key_id);
	v_param_text(&p, a->boot_id);
	v_param_int(&p, (int64_t)a->counter);
	v_param_text(&p, a->composite);
	v_param_text(&p, a->request_digest);
	v_param_text(&p, a->evidence);
	return run(st, Q_AUDIT_INS, &p, NULL) == 1 ? 0 : -1;
}

/* ---- keys and dumps: low-rate, plain statements ------------------------- */
static int exec_simple(struct v_store *st, const char *q, int np,
		       const char *const *pv, char *err, size_t errlen,
		       long *changes)
{
	return st->ops->exec(st, q, np, pv, changes, err, errlen);
}

/* Iterate over SELECT rows of text columns. */
static int select_rows(struct v_store *st, const char *q, int np,
		       const char *const *pv, v_row_fn fn, void *ctx, char *err,
		       size_t errlen)
{
	return st->ops->select(st, q, np, pv, fn, ctx, err, errlen);
}

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
	int rc = select_rows(st, st->ops->key_row_sql, 1, pv, key_row_fn, &k, err, errlen);
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
