/*
 * attest-verifierd - the remote attestation service (docs/verifier.md).
 *
 * Threads: libmicrohttpd runs a pool of event-loop threads (one per CPU,
 * epoll, keep-alive); a pool thread verifies a submission (pure CPU:
 * OpenSSL), suspends the connection and hands the decision to ONE writer
 * thread that owns the storage connection. The writer commits everything
 * queued in one durable transaction (group commit: nonce consumption +
 * audit rows), then resumes the connections, which only then answer. So an
 * answer is never sent for a decision that is not on disk, many decisions
 * share one fsync, and no pool thread waits for a disk.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "evidence.h"
#include "client_limits.h"
#include "conn_deadline.h"
#include "store.h"
#include "token.h"
#include "vcrypto.h"
#include "vutil.h"

/* ---- shared state: keys + policy, swapped on reload ----------------------- */
struct vstate {
	atomic_int refs;
	struct v_keyset ks;
	struct v_policy *pol;
};

static struct v_config cfg;
static struct v_signer signer;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vstate *cur_state;
static atomic_int reload_requested;

static struct vstate *state_get(void)
{
	pthread_mutex_lock(&state_mu);
	struct vstate *s = cur_state;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&state_mu);
	return s;
}

static void state_put(struct vstate *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1) {
		v_keyset_free(&s->ks);
		v_policy_free(s->pol);
		free(s);
	}
}

static void state_set(struct vstate *s)
{
	if (s)
		atomic_store(&s->refs, 1);
	pthread_mutex_lock(&state_mu);
	struct vstate *old = cur_state;
	cur_state = s;
	pthread_mutex_unlock(&state_mu);
	if (old)
		state_put(old);
}

/* ---- metrics ----------------------------------------------------------------- */
static atomic_ullong m_decisions[V_E__COUNT];
static atomic_ullong m_challenges, m_batches, m_batch_jobs, m_storage_errors;
static atomic_ullong m_reloads, m_reload_errors, m_rate_limited[V_B__N];

/* ---- the writer (group commit) ----------------------------------------------- */
enum { J_NONCES = 1, J_DECISION, J_PING };

struct job {
	int kind;
	/* J_NONCES */
	char (*nonces)[65];
	unsigned n_nonces;
	int64_t issued_ms, expires_ms;
	/* J_DECISION */
	struct v_audit a;
	bool consume;
	enum v_err pre_err, err;
	const char *pre_detail;
	/* result */
	int status;
	bool done;
	pthread_cond_t cv; /* a synchronous owner waits on it */
	struct MHD_Connection *conn; /* else: suspended, resume when done */
	struct job *next;
};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static struct job *q_head, *q_tail;
static bool q_stop;
static struct v_store *store;

static void fill_outcome(struct job *j, enum v_err e, const char *detail)
{
	j->err = e;
	j->a.verdict = e == V_OK ? "accept" : "reject";
	j->a.code = v_err_code(e);
	j->a.http = v_err_http(e);
	j->a.detail = detail;
}

static int exec_job(struct job *j, int64_t now_ms)
{
	switch (j->kind) {
	case J_NONCES:
		for (unsigned i = 0; i < j->n_nonces; i++)
			if (v_store_nonce_insert(store, j->nonces[i], j->issued_ms, j->expires_ms, cfg.replica_id))
				return -1;
		return 0;
	case J_PING:
		return v_store_ping(store);
	case J_DECISION:
		fill_outcome(j, j->pre_err, j->pre_detail);
		if (j->consume) {
			/* revocation holds from the next request on, on every
			 * replica, whatever key set this daemon loaded: checked
			 * in the transaction that records the decision; a
			 * revoked key authenticates nothing (nonce kept) */
			bool hv_ok, guest_ok;
			if (v_store_keys_active(store, j->a.hv_key_id, j->a.guest_key_id, &hv_ok, &guest_ok))
				return -1;
			if (!hv_ok || !guest_ok) {
				fill_outcome(j, hv_ok ? V_E_UNKNOWN_GUEST_KEY : V_E_UNKNOWN_HV_KEY,
					     hv_ok ? "the guest key was revoked" : "the hypervisor key was revoked");
				return v_store_audit_insert(store, &j->a);
			}
			enum v_nonce_result nr;
			if (v_store_nonce_consume(store, j->a.nonce, now_ms, j->a.decision_id, &nr))
				return -1;
			if (nr == V_NONCE_UNKNOWN)
				fill_outcome(j, V_E_NONCE_UNKNOWN, "the report's nonce was not issued by this verifier (or was purged)");
			else if (nr == V_NONCE_EXPIRED)
				fill_outcome(j, V_E_NONCE_EXPIRED, "the nonce expired before the report arrived");
			else if (nr == V_NONCE_REPLAYED)
				fill_outcome(j, V_E_NONCE_REPLAYED, "the nonce was already used by an earlier submission");
		}
		return v_store_audit_insert(store, &j->a);
	}
	return -1;
}

/* The text of the policy in force (a failed reload parses it again). */
static char *policy_text;
static size_t policy_len;

/* Load the policy file; on success it becomes policy_text. */
static struct v_policy *policy_load_file(char *err, size_t errlen)
{
	size_t len;
	char *t = (char *)v_read_file(cfg.policy, &len, 16u << 20);
	if (!t) {
		snprintf(err, errlen, "cannot read %.300s: %s", cfg.policy, strerror(errno));
		return NULL;
	}
	char e[400];
	struct v_policy *p = v_policy_parse(t, len, e, sizeof e);
	if (!p) {
		snprintf(err, errlen, "%.300s: %.180s", cfg.policy, e);
		free(t);
		return NULL;
	}
	free(policy_text);
	policy_text = t;
	policy_len = len;
	return p;
}

