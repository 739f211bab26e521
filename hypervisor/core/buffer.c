/*
 * buffer.c - the caller's request and output buffers (protocol.md §4.4).
 *
 * The request is copied into hypervisor memory in one pass, page by page as
 * each page is translated, and never read from the guest again: every later
 * step works on the copy, so a guest rewriting the buffer from another CPU
 * changes nothing (no double fetch).
 *
 * The output buffer is resolved to host-physical pieces (with write access)
 * before the work whose result goes there, and the result is written to
 * exactly those pieces, so no second translation can disagree with the
 * checked one.
 */
#include <string.h>

#include "engine.h"

/* Steps shared by both buffers: range checks, then page-by-page translation
 * of [gva, gva + len). visit() gets each host-physical piece, and for a
 * write the guest paging entries that map its page. */
typedef void (*piece_fn)(struct ahv_call *c, void *arg, uint64_t off,
			 uint64_t hpa, uint64_t len,
			 const struct ahv_pt_marks *marks);

static uint32_t walk_buffer(struct ahv_call *c, uint64_t gva, uint64_t len,
			    bool write, uint32_t obj, piece_fn visit,
			    void *arg, struct ahv_fail *f)
{
	struct ahv_pt_marks marks;
	uint64_t off = 0;
	uint32_t st = ahv_range_check(c, AHV_SPACE_GVA, gva, len);

	if (st != AHV_OK)
		return ahv_fail_set(f, st, obj, gva);
	while (off < len) {
		uint64_t hpa, n = len - off;

		/* Pieces never cross a 4 KiB page: the buffers are small and
		 * per-page pieces keep the failing address exact. */
		if (n > AHV_PAGE_SIZE - ((gva + off) & (AHV_PAGE_SIZE - 1)))
			n = AHV_PAGE_SIZE - ((gva + off) & (AHV_PAGE_SIZE - 1));
		st = ahv_xlate(c, AHV_SPACE_GVA, gva + off, write, &hpa, &n,
			       write ? &marks : NULL);
		if (st != AHV_OK)
			return ahv_fail_set(f, st, obj, gva + off);
		visit(c, arg, off, hpa, n, write ? &marks : NULL);
		off += n;
	}
	return AHV_OK;
}

static void copy_piece(struct ahv_call *c, void *arg, uint64_t off,
		       uint64_t hpa, uint64_t len,
		       const struct ahv_pt_marks *marks)
{
	uint8_t *dst = arg;
	const void *src = c->plat->map_hpa(c->plat->ctx, hpa, len);

	(void)marks;
	/* hpa passed the RAM checks; a platform that still cannot map it
	 * leaves zeros, which the parser then refuses (bad magic or a bad
	 * signature), never garbage. */
	if (src)
		memcpy(dst + off, src, len);
	else
		memset(dst + off, 0, len);
}

uint32_t ahv_buf_copy_in(struct ahv_call *c, uint64_t gva, uint64_t len,
			 uint8_t *dst, struct ahv_fail *f)
{
	return walk_buffer(c, gva, len, false, AHV_OBJ_REQUEST_BUFFER,
			   copy_piece, dst, f);
}

static void record_piece(struct ahv_call *c, void *arg, uint64_t off,
			 uint64_t hpa, uint64_t len,
			 const struct ahv_pt_marks *marks)
{
	struct ahv_out_buf *ob = arg;

	(void)c;
	(void)off;
	if (ob->n < sizeof(ob->piece) / sizeof(ob->piece[0])) {
		ob->piece[ob->n].hpa = hpa;
		ob->piece[ob->n].len = len;
		ob->piece[ob->n].marks = *marks;
	}
	ob->n++;
}

uint32_t ahv_buf_resolve_out(struct ahv_call *c, uint64_t gva, uint64_t len,
			     struct ahv_out_buf *ob, struct ahv_fail *f)
{
	uint32_t st;

	ob->n = 0;
	st = walk_buffer(c, gva, len, true, AHV_OBJ_OUTPUT_BUFFER,
			 record_piece, ob, f);
	/* AHV_REPORT_MAX_SIZE < 2 pages, so 3 pieces always suffice. */
	_Static_assert(AHV_REPORT_MAX_SIZE <= 2 * 4096 + 1, "3 pieces");
	if (st == AHV_OK && ob->n > 3)
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	return st;
}

bool ahv_buf_write_out(struct ahv_call *c, const struct ahv_out_buf *ob,
		       const uint8_t *src)
{
	void *dst[3];
	uint64_t *ent[3][5];

	/* Map every piece and paging entry first: all or nothing (a failed
	 * call leaves the buffer untouched, protocol.md §3.2). */
	for (uint32_t i = 0; i < ob->n; i++) {
		const struct ahv_pt_marks *m = &ob->piece[i].marks;

		dst[i] = c->plat->map_hpa(c->plat->ctx, ob->piece[i].hpa,
					  ob->piece[i].len);
		if (!dst[i])
			return false;
		for (uint32_t j = 0; j < m->n; j++) {
			ent[i][j] = c->plat->map_hpa(c->plat->ctx, m->hpa[j], 8);
			if (!ent[i][j])
				return false;
		}
	}
	for (uint32_t i = 0; i < ob->n; i++) {
		const struct ahv_pt_marks *m = &ob->piece[i].marks;

		/* As the CPU's write: Accessed in every entry of the walk,
		 * Dirty in the leaf (SDM Vol. 3A §4.8), with locked
		 * read-modify-writes so a concurrent guest update of the other
		 * bits is not lost (§4.8: the processor's update is atomic). */
		for (uint32_t j = 0; j < m->n; j++)
			__atomic_fetch_or(ent[i][j],
					  PTE_A | (j + 1 == m->n ? PTE_D : 0),
					  __ATOMIC_SEQ_CST);
		memcpy(dst[i], src, ob->piece[i].len);
		src += ob->piece[i].len;
	}
	return true;
}
