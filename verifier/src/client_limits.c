#include "client_limits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vutil.h"

struct client {
	char addr[64];
	bool used;
	uint64_t seen_ns;
	double tokens[V_B__N];
	uint64_t refill_ns[V_B__N];
	uint64_t unrecorded;
	uint32_t codes[V_E__COUNT];
	int64_t first_ms, last_ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct v_rate rate[V_B__N];
static struct client *tab;
static unsigned cap;
static unsigned pending; /* slots with unrecorded rejections (under mu) */

int v_limits_init(const struct v_rate rates[V_B__N], unsigned max_clients)
{
	memcpy(rate, rates, sizeof rate);
	cap = max_clients ? max_clients : 1;
	tab = calloc(cap, sizeof *tab);
	return tab ? 0 : -1;
}

/* The client's slot: open addressing, 8 probes; when all are taken the
 * least recently seen of them is reused, so a flood of addresses can only
 * give forgotten clients a fresh burst, never take more memory. */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct client *slot(const char *addr, uint64_t now_ns)
{
	uint32_t h = hash(addr);
	struct client *victim = NULL;
	for (unsigned i = 0; i < 8; i++) {
		struct client *c = &tab[(h + i) % cap];
		if (c->used && !strcmp(c->addr, addr))
			return c;
		if (!c->used) {
			if (!victim || victim->used)
				victim = c; /* an empty slot first */
		} else if (!victim || (victim->used && c->seen_ns < victim->seen_ns)) {
			victim = c;
		}
	}
	pending -= victim->unrecorded != 0;
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	snprintf(victim->addr, sizeof victim->addr, "%s", addr);
	for (int b = 0; b < V_B__N; b++) {
		victim->tokens[b] = rate[b].burst;
		victim->refill_ns[b] = now_ns;
	}
	return victim;
}

bool v_limits_take(const char *client, enum v_bucket b, double n, uint64_t now_ns)
{
	if (rate[b].per_s <= 0)
		return true;
	pthread_mutex_lock(&mu);
	struct client *c = slot(client, now_ns);
	c->seen_ns = now_ns;
	double t = c->tokens[b] + (double)(now_ns - c->refill_ns[b]) / 1e9 * rate[b].per_s;
	c->tokens[b] = t > rate[b].burst ? rate[b].burst : t;
	c->refill_ns[b] = now_ns;
	bool ok = c->tokens[b] >= n;
	if (ok)
		c->tokens[b] -= n;
	pthread_mutex_unlock(&mu);
	return ok;
}

void v_limits_note_unrecorded(const char *client, enum v_err code)
{
	uint64_t now = v_now_ns();
	pthread_mutex_lock(&mu);
	struct client *c = slot(client, now);
	c->seen_ns = now;
	if (!c->unrecorded)
		c->first_ms = (int64_t)(now / 1000000);
	c->last_ms = (int64_t)(now / 1000000);
	pending += !c->unrecorded;
	c->unrecorded++;
	if ((unsigned)code < V_E__COUNT)
		c->codes[code]++;
	pthread_mutex_unlock(&mu);
}

/* The writer calls this every 10 s: nothing to walk (and no lock taken
 * 65536 times against the pool threads) while no rejection is pending. */
void v_limits_drain(v_limits_summary_fn fn, void *ctx)
{
	for (unsigned i = 0; i < cap; i++) {
		struct client copy;
		pthread_mutex_lock(&mu);
		if (!pending) {
			pthread_mutex_unlock(&mu);
			return;
		}
		struct client *c = &tab[i];
		bool any = c->used && c->unrecorded;
		if (any) {
			copy = *c;
			c->unrecorded = 0;
			memset(c->codes, 0, sizeof c->codes);
			pending--;
		}
		pthread_mutex_unlock(&mu);
		if (any)
			fn(ctx, copy.addr, copy.unrecorded, copy.codes, copy.first_ms, copy.last_ms);
	}
}