/* SIGHUP: the enrolled keys from storage and the policy file, each on its
 * own: a policy with an error keeps the old policy, never the old keys
 * (and revocation does not wait for a reload at all: exec_job). */
static void reload(void)
{
	struct vstate *ns = calloc(1, sizeof *ns), *old = state_get();
	char kerr[512] = "", perr[512] = "", e2[256];
	if (ns)
		ns->ks.tables_max = cfg.verify_tables_max;
	bool keys_ok = ns && v_store_keys_load(store, &ns->ks, kerr, sizeof kerr) == 0;
	if (ns && !keys_ok) {
		fprintf(stderr, "attest-verifierd: key reload failed, keeping the old keys: %s\n", kerr);
		v_keyset_free(&ns->ks);
		if (v_keyset_copy(&ns->ks, &old->ks))
			keys_ok = false;
	}
	if (ns && !(ns->pol = policy_load_file(perr, sizeof perr))) {
		fprintf(stderr, "attest-verifierd: policy reload failed, keeping the old policy: %s\n", perr);
		ns->pol = v_policy_parse(policy_text, policy_len, e2, sizeof e2);
	}
	state_put(old);
	if (!ns || !ns->pol) { /* out of memory: keep everything */
		if (ns)
			v_keyset_free(&ns->ks);
		free(ns);
		atomic_fetch_add(&m_reload_errors, 1);
		return;
	}
	fprintf(stderr, "attest-verifierd: reloaded %zu keys%s and %s policy\n", ns->ks.n, keys_ok ? "" : " (old)",
		perr[0] ? "the old" : "the new");
	state_set(ns);
	atomic_fetch_add(keys_ok && !perr[0] ? &m_reloads : &m_reload_errors, 1);
}

/* Is this job's effect already durable? 1 yes, 0 no, -1 cannot tell. */
static int job_recorded(const struct job *j)
{
	switch (j->kind) {
	case J_DECISION:
		return v_store_audit_has(store, j->a.decision_id);
	case J_NONCES:
		return j->n_nonces ? v_store_nonce_issued(store, j->nonces[0]) : 0;
	}
	return 0;
}

/* One audit row for the unauthenticated rejections of one client that the
 * client_unauth_audits_per_s limit kept out of the log one by one. */
static void write_summary(void *ctx, const char *client, uint64_t total, const uint32_t counts[V_E__COUNT],
			  int64_t first_ms, int64_t last_ms)
{
	(void)ctx;
	struct v_audit a;
	char detail[200], ev[1024];
	size_t el = 0;
	memset(&a, 0, sizeof a);
	if (v_uuid(a.decision_id))
		return;
	el += (size_t)snprintf(ev, sizeof ev, "{\"count\":%llu,\"first_ms\":%lld,\"last_ms\":%lld,\"codes\":{",
			       (unsigned long long)total, (long long)first_ms, (long long)last_ms);
	for (int i = 0, n = 0; i < V_E__COUNT && el < sizeof ev; i++)
		if (counts[i])
			el += (size_t)snprintf(ev + el, sizeof ev - el, "%s\"%s\":%u", n++ ? "," : "", v_err_code(i), counts[i]);
	if (el + 3 > sizeof ev)
		return;
	memcpy(ev + el, "}}", 3);
	snprintf(detail, sizeof detail, "%llu unauthenticated rejections not recorded one by one (client_unauth_audits_per_s)",
		 (unsigned long long)total);
	a.ts_ms = last_ms;
	snprintf(a.replica, sizeof a.replica, "%s", cfg.replica_id);
	snprintf(a.client, sizeof a.client, "%s", client);
	a.verdict = "reject_summary";
	a.code = "unrecorded_rejections";
	a.http = 0;
	a.detail = detail;
	a.evidence = ev;
	if (v_store_begin(store) || v_store_audit_insert(store, &a) || v_store_commit(store)) {
		v_store_rollback(store);
		atomic_fetch_add(&m_storage_errors, 1);
		fprintf(stderr, "attest-verifierd: rejection summary: %s\n", v_store_errmsg(store));
	}
}

static void maintenance(int64_t now_ms, int64_t *last_gc, int64_t *last_summary)
{
	if (atomic_exchange(&reload_requested, 0))
		reload();
	/* every 10 s: the compact record of unrecorded rejections; nonce
	 * retention at least once per nonce lifetime (and per minute) */
	if (now_ms - *last_summary >= 10000) {
		*last_summary = now_ms;
		v_limits_drain(write_summary, NULL);
	}
	int64_t gc_every = cfg.nonce_ttl_s < 60 ? cfg.nonce_ttl_s * 1000 : 60000;
	if (now_ms - *last_gc >= gc_every) {
		*last_gc = now_ms;
		if (v_store_nonce_gc(store, now_ms, now_ms - cfg.nonce_retention_s * 1000))
			fprintf(stderr, "attest-verifierd: nonce gc: %s\n", v_store_errmsg(store));
	}
}

