/*
 * watch.c - watched regions (docs/watch.md): after measuring, the frames
 * behind a request's regions lose write permission in the nested tables
 * (the platform's watch_protect hook); the first write to one of them, by
 * any vCPU, is recorded and gives the permission back; a later CHECK
 * report says per region "unmodified since" (the digest of START, not
 * hashed again) or "first modified" with the record, and for GVA regions
 * whether the guest tables still map the same frames.
 *
 * Everything lives in the platform's pool share (plat->watch_mem): a fixed
 * table of AHV_WATCH_MAX watches, then one array of page entries that the
 * watches take contiguous runs of (compacted when one ends). One spinlock
 * guards it: the engine (under its own lock, other vCPUs stopped) and the
 * write-fault path of any CPU.
 */
#include <string.h>

#include "engine.h"
#include "watch.h"

/* Page entry: the guest-physical frame, flags in its low bits. */
#define PG_WRITTEN UINT64_C(1) /* written since START: frame given back */
#define PG_FOREIGN UINT64_C(2) /* frame was not writable in the nested
				  tables at START: not ours to protect */
#define PG_FRAME(e) ((e) & ~(AHV_PAGE_SIZE - 1))

struct wregion {
	uint64_t address, size;
	uint32_t space, flags; /* AHV_RESULT_F_MODIFIED */
	uint32_t first, npages; /* its page entries */
	uint8_t digest[AHV_WATCH_HASH_SIZE];
	struct ahv_watch_record rec;
};

struct watch {
	uint32_t id;
	uint32_t state; /* 0: free; AHV_WATCH_ACTIVE / AHV_WATCH_EXPIRED */
	uint8_t key_id[AHV_KEY_ID_SIZE];
	uint64_t since_counter, since_ns; /* the START report's */
	uint64_t expire_mono;             /* monotonic_ns at the end */
	uint64_t lifetime_ns;
	uint32_t first, npages;           /* all its page entries */
	uint16_t hash_alg, region_count;
	uint8_t cpl;                      /* the caller's at START, and */
	uint64_t groot;                   /* its tables, for the re-walk */
	struct ahv_pt_fmt gfmt;
	struct wregion r[AHV_MAX_REGIONS];
};

struct wtable {
	uint32_t lock, next_id;
	uint32_t used, cap; /* page entries */
	struct watch w[AHV_WATCH_MAX];
	uint64_t page[];    /* PG_* | frame */
};

_Static_assert(sizeof(struct wtable) < ((size_t)64 << 10),
	       "the watch table leaves AHV_WATCH_MEM_MIN room for pages");

static struct wtable *table(const struct ahv_platform *p)
{
	return p->watch_protect ? p->watch_mem : NULL;
}

