/* Bounded big-endian writer/reader with a sticky error (ahv/tpm_buf.h). */
#include <string.h>

#include "ahv/tpm_buf.h"
#include "ahv/tpm_status.h"

void ahv_tpm_wr_init(struct ahv_tpm_wr *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->err = AHV_TPM_OK;
}

/* Reserve n bytes; NULL (and the sticky error) when they do not fit. */
static uint8_t *wr_take(struct ahv_tpm_wr *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = AHV_TPM_ENOSPC;
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void put_be(uint8_t *p, uint32_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint32_t get_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

void ahv_tpm_put_u8(struct ahv_tpm_wr *w, uint8_t v)
{
	uint8_t *p = wr_take(w, 1);
	if (p)
		*p = v;
}

void ahv_tpm_put_u16(struct ahv_tpm_wr *w, uint16_t v)
{
	uint8_t *p = wr_take(w, 2);
	if (p)
		put_be(p, v, 2);
}

void ahv_tpm_put_u32(struct ahv_tpm_wr *w, uint32_t v)
{
	uint8_t *p = wr_take(w, 4);
	if (p)
		put_be(p, v, 4);
}

void ahv_tpm_put_bytes(struct ahv_tpm_wr *w, const void *src, size_t n)
{
	if (n && !src) {
		if (!w->err)
			w->err = AHV_TPM_EINVAL;
		return;
	}
	uint8_t *p = wr_take(w, n);
	if (p && n)
		memcpy(p, src, n);
}

void ahv_tpm_put_tpm2b(struct ahv_tpm_wr *w, const void *src, size_t n)
{
	if (n > 0xFFFFu) {
		if (!w->err)
			w->err = AHV_TPM_ENOSPC;
		return;
	}
	ahv_tpm_put_u16(w, (uint16_t)n);
	ahv_tpm_put_bytes(w, src, n);
}

size_t ahv_tpm_put_size16_begin(struct ahv_tpm_wr *w)
{
	size_t mark = w->len;
	ahv_tpm_put_u16(w, 0);
	return mark;
}

void ahv_tpm_put_size16_end(struct ahv_tpm_wr *w, size_t mark)
{
	if (w->err)
		return;
	if (mark > w->len || w->len - mark < 2 || w->len - mark - 2 > 0xFFFFu) {
		w->err = AHV_TPM_ENOSPC;
		return;
	}
	put_be(w->buf + mark, (uint32_t)(w->len - mark - 2), 2);
}

void ahv_tpm_patch_u32(struct ahv_tpm_wr *w, size_t at, uint32_t v)
{
	if (w->err)
		return;
	if (at > w->len || w->len - at < 4) {
		w->err = AHV_TPM_EINVAL;
		return;
	}
	put_be(w->buf + at, v, 4);
}

void ahv_tpm_rd_init(struct ahv_tpm_rd *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = buf ? len : 0;
	r->pos = 0;
	r->err = AHV_TPM_OK;
}

const uint8_t *ahv_tpm_get_view(struct ahv_tpm_rd *r, size_t n)
{
	if (r->err)
		return NULL;
	if (n > r->len - r->pos) {
		r->err = AHV_TPM_EFORMAT;
		return NULL;
	}
	const uint8_t *p = r->buf + r->pos;
	r->pos += n;
	return p;
}

uint8_t ahv_tpm_get_u8(struct ahv_tpm_rd *r)
{
	const uint8_t *p = ahv_tpm_get_view(r, 1);
	return p ? *p : 0;
}

uint16_t ahv_tpm_get_u16(struct ahv_tpm_rd *r)
{
	const uint8_t *p = ahv_tpm_get_view(r, 2);
	return p ? (uint16_t)get_be(p, 2) : 0;
}

uint32_t ahv_tpm_get_u32(struct ahv_tpm_rd *r)
{
	const uint8_t *p = ahv_tpm_get_view(r, 4);
	return p ? get_be(p, 4) : 0;
}

void ahv_tpm_get_bytes(struct ahv_tpm_rd *r, void *out, size_t n)
{
	const uint8_t *p = ahv_tpm_get_view(r, n);
	if (p && n)
		memcpy(out, p, n);
}

const uint8_t *ahv_tpm_get_tpm2b_view(struct ahv_tpm_rd *r, size_t max, size_t *n)
{
	size_t size = ahv_tpm_get_u16(r);
	*n = 0;
	if (r->err)
		return NULL;
	if (size > max) {
		r->err = AHV_TPM_EFORMAT;
		return NULL;
	}
	const uint8_t *p = ahv_tpm_get_view(r, size);
	if (p)
		*n = size;
	return p;
}

void ahv_tpm_get_tpm2b(struct ahv_tpm_rd *r, void *out, size_t cap, size_t *n)
{
	const uint8_t *p = ahv_tpm_get_tpm2b_view(r, cap, n);
	if (p && *n)
		memcpy(out, p, *n);
}

void ahv_tpm_rd_sub(struct ahv_tpm_rd *r, size_t n, struct ahv_tpm_rd *sub)
{
	const uint8_t *p = ahv_tpm_get_view(r, n);
	ahv_tpm_rd_init(sub, p, p ? n : 0);
	if (!p)
		sub->err = r->err;
}

size_t ahv_tpm_rd_left(const struct ahv_tpm_rd *r)
{
	return r->err ? 0 : r->len - r->pos;
}

int ahv_tpm_rd_done(const struct ahv_tpm_rd *r)
{
	if (r->err)
		return r->err;
	return r->pos == r->len ? AHV_TPM_OK : AHV_TPM_EFORMAT;
}