static void *writer(void *arg)
{
	(void)arg;
	int64_t last_gc = (int64_t)(v_now_ns() / 1000000), last_summary = last_gc;
	for (;;) {
		pthread_mutex_lock(&q_mu);
		while (!q_head && !q_stop && !atomic_load(&reload_requested)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&q_cv, &q_mu, &ts);
			if (!q_head)
				break;
		}
		if (!q_head && q_stop) {
			pthread_mutex_unlock(&q_mu);
			return NULL;
		}
		/* take up to max_batch jobs */
		struct job *batch = q_head, *last = q_head;
		unsigned n = batch ? 1 : 0;
		while (last && last->next && n < cfg.max_batch) {
			last = last->next;
			n++;
		}
		if (last) {
			q_head = last->next;
			if (!q_head)
				q_tail = NULL;
			last->next = NULL;
		}
		pthread_mutex_unlock(&q_mu);

		int64_t now_ms = (int64_t)(v_now_ns() / 1000000);
		maintenance(now_ms, &last_gc, &last_summary);
		if (!batch)
			continue;
		int rc = v_store_begin(store);
		for (struct job *j = batch; j && rc == 0; j = j->next)
			rc = exec_job(j, now_ms);
		if (rc == 0)
			rc = v_store_commit(store);
		if (rc == 0) {
			for (struct job *j = batch; j; j = j->next)
				j->status = 0;
		} else {
			/* one bad job (or a conflict between replicas) must not
			 * fail the others: roll back, then one transaction each */
			fprintf(stderr, "attest-verifierd: batch of %u failed (%s); retrying one by one\n", n, v_store_errmsg(store));
			v_store_rollback(store);
			for (struct job *j = batch; j; j = j->next) {
				int r = v_store_begin(store), done = 0;
				/* a COMMIT whose answer was lost (database crash) may
				 * have happened: never run a job twice (a decision
				 * would read its own nonce as replayed) */
				if (r == 0 && (done = job_recorded(j)) < 0)
					r = -1;
				if (r == 0 && !done)
					r = exec_job(j, now_ms);
				if (r == 0)
					r = v_store_commit(store);
				if (r) {
					v_store_rollback(store);
					atomic_fetch_add(&m_storage_errors, 1);
					fprintf(stderr, "attest-verifierd: storage: %s\n", v_store_errmsg(store));
				}
				j->status = r;
			}
		}
		atomic_fetch_add(&m_batches, 1);
		atomic_fetch_add(&m_batch_jobs, n);
		for (struct job *j = batch; j;) {
			/* j may be freed by its owner as soon as it is done */
			struct job *nx = j->next;
			struct MHD_Connection *mc = j->conn;
			if (mc) {
				j->done = true; /* published by MHD's mutex */
				MHD_resume_connection(mc);
			} else {
				pthread_mutex_lock(&q_mu);
				j->done = true;
				pthread_cond_signal(&j->cv);
				pthread_mutex_unlock(&q_mu);
			}
			j = nx;
		}
	}
}

static void enqueue(struct job *j)
{
	j->done = false;
	j->next = NULL;
	pthread_mutex_lock(&q_mu);
	if (q_tail)
		q_tail->next = j;
	else
		q_head = j;
	q_tail = j;
	pthread_cond_signal(&q_cv);
	pthread_mutex_unlock(&q_mu);
}

/* Queue a job and wait until it is durable (or failed). */
static int commit_job(struct job *j)
{
	j->conn = NULL;
	pthread_cond_init(&j->cv, NULL);
	enqueue(j);
	pthread_mutex_lock(&q_mu);
	while (!j->done)
		pthread_cond_wait(&j->cv, &q_mu);
	pthread_mutex_unlock(&q_mu);
	pthread_cond_destroy(&j->cv);
	return j->status;
}

/* ---- HTTP -------------------------------------------------------------------- */
enum route { R_NONE, R_CHALLENGE, R_ATTEST, R_JWKS, R_HEALTH, R_METRICS };

/* Connections parked on the writer (counted so that a stop can drain them:
 * MHD must not be stopped with suspended connections). */
static atomic_int inflight;
static atomic_int stopping;

struct conn {
	enum route route;
	char *body;
	size_t len, cap;
	bool too_large;
	bool responded;
	bool pending; /* suspended on job, counted in inflight */
	bool read_done; /* header and body read: no read deadline */
	struct job job;
	/* what the answer needs once the job is durable */
	char detail[256];
	char *token;
	int64_t ttl_s;
	bool many;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *ctype, char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status,
				  json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return MHD_NO;
	return reply(c, status, "application/json", s);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, enum v_err e,
				   const char *detail, const char *decision_id)
{
	json_t *j = json_pack("{s:s,s:s}", "error", v_err_code(e), "message", v_err_text(e));
	if (detail && detail[0])
		json_object_set_new(j, "detail", json_string(detail));
	if (decision_id)
		json_object_set_new(j, "decision_id", json_string(decision_id));
	return reply_json(c, v_err_http(e), j);
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
}

static enum MHD_Result finish(struct MHD_Connection *c, struct conn *cc);

/* Hand cc->job to the writer. Normally the connection is suspended (the
 * pool thread goes on with other connections) and answered by finish()
 * once the writer resumes it; while stopping, the thread waits instead. */
static enum MHD_Result submit(struct MHD_Connection *c, struct conn *cc)
{
	atomic_fetch_add(&inflight, 1);
	if (!atomic_load(&stopping)) {
		cc->pending = true;
		cc->job.conn = c;
		MHD_suspend_connection(c); /* before the writer can resume it */
		enqueue(&cc->job);
		return MHD_YES;
	}
	commit_job(&cc->job);
	enum MHD_Result r = finish(c, cc);
	atomic_fetch_sub(&inflight, 1);
	return r;
}