static void lock(struct wtable *t)
{
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void unlock(struct wtable *t)
{
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
}

bool ahv_watch_init(const struct ahv_platform *p)
{
	struct wtable *t = p->watch_mem;

	if (!p->watch_protect || !t || p->watch_mem_size < AHV_WATCH_MEM_MIN)
		return false;
	memset(t, 0, sizeof(*t));
	t->next_id = 1;
	t->cap = (uint32_t)((p->watch_mem_size - sizeof(*t)) / sizeof(t->page[0]));
	return true;
}

bool ahv_watch_flags_ok(const struct ahv_core *core, uint32_t flags)
{
	bool start = flags & AHV_REQ_F_WATCH_START;
	bool check = flags & AHV_REQ_F_WATCH_CHECK;

	if (!flags)
		return true;
	if ((flags & AHV_REQ_F_RESERVED_MASK) || !(core->features & AHV_FEAT_WATCH))
		return false;
	if (start && check)
		return false;
	return !(flags & AHV_REQ_F_WATCH_END) || check;
}

/* Does an active watch still hold frame `frame` write-protected? */
static bool frame_held(const struct wtable *t, uint64_t frame)
{
	for (uint32_t k = 0; k < AHV_WATCH_MAX; k++) {
		const struct watch *w = &t->w[k];

		if (w->state != AHV_WATCH_ACTIVE)
			continue;
		for (uint32_t j = w->first; j < w->first + w->npages; j++)
			if (PG_FRAME(t->page[j]) == frame &&
			    !(t->page[j] & (PG_WRITTEN | PG_FOREIGN)))
				return true;
	}
	return false;
}

/* Give back the frames of w (no longer active) that no other watch holds. */
static void release_frames(const struct ahv_platform *p, struct wtable *t,
			   const struct watch *w)
{
	for (uint32_t j = w->first; j < w->first + w->npages; j++) {
		uint64_t e = t->page[j];

		if (!(e & (PG_WRITTEN | PG_FOREIGN)) && !frame_held(t, PG_FRAME(e)))
			p->watch_protect(p->ctx, PG_FRAME(e), false);
	}
}

/* Lifetimes that ran out: EXPIRED, frames given back. */
static void expire_due(const struct ahv_platform *p, struct wtable *t)
{
	uint64_t now = p->monotonic_ns(p->ctx);

	for (uint32_t k = 0; k < AHV_WATCH_MAX; k++) {
		struct watch *w = &t->w[k];

		if (w->state == AHV_WATCH_ACTIVE && now >= w->expire_mono) {
			w->state = AHV_WATCH_EXPIRED;
			release_frames(p, t, w);
		}
	}
}

/* Free slot k: frames given back (if still active), page entries compacted. */
static void free_slot(const struct ahv_platform *p, struct wtable *t,
		      struct watch *w)
{
	uint32_t first = w->first, n = w->npages;

	if (w->state == AHV_WATCH_ACTIVE) {
		w->state = 0;
		release_frames(p, t, w);
	}
	w->state = 0;
	memmove(&t->page[first], &t->page[first + n],
		(t->used - first - n) * sizeof(t->page[0]));
	t->used -= n;
	for (uint32_t k = 0; k < AHV_WATCH_MAX; k++) {
		struct watch *o = &t->w[k];

		if (!o->state || o->first < first + n)
			continue;
		o->first -= n;
		for (uint32_t i = 0; i < o->region_count; i++)
			o->r[i].first -= n;
	}
	w->npages = 0;
}

bool ahv_watch_write_fault(struct ahv_core *core, uint64_t gpa, uint64_t rip,
			   uint32_t apic_id)
{
	const struct ahv_platform *p = core->plat;
	struct wtable *t = (core->features & AHV_FEAT_WATCH) ? table(p) : NULL;
	uint64_t frame = gpa & ~(AHV_PAGE_SIZE - 1);
	uint32_t tflags;
	bool hit = false;

	if (!t)
		return false;
	lock(t);
	expire_due(p, t);
	for (uint32_t k = 0; k < AHV_WATCH_MAX; k++) {
		struct watch *w = &t->w[k];

		if (w->state != AHV_WATCH_ACTIVE)
			continue;
		for (uint32_t i = 0; i < w->region_count; i++) {
			struct wregion *r = &w->r[i];

			for (uint32_t j = r->first; j < r->first + r->npages; j++) {
				if (PG_FRAME(t->page[j]) != frame ||
				    (t->page[j] & PG_WRITTEN))
					continue;
				t->page[j] |= PG_WRITTEN;
				hit = true;
				if (r->flags & AHV_RESULT_F_MODIFIED)
					continue;
				r->flags |= AHV_RESULT_F_MODIFIED;
				r->rec = (struct ahv_watch_record){
					.time_ns = ahv_timestamp_ns(p, &tflags),
					.gpa = gpa, .rip = rip, .apic_id = apic_id,
				};
			}
		}
	}
	if (hit)
		p->watch_protect(p->ctx, frame, false);
	unlock(t);
	return hit;
}

/* ---- the engine's steps ---------------------------------------------------- */
static struct watch *find(struct wtable *t, uint64_t id, const uint8_t *key_id)
{
	for (uint32_t k = 0; k < AHV_WATCH_MAX; k++) {
		struct watch *w = &t->w[k];

		/* another key's watch is as unknown as a missing one */
		if (w->state && id && w->id == id &&
		    memcmp(w->key_id, key_id, AHV_KEY_ID_SIZE) == 0)
			return w;
	}
	return NULL;
}

static uint32_t regions_match(const struct watch *w, const uint8_t *req,
			      const struct ahv_request_hdr *q,
			      struct ahv_fail *f)
{
	if (q->hash_alg != w->hash_alg)
		return ahv_fail_set(f, AHV_E_WATCH_MISMATCH, AHV_OBJ_REQUEST_FIELD,
				    offsetof(struct ahv_request_hdr, hash_alg));
	if (q->region_count != w->region_count)
		return ahv_fail_set(f, AHV_E_WATCH_MISMATCH, AHV_OBJ_REQUEST_FIELD,
				    offsetof(struct ahv_request_hdr, region_count));
	for (uint32_t i = 0; i < q->region_count; i++) {
		struct ahv_region r;

		memcpy(&r, req + AHV_REQUEST_REGION_OFFSET(i), sizeof(r));
		if (r.address != w->r[i].address || r.size != w->r[i].size ||
		    r.space != w->r[i].space)
			return ahv_fail_set(f, AHV_E_WATCH_MISMATCH, i, r.address);
	}
	return AHV_OK;
}

uint32_t ahv_watch_prepare(struct ahv_call *c, const uint8_t *req,
			   struct ahv_fail *f)
{
	const uint8_t *key_id;
	struct ahv_request_hdr q;
	struct wtable *t = table(c->plat);
	uint32_t st;

	memcpy(&q, req, sizeof(q));
	c->watch_op = AHV_WOP_NONE;
	c->watch = NULL;
	c->watch_end = false;
	if (!q.flags)
		return AHV_OK;
	if (q.flags & AHV_REQ_F_WATCH_START) {
		if (q.watch_arg > AHV_WATCH_MAX_LIFETIME_S)
			return ahv_fail_set(f, AHV_E_WATCH_LIMIT, AHV_OBJ_REQUEST_FIELD,
					    offsetof(struct ahv_request_hdr, watch_arg));
		c->watch_op = AHV_WOP_START;
		return AHV_OK;
	}
	key_id = req + AHV_REQUEST_TAIL_OFFSET(q.region_count);
	lock(t);
	c->watch = find(t, q.watch_arg, key_id);
	st = c->watch ? regions_match(c->watch, req, &q, f)
		      : ahv_fail_set(f, AHV_E_WATCH_UNKNOWN, AHV_OBJ_REQUEST_FIELD,
				     offsetof(struct ahv_request_hdr, watch_arg));
	unlock(t);
	if (st == AHV_OK) {
		c->watch_op = AHV_WOP_CHECK;
		c->watch_end = (q.flags & AHV_REQ_F_WATCH_END) != 0;
	}
	return st;
}

/* The guest-physical frame behind page `va` of a region, through c's
 * tables for GVA regions. */
static uint32_t page_gpa(struct ahv_call *c, uint32_t space, uint64_t va,
			 uint64_t *gpa)
{
	if (space == AHV_SPACE_GPA) {
		*gpa = va;
		return AHV_OK;
	}
	return ahv_xlate_gva_gpa(c, va, gpa);
}

void ahv_watch_tables(struct ahv_call *c, bool start_caller)
{
	const struct watch *w = c->watch;

	if (start_caller) {
		c->watch_saved.groot = c->groot;
		c->watch_saved.gfmt = c->gfmt;
		c->watch_saved.cpl = c->cpl;
		c->groot = w->groot;
		c->gfmt = w->gfmt;
		c->cpl = w->cpl;
	} else {
		c->groot = c->watch_saved.groot;
		c->gfmt = c->watch_saved.gfmt;
		c->cpl = c->watch_saved.cpl;
	}
	ahv_call_flush(c);
}

/* Do the region's pages still map to the frames watched? (c walks the
 * START caller's tables: ahv_watch_tables.) */
static bool still_mapped(struct ahv_call *c, struct wtable *t,
			 const struct wregion *r)
{
	bool same = true;

	if (r->space != AHV_SPACE_GVA)
		return true;
	for (uint32_t j = 0; j < r->npages && same; j++) {
		uint64_t va = (r->address & ~(AHV_PAGE_SIZE - 1)) + j * AHV_PAGE_SIZE;
		uint64_t gpa;

		same = page_gpa(c, r->space, va, &gpa) == AHV_OK &&
		       PG_FRAME(gpa) == PG_FRAME(t->page[r->first + j]);
	}
	return same;
}

void ahv_watch_result(struct ahv_call *c, uint32_t i,
		      struct ahv_region_result *res, bool *measure)
{
	const struct ahv_platform *p = c->plat;
	struct wtable *t = table(p);
	struct watch *w = c->watch;
	struct wregion *r = &w->r[i];
	struct ahv_watch_record rec;
	uint32_t tflags;
	bool mapped;

	lock(t);
	if (i == 0)
		expire_due(p, t);
	mapped = still_mapped(c, t, r);
	res->flags |= AHV_RESULT_F_WATCHED | (r->flags & AHV_RESULT_F_MODIFIED);
	if (r->flags & AHV_RESULT_F_MODIFIED) {
		rec = r->rec;
	} else {
		memset(&rec, 0, sizeof(rec));
		rec.time_ns = w->state == AHV_WATCH_EXPIRED
				      ? w->since_ns + w->lifetime_ns
				      : ahv_timestamp_ns(p, &tflags);
	}
	unlock(t);
	*measure = false;
	if (!mapped)
		res->flags |= AHV_RESULT_F_REMAPPED; /* digest stays zero */
	else if (r->flags & AHV_RESULT_F_MODIFIED)
		*measure = true;
	else
		memcpy(res->digest, r->digest, AHV_WATCH_HASH_SIZE);
	memcpy(res->digest + AHV_WATCH_RECORD_OFFSET, &rec, sizeof(rec));
}

/* Slot for a new watch: a free one, else the oldest expired one. */
static struct watch *take_slot(const struct ahv_platform *p, struct wtable *t)
{
	struct watch *old = NULL;

	for (uint32_t k = 0; k < AHV_WATCH_MAX; k++) {
		struct watch *w = &t->w[k];

		if (!w->state)
			return w;
		if (w->state == AHV_WATCH_EXPIRED && (!old || w->id < old->id))
			old = w;
	}
	if (old)
		free_slot(p, t, old);
	return old;
}

/* Does the engine's own write of this report (its buffer, or the Dirty
 * and Accessed flags it sets) land in the frame at host-physical hpa? */
static bool engine_writes(const struct ahv_out_buf *ob, uint64_t hpa)
{
	for (uint32_t i = 0; i < ob->n; i++) {
		if (ob->piece[i].hpa < hpa + AHV_PAGE_SIZE &&
		    hpa < ob->piece[i].hpa + ob->piece[i].len)
			return true;
		for (uint32_t m = 0; m < ob->piece[i].marks.n; m++)
			if ((ob->piece[i].marks.hpa[m] & ~(AHV_PAGE_SIZE - 1)) == hpa)
				return true;
	}
	return false;
}

/* Pass 1: every page's frame, and whether it is ours to protect. A frame
 * the report itself is about to be written to is modified at once. */
static uint32_t collect(struct ahv_call *c, struct wtable *t,
			struct watch *w, const struct ahv_out_buf *ob,
			struct ahv_fail *f);

static uint32_t collect_pages(struct ahv_call *c, struct wtable *t,
			      struct watch *w, const struct ahv_out_buf *ob,
			      struct ahv_fail *f)
{
	uint32_t st = collect(c, t, w, ob, f);

	w->npages = t->used - w->first;
	return st;
}

static uint32_t collect(struct ahv_call *c, struct wtable *t,
			struct watch *w, const struct ahv_out_buf *ob,
			struct ahv_fail *f)
{
	for (uint32_t i = 0; i < w->region_count; i++) {
		struct wregion *r = &w->r[i];
		uint64_t va = r->address & ~(AHV_PAGE_SIZE - 1);
		uint64_t end = r->size ? r->address + (r->size - 1) : 0;

		r->first = t->used;
		r->npages = r->size ? (uint32_t)(((end - va) >> 12) + 1) : 0;
		if (r->npages > t->cap - t->used)
			return ahv_fail_set(f, AHV_E_WATCH_LIMIT, i, r->address);
		for (uint32_t j = 0; j < r->npages; j++, va += AHV_PAGE_SIZE) {
			uint64_t gpa, hpa, span;
			uint32_t st = page_gpa(c, r->space, va, &gpa);

			if (st != AHV_OK) /* measured a moment ago: cannot be */
				return ahv_fail_set(f, st, i, va);
			gpa = PG_FRAME(gpa);
			/* A frame the nested tables do not let the guest write,
			 * and no watch holds, is not ours to give back later. */
			if (ahv_xlate_gpa(c, gpa, true, &hpa, &span) != AHV_OK &&
			    !frame_held(t, gpa))
				gpa |= PG_FOREIGN;
			if (ahv_xlate_gpa(c, PG_FRAME(gpa), false, &hpa, &span) ==
				    AHV_OK &&
			    engine_writes(ob, hpa)) {
				uint32_t tf;

				gpa |= PG_WRITTEN;
				if (!(r->flags & AHV_RESULT_F_MODIFIED))
					r->rec = (struct ahv_watch_record){
						.time_ns = ahv_timestamp_ns(c->plat, &tf),
						.gpa = PG_FRAME(gpa),
						.apic_id = c->x->apic_id,
					};
				r->flags |= AHV_RESULT_F_MODIFIED;
			}
			t->page[t->used++] = gpa;
		}
	}
	return AHV_OK;
}

uint32_t ahv_watch_start(struct ahv_call *c, const uint8_t *req,
			 const uint8_t *report, const struct ahv_out_buf *ob,
			 struct ahv_fail *f)
{
	const struct ahv_platform *p = c->plat;
	struct wtable *t = table(p);
	struct ahv_request_hdr q;
	struct watch *w;
	uint32_t st = AHV_OK;

	memcpy(&q, req, sizeof(q));
	lock(t);
	expire_due(p, t);
	w = take_slot(p, t);
	if (!w) {
		unlock(t);
		return ahv_fail_set(f, AHV_E_WATCH_LIMIT, AHV_OBJ_NONE, 0);
	}
	memset(w, 0, sizeof(*w));
	memcpy(w->key_id, req + AHV_REQUEST_TAIL_OFFSET(q.region_count),
	       AHV_KEY_ID_SIZE);
	w->hash_alg = q.hash_alg;
	w->region_count = q.region_count;
	w->lifetime_ns = (q.watch_arg ? q.watch_arg : AHV_WATCH_MAX_LIFETIME_S) *
			 UINT64_C(1000000000);
	w->groot = c->groot;
	w->gfmt = c->gfmt;
	w->cpl = c->cpl;
	w->first = t->used;
	for (uint32_t i = 0; i < q.region_count; i++) {
		struct ahv_region_result res;

		memcpy(&res, report + AHV_REPORT_RESULT_OFFSET(i), sizeof(res));
		w->r[i].address = res.address;
		w->r[i].size = res.size;
		w->r[i].space = res.space;
		memcpy(w->r[i].digest, res.digest, AHV_WATCH_HASH_SIZE);
	}
	/* taken from here on, holding no frame yet */
	w->state = AHV_WATCH_EXPIRED;
	st = collect_pages(c, t, w, ob, f);
	/* Pass 2: protect. A nested table page that cannot be had undoes
	 * the frames protected so far. */
	uint32_t done = 0;
	for (; st == AHV_OK && done < w->npages; done++) {
		uint64_t e = t->page[w->first + done];

		if (!(e & (PG_FOREIGN | PG_WRITTEN)) && p->watch_protect(p->ctx, PG_FRAME(e), true))
			st = ahv_fail_set(f, AHV_E_WATCH_LIMIT, AHV_OBJ_NONE, 0);
	}
	if (st != AHV_OK) {
		/* this watch's entries are the last ones: keep only those
		 * protected, and let free_slot give them back */
		if (done)
			done--;
		t->used = w->first + done;
		w->npages = done;
		w->state = AHV_WATCH_ACTIVE;
		free_slot(p, t, w);
	} else {
		w->id = t->next_id++;
		if (!t->next_id)
			t->next_id = 1;
		w->state = AHV_WATCH_ACTIVE;
		w->expire_mono = p->monotonic_ns(p->ctx) + w->lifetime_ns;
		c->watch = w;
	}
	unlock(t);
	return st;
}

void ahv_watch_header(struct ahv_call *c, struct ahv_report_hdr *h)
{
	struct watch *w = c->watch;

	if (!w)
		return;
	if (c->watch_op == AHV_WOP_START) {
		w->since_counter = h->counter;
		w->since_ns = h->timestamp_ns;
	}
	h->watch_id = w->id;
	h->watch_state = (uint8_t)w->state;
	if (w->state == AHV_WATCH_ACTIVE && c->watch_op == AHV_WOP_CHECK &&
	    (c->watch_end))
		h->watch_state = AHV_WATCH_ENDED;
	h->watch_since_counter = w->since_counter;
	h->watch_since_ns = w->since_ns;
}

void ahv_watch_finish(struct ahv_call *c, bool ok)
{
	const struct ahv_platform *p = c->plat;
	struct wtable *t = table(p);
	struct watch *w = c->watch;

	if (!w)
		return;
	lock(t);
	if (!ok && c->watch_op == AHV_WOP_START)
		free_slot(p, t, w);
	else if (ok && c->watch_op == AHV_WOP_CHECK &&
		 (c->watch_end || w->state == AHV_WATCH_EXPIRED))
		free_slot(p, t, w);
	unlock(t);
	c->watch = NULL;
}