/* Audit a decision, then answer (finish_decision). pre: verdict before
 * the nonce. detail is copied. */
static enum MHD_Result decide(struct MHD_Connection *c, struct conn *cc,
			      enum v_err e, const char *detail,
			      struct v_submission *sub, struct v_decision *dec,
			      struct vstate *st)
{
	struct job *j = &cc->job;
	memset(j, 0, sizeof *j);
	j->kind = J_DECISION;
	client_addr(c, j->a.client, sizeof j->a.client);
	/* an unauthenticated rejection costs the sender nothing: past its
	 * budget it is counted (summary row every 10 s), not logged alone */
	if (e != V_OK && !(dec && dec->authenticated) &&
	    !v_limits_take(j->a.client, V_B_UNAUTH_AUDIT, 1, v_now_ns())) {
		atomic_fetch_add(&m_rate_limited[V_B_UNAUTH_AUDIT], 1);
		atomic_fetch_add(&m_decisions[e], 1);
		v_limits_note_unrecorded(j->a.client, e);
		return reply_error(c, e, detail, NULL);
	}
	if (v_uuid(j->a.decision_id))
		return reply_error(c, V_E_INTERNAL, "no randomness", NULL);
	j->a.ts_ms = (int64_t)(v_now_ns() / 1000000);
	snprintf(j->a.replica, sizeof j->a.replica, "%s", cfg.replica_id);
	snprintf(cc->detail, sizeof cc->detail, "%s", detail ? detail : "");
	j->pre_err = e;
	j->pre_detail = cc->detail;
	bool have_report = sub && dec && dec->n > 0;
	if (have_report) {
		struct ahv_report_hdr hb;
		const struct ahv_report_hdr *h = &hb;
		ahv_wire_get_report_hdr(sub->report, &hb);
		v_hex(j->a.nonce, h->nonce, h->nonce_len);
		v_hex(j->a.hv_key_id, h->hv_key_id, 32);
		v_hex(j->a.guest_key_id, h->guest_key_id, 32);
		v_hex(j->a.boot_id, h->boot_id, 16);
		j->a.counter = h->counter;
		v_hex(j->a.composite, h->composite_digest, dec->d);
		v_hex(j->a.request_digest, h->request_digest, dec->d);
		size_t el = 0;
		j->a.evidence = v_decision_text(sub, dec, st ? st->pol : NULL, dec->authenticated, &el);
		if (!j->a.evidence)
			return reply_error(c, V_E_INTERNAL, "out of memory", NULL);
		j->consume = dec->authenticated;
		if (e == V_OK) {
			cc->token = v_token_issue_text(&signer, cfg.issuer, (int64_t)(v_now_ns() / 1000000000u), cfg.token_ttl_s,
						       j->a.decision_id, sub, j->a.evidence, el);
			if (!cc->token) {
				j->pre_err = V_E_INTERNAL;
				j->pre_detail = "token signing failed";
			}
		}
	}
	return submit(c, cc);
}

static enum MHD_Result finish_decision(struct MHD_Connection *c, struct conn *cc)
{
	struct job *j = &cc->job;
	free(j->a.evidence);
	j->a.evidence = NULL;
	char *token = cc->token;
	cc->token = NULL;
	if (j->status) {
		free(token);
		atomic_fetch_add(&m_decisions[V_E_STORAGE], 1);
		return reply_error(c, V_E_STORAGE, "the decision could not be recorded; retry with the same nonce", NULL);
	}
	atomic_fetch_add(&m_decisions[j->err], 1);
	if (j->err != V_OK) {
		free(token);
		return reply_error(c, j->err, j->a.detail, j->a.decision_id);
	}
	/* decision_id is a UUID and the token base64url: nothing to escape */
	size_t tl = strlen(token), cap = tl + 96;
	char *out = malloc(cap);
	if (out)
		snprintf(out, cap, "{\"verdict\":\"accept\",\"decision_id\":\"%s\",\"token\":\"%s\"}", j->a.decision_id, token);
	free(token);
	return out ? reply(c, 200, "application/json", out) : MHD_NO;
}

static enum MHD_Result do_attest(struct MHD_Connection *c, struct conn *cc)
{
	if (cc->too_large) {
		char d[96];
		snprintf(d, sizeof d, "limit is %u bytes", cfg.max_body_bytes);
		return decide(c, cc, V_E_BODY_TOO_LARGE, d, NULL, NULL, NULL);
	}
	struct v_submission *sub = malloc(sizeof *sub);
	struct v_decision *dec = malloc(sizeof *dec);
	if (!sub || !dec) {
		free(sub);
		free(dec);
		return reply_error(c, V_E_INTERNAL, "out of memory", NULL);
	}
	char detail[256] = "";
	enum MHD_Result ret;
	enum v_err e = v_parse_submission(cc->body ? cc->body : "", cc->len, sub, detail, sizeof detail);
	if (e != V_OK) {
		ret = decide(c, cc, e, detail, NULL, NULL, NULL);
	} else {
		struct vstate *st = state_get();
		e = v_verify(sub, &st->ks, st->pol, v_now_ns(), dec);
		ret = decide(c, cc, e, dec->detail, sub, dec, st);
		state_put(st);
	}
	free(sub);
	free(dec);
	return ret;
}

static enum MHD_Result do_challenge(struct MHD_Connection *c, struct conn *cc)
{
	int64_t count = 0, ttl = cfg.nonce_ttl_s;
	if (cc->too_large)
		return reply_error(c, V_E_BODY_TOO_LARGE, NULL, NULL);
	if (cc->len) {
		json_error_t je;
		json_t *b = json_loadb(cc->body, cc->len, JSON_REJECT_DUPLICATES, &je), *v;
		if (!b || !json_is_object(b)) {
			json_decref(b);
			return reply_error(c, V_E_MALFORMED_JSON, "challenge body must be a JSON object or empty", NULL);
		}
		if ((v = json_object_get(b, "count"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > cfg.max_challenge_count) {
				json_decref(b);
				char d[96];
				snprintf(d, sizeof d, "\"count\" must be 1..%u", cfg.max_challenge_count);
				return reply_error(c, V_E_BAD_FIELD, d, NULL);
			}
			count = json_integer_value(v);
		}
		if ((v = json_object_get(b, "ttl_s"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > cfg.nonce_ttl_s) {
				json_decref(b);
				return reply_error(c, V_E_BAD_FIELD, "\"ttl_s\" must be 1..nonce_ttl_s", NULL);
			}
			ttl = json_integer_value(v);
		}
		json_decref(b);
	}
	unsigned n = count ? (unsigned)count : 1;
	char addr[64];
	client_addr(c, addr, sizeof addr);
	if (!v_limits_take(addr, V_B_NONCES, n, v_now_ns())) {
		atomic_fetch_add(&m_rate_limited[V_B_NONCES], 1);
		return reply_error(c, V_E_RATE_LIMITED, "client_nonces_per_s", NULL);
	}
	struct job *j = &cc->job;
	memset(j, 0, sizeof *j);
	j->kind = J_NONCES;
	j->nonces = malloc(n * sizeof *j->nonces);
	if (!j->nonces)
		return reply_error(c, V_E_INTERNAL, "out of memory", NULL);
	for (unsigned i = 0; i < n; i++) {
		uint8_t b[32];
		if (v_random(b, sizeof b)) {
			free(j->nonces);
			j->nonces = NULL;
			return reply_error(c, V_E_INTERNAL, "no randomness", NULL);
		}
		v_hex(j->nonces[i], b, sizeof b);
	}
	j->n_nonces = n;
	j->issued_ms = (int64_t)(v_now_ns() / 1000000);
	j->expires_ms = j->issued_ms + ttl * 1000;
	cc->ttl_s = ttl;
	cc->many = count != 0;
	return submit(c, cc);
}

static enum MHD_Result finish_challenge(struct MHD_Connection *c, struct conn *cc)
{
	struct job *j = &cc->job;
	char (*nonces)[65] = j->nonces;
	j->nonces = NULL;
	if (j->status) {
		free(nonces);
		return reply_error(c, V_E_STORAGE, "the nonce could not be stored", NULL);
	}
	unsigned n = j->n_nonces;
	atomic_fetch_add(&m_challenges, n);
	json_t *out = json_pack("{s:I,s:I}", "expires_ms", (json_int_t)j->expires_ms, "ttl_s", (json_int_t)cc->ttl_s);
	if (cc->many) {
		json_t *a = json_array();
		for (unsigned i = 0; i < n; i++)
			json_array_append_new(a, json_string(nonces[i]));
		json_object_set_new(out, "nonces", a);
	} else
		json_object_set_new(out, "nonce", json_string(nonces[0]));
	free(nonces);
	return reply_json(c, 200, out);
}

static enum MHD_Result do_health(struct MHD_Connection *c, struct conn *cc)
{
	memset(&cc->job, 0, sizeof cc->job);
	cc->job.kind = J_PING;
	return submit(c, cc);
}

static enum MHD_Result finish_health(struct MHD_Connection *c, struct conn *cc)
{
	int rc = cc->job.status;
	struct vstate *st = state_get();
	size_t nk = st->ks.n;
	state_put(st);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I}", "status", rc ? "degraded" : "ok", "storage", v_store_kind(store),
			      "storage_status", rc ? "error" : "ok", "replica", cfg.replica_id, "keys", (json_int_t)nk);
	return reply_json(c, rc ? 503 : 200, o);
}

/* The job is durable (or failed): answer. */
static enum MHD_Result finish(struct MHD_Connection *c, struct conn *cc)
{
	switch (cc->job.kind) {
	case J_DECISION:
		return finish_decision(c, cc);
	case J_NONCES:
		return finish_challenge(c, cc);
	case J_PING:
		return finish_health(c, cc);
	}
	return MHD_NO;
}

static enum MHD_Result do_metrics(struct MHD_Connection *c)
{
	size_t cap = 8192, len = 0;
	char *b = malloc(cap);
	if (!b)
		return MHD_NO;
#define OUT(...) len += (size_t)snprintf(b + len, len < cap ? cap - len : 0, __VA_ARGS__)
	OUT("# HELP attest_verifier_decisions_total Attestation decisions by result code.\n");
	OUT("# TYPE attest_verifier_decisions_total counter\n");
	for (int i = 0; i < V_E__COUNT; i++)
		if (i != V_E_NOT_FOUND && i != V_E_METHOD)
			OUT("attest_verifier_decisions_total{code=\"%s\"} %llu\n", v_err_code(i), (unsigned long long)atomic_load(&m_decisions[i]));
	OUT("# TYPE attest_verifier_nonces_issued_total counter\nattest_verifier_nonces_issued_total %llu\n", (unsigned long long)atomic_load(&m_challenges));
	OUT("# TYPE attest_verifier_commit_batches_total counter\nattest_verifier_commit_batches_total %llu\n", (unsigned long long)atomic_load(&m_batches));
	OUT("# TYPE attest_verifier_commit_jobs_total counter\nattest_verifier_commit_jobs_total %llu\n", (unsigned long long)atomic_load(&m_batch_jobs));
	OUT("# TYPE attest_verifier_storage_errors_total counter\nattest_verifier_storage_errors_total %llu\n", (unsigned long long)atomic_load(&m_storage_errors));
	OUT("# TYPE attest_verifier_reloads_total counter\nattest_verifier_reloads_total %llu\n", (unsigned long long)atomic_load(&m_reloads));
	static const char *const bucket_name[V_B__N] = {"requests", "nonces", "unauth_audits"};
	OUT("# HELP attest_verifier_rate_limited_total Requests refused (requests, nonces) or rejections not audited one by one (unauth_audits) by the per-client limits.\n");
	OUT("# TYPE attest_verifier_rate_limited_total counter\n");
	for (int i = 0; i < V_B__N; i++)
		OUT("attest_verifier_rate_limited_total{limit=\"%s\"} %llu\n", bucket_name[i], (unsigned long long)atomic_load(&m_rate_limited[i]));
	OUT("# TYPE attest_verifier_reload_errors_total counter\nattest_verifier_reload_errors_total %llu\n", (unsigned long long)atomic_load(&m_reload_errors));
	OUT("# HELP attest_verifier_deadline_closed_total Connections closed because a request was not read within request_deadline_s.\n");
	OUT("# TYPE attest_verifier_deadline_closed_total counter\nattest_verifier_deadline_closed_total %llu\n", (unsigned long long)v_deadline_closed_total());
	struct vstate *st = state_get();
	size_t nh = 0, ng = 0;
	for (size_t i = 0; i < st->ks.n; i++)
		st->ks.k[i].kind == V_KEY_HV ? nh++ : ng++;
	state_put(st);
	OUT("# TYPE attest_verifier_enrolled_keys gauge\nattest_verifier_enrolled_keys{kind=\"hv\"} %zu\nattest_verifier_enrolled_keys{kind=\"guest\"} %zu\n", nh, ng);
#undef OUT
	if (len >= cap) {
		free(b);
		return MHD_NO;
	}
	return reply(c, 200, "text/plain; version=0.0.4", b);
}

static bool is_json_ctype(const char *ct)
{
	if (!ct || strncasecmp(ct, "application/json", 16))
		return false;
	return ct[16] == 0 || ct[16] == ';' || ct[16] == ' ';
}

static struct v_deadline *conn_deadline(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: every connection gets its read deadline
 * from its start (conn_deadline.h); CLOSED comes before the socket closes. */
static void conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? v_deadline_open(ci->connect_fd) : NULL;
	} else {
		v_deadline_close(*socket_context);
		*socket_context = NULL;
	}
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct conn *cc = *con_cls;
	if (!cc) {
		cc = calloc(1, sizeof *cc);
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		char addr[64];
		client_addr(c, addr, sizeof addr);
		if (!v_limits_take(addr, V_B_REQUESTS, 1, v_now_ns())) {
			atomic_fetch_add(&m_rate_limited[V_B_REQUESTS], 1);
			cc->responded = true;
			return reply_error(c, V_E_RATE_LIMITED, "client_requests_per_s", NULL);
		}
		bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
		enum route r = R_NONE;
		bool want_post = true;
		if (!strcmp(url, "/v1/challenge"))
			r = R_CHALLENGE;
		else if (!strcmp(url, "/v1/attest"))
			r = R_ATTEST;
		else if (!strcmp(url, "/v1/jwks") || !strcmp(url, "/.well-known/jwks.json"))
			r = R_JWKS, want_post = false;
		else if (!strcmp(url, "/healthz") || !strcmp(url, "/v1/health"))
			r = R_HEALTH, want_post = false;
		else if (!strcmp(url, "/metrics"))
			r = R_METRICS, want_post = false;
		if (r == R_NONE) {
			cc->responded = true;
			return reply_error(c, V_E_NOT_FOUND, url, NULL);
		}
		if ((want_post && !post) || (!want_post && !get)) {
			cc->responded = true;
			return reply_error(c, V_E_METHOD, want_post ? "use POST" : "use GET", NULL);
		}
		cc->route = r;
		if (r == R_ATTEST || r == R_CHALLENGE) {
			const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
			const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
			bool has_body = (cl && strcmp(cl, "0")) ||
					MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
			if ((r == R_ATTEST || has_body) && !is_json_ctype(ct)) {
				cc->responded = true;
				char d[160];
				snprintf(d, sizeof d, "got Content-Type \"%.100s\"", ct ? ct : "(none)");
				if (r == R_ATTEST)
					return decide(c, cc, V_E_CONTENT_TYPE, d, NULL, NULL, NULL);
				return reply_error(c, V_E_CONTENT_TYPE, d, NULL);
			}
			if (cl && strtoull(cl, NULL, 10) > cfg.max_body_bytes)
				cc->too_large = true; /* answered once the body is drained */
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!cc->responded && !cc->too_large) {
			if (cc->len + *upload_size > cfg.max_body_bytes) {
				cc->too_large = true;
			} else {
				if (cc->len + *upload_size + 1 > cc->cap) {
					size_t nc = cc->cap ? cc->cap : 16384;
					while (nc < cc->len + *upload_size + 1)
						nc *= 2;
					char *nb = realloc(cc->body, nc);
					if (!nb)
						return MHD_NO;
					cc->body = nb;
					cc->cap = nc;
				}
				memcpy(cc->body + cc->len, upload, *upload_size);
				cc->len += *upload_size;
				cc->body[cc->len] = 0;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!cc->read_done) { /* header and body are in: the read deadline is met */
		cc->read_done = true;
		v_deadline_disarm(conn_deadline(c));
	}
	if (cc->pending) { /* resumed by the writer: the job is done */
		cc->pending = false;
		enum MHD_Result r = finish(c, cc);
		atomic_fetch_sub(&inflight, 1);
		return r;
	}
	if (cc->responded)
		return MHD_YES;
	cc->responded = true;
	switch (cc->route) {
	case R_ATTEST:
		return do_attest(c, cc);
	case R_CHALLENGE:
		return do_challenge(c, cc);
	case R_JWKS: {
		char *s = strdup(signer.jwks);
		return s ? reply(c, 200, "application/json", s) : MHD_NO;
	}
	case R_HEALTH:
		return do_health(c, cc);
	case R_METRICS:
		return do_metrics(c);
	default:
		return MHD_NO;
	}
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	struct conn *cc = *con_cls;
	/* the next request on this connection gets a fresh read deadline */
	v_deadline_rearm(conn_deadline(c));
	if (cc) {
		if (cc->pending) /* cannot happen: MHD keeps suspended connections */
			atomic_fetch_sub(&inflight, 1);
		free(cc->body);
		free(cc->token);
		free(cc->job.a.evidence);
		if (cc->job.kind == J_NONCES)
			free(cc->job.nonces);
		free(cc);
		*con_cls = NULL;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: attest-verifierd [--config FILE] [--port N] [--listen ADDR]\n"
		"                        [--storage URL] [--port-file FILE] [--check]\n"
		"\n"
		"The attest-hv remote attestation service (docs/verifier.md).\n"
		"  --config FILE     JSON configuration (default /etc/attest-verifier/verifier.json)\n"
		"  --port N          listen port (0: any free port; see --port-file)\n"
		"  --listen ADDR     listen address (IPv4 or IPv6 literal)\n"
		"  --storage URL     sqlite:PATH | postgresql://... | pg:CONNINFO\n"
		"  --replica-id ID   name of this replica in the audit log\n"
		"  --port-file FILE  write the bound port here once serving\n"
		"  --check           load everything, print a summary and exit\n"
		"  -h, --help        this text\n"
		"Signals: SIGHUP reloads keys and policy; SIGTERM/SIGINT stop.\n");
}

static void logger(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fprintf(stderr, "attest-verifierd: http: ");
	vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	const char *config = "/etc/attest-verifier/verifier.json", *port_file = NULL;
	const char *o_port = NULL, *o_listen = NULL, *o_storage = NULL, *o_replica = NULL;
	bool check = false;
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'}, {"port", required_argument, 0, 'p'},
		{"listen", required_argument, 0, 'l'}, {"storage", required_argument, 0, 's'},
		{"port-file", required_argument, 0, 'P'}, {"replica-id", required_argument, 0, 'r'},
		{"check", no_argument, 0, 'k'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:p:l:s:P:r:kh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'p': o_port = optarg; break;
		case 'l': o_listen = optarg; break;
		case 's': o_storage = optarg; break;
		case 'P': port_file = optarg; break;
		case 'r': o_replica = optarg; break;
		case 'k': check = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "attest-verifierd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	char err[1024];
	if (v_config_load(&cfg, config, err, sizeof err)) {
		fprintf(stderr, "attest-verifierd: config: %s\n", err);
		return 1;
	}
	if (o_port) {
		char *end;
		unsigned long p = strtoul(o_port, &end, 10);
		if (*end || p > 65535) {
			fprintf(stderr, "attest-verifierd: --port %s: not a port number\n", o_port);
			return 2;
		}
		cfg.port = (unsigned)p;
	}
	if (o_listen)
		snprintf(cfg.listen, sizeof cfg.listen, "%s", o_listen);
	if (o_storage)
		snprintf(cfg.storage, sizeof cfg.storage, "%s", o_storage);
	if (o_replica)
		snprintf(cfg.replica_id, sizeof cfg.replica_id, "%s", o_replica);
	if (vc_init()) {
		fprintf(stderr, "attest-verifierd: OpenSSL digests unavailable\n");
		return 1;
	}
	if (v_signer_load(&signer, cfg.token_key, err, sizeof err)) {
		fprintf(stderr, "attest-verifierd: token key: %s\n", err);
		return 1;
	}
	store = v_store_open(cfg.storage, err, sizeof err);
	if (!store || v_store_attach(store, err, sizeof err)) {
		fprintf(stderr, "attest-verifierd: storage: %s\n", err);
		return 1;
	}
	struct vstate *st = calloc(1, sizeof *st);
	if (!st)
		return 1;
	st->pol = policy_load_file(err, sizeof err);
	if (!st->pol) {
		fprintf(stderr, "attest-verifierd: policy: %s\n", err);
		return 1;
	}
	st->ks.tables_max = cfg.verify_tables_max;
	if (v_store_keys_load(store, &st->ks, err, sizeof err)) {
		fprintf(stderr, "attest-verifierd: keys: %s\n", err);
		return 1;
	}
	size_t nkeys = st->ks.n;
	state_set(st);
	if (check) {
		printf("config ok: storage %s, %zu keys, token kid %s\n", v_store_kind(store), nkeys, signer.kid);
		return 0;
	}

	/* signals go to the main thread only (sigwait below) */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	const struct v_rate rates[V_B__N] = {
		[V_B_REQUESTS] = {(double)cfg.client_requests_per_s, (double)cfg.client_request_burst},
		[V_B_NONCES] = {(double)cfg.client_nonces_per_s, (double)cfg.client_nonce_burst},
		[V_B_UNAUTH_AUDIT] = {(double)cfg.client_unauth_audits_per_s, (double)cfg.client_unauth_audit_burst},
	};
	if (v_limits_init(rates, 65536)) {
		fprintf(stderr, "attest-verifierd: out of memory\n");
		return 1;
	}
	if (v_deadline_start(cfg.request_deadline_s)) {
		fprintf(stderr, "attest-verifierd: cannot start the read-deadline thread\n");
		return 1;
	}
	pthread_t wt;
	if (pthread_create(&wt, NULL, writer, NULL)) {
		fprintf(stderr, "attest-verifierd: cannot start the writer thread\n");
		return 1;
	}

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	/* a pool of event-loop threads, one per CPU (the crypto is the work);
	 * connections wait for the writer suspended, not in a thread */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned pool = ncpu < 1 ? 1u : ncpu > 64 ? 64u : (unsigned)ncpu;
	if (strchr(cfg.listen, ':')) {
		struct sockaddr_in6 *a6 = (void *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)cfg.port);
		if (inet_pton(AF_INET6, cfg.listen, &a6->sin6_addr) != 1) {
			fprintf(stderr, "attest-verifierd: listen address %s is not an IPv6 literal\n", cfg.listen);
			return 1;
		}
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a4 = (void *)&ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)cfg.port);
		if (inet_pton(AF_INET, cfg.listen, &a4->sin_addr) != 1) {
			fprintf(stderr, "attest-verifierd: listen address %s is not an IPv4 literal\n", cfg.listen);
			return 1;
		}
	}
	char *tls_cert = NULL, *tls_key = NULL;
	if (cfg.tls_cert[0] || cfg.tls_key[0]) {
		size_t l;
		tls_cert = (char *)v_read_file(cfg.tls_cert, &l, 1 << 20);
		tls_key = (char *)v_read_file(cfg.tls_key, &l, 1 << 20);
		if (!tls_cert || !tls_key) {
			fprintf(stderr, "attest-verifierd: cannot read tls_cert/tls_key\n");
			return 1;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_Daemon *d;
	if (tls_cert)
		d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_EXTERNAL_LOGGER, logger, NULL, MHD_OPTION_SOCK_ADDR, &ss,
				     MHD_OPTION_CONNECTION_LIMIT, cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, cfg.request_timeout_s,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg.max_connections_per_client,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, conn_notify, NULL, MHD_OPTION_THREAD_POOL_SIZE, pool,
				     MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_HTTPS_MEM_CERT, tls_cert,
				     MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_EXTERNAL_LOGGER, logger, NULL, MHD_OPTION_SOCK_ADDR, &ss,
				     MHD_OPTION_CONNECTION_LIMIT, cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, cfg.request_timeout_s,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg.max_connections_per_client,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, conn_notify, NULL, MHD_OPTION_THREAD_POOL_SIZE, pool,
				     MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "attest-verifierd: cannot listen on %s port %u: %s\n", cfg.listen, cfg.port, strerror(errno));
		return 1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = di ? di->port : cfg.port;
	fprintf(stderr, "attest-verifierd: serving %s on %s port %u (storage %s, replica %s, %zu keys)\n",
		tls_cert ? "https" : "http", cfg.listen, port, v_store_kind(store), cfg.replica_id, nkeys);
	if (port_file) {
		char tmp[1100];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) || rename(tmp, port_file)) {
			fprintf(stderr, "attest-verifierd: cannot write %s\n", port_file);
			return 1;
		}
	}
	for (;;) {
		int sig = 0;
		sigwait(&set, &sig);
		if (sig == SIGHUP) {
			atomic_store(&reload_requested, 1);
			pthread_mutex_lock(&q_mu);
			pthread_cond_signal(&q_cv);
			pthread_mutex_unlock(&q_mu);
			continue;
		}
		break;
	}
	fprintf(stderr, "attest-verifierd: stopping\n");
	/* No new suspensions from here on (late requests wait in their pool
	 * thread); answer the suspended ones first: MHD must not be stopped
	 * with suspended connections. The writer runs until MHD is down. */
	atomic_store(&stopping, 1);
	for (int i = 0; i < 3000 && atomic_load(&inflight) > 0; i++)
		usleep(10000);
	MHD_stop_daemon(d);
	v_deadline_stop();
	pthread_mutex_lock(&q_mu);
	q_stop = true;
	pthread_cond_signal(&q_cv);
	pthread_mutex_unlock(&q_mu);
	pthread_join(wt, NULL);
	v_store_close(store);
	state_set(NULL);
	v_signer_free(&signer);
	free(tls_cert);
	free(tls_key);
	return 0;
}
