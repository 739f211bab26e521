/*
 * ahv/tpm_buf.h - bounded big-endian writer and reader for TPM structures.
 *
 * Both carry a sticky error: the first out-of-bounds write or read sets
 * `err` (AHV_TPM_ENOSPC for the writer, AHV_TPM_EFORMAT for the reader) and
 * every later call is a no-op that returns zeros, so a caller may marshal a
 * whole structure and check once at the end. Nothing here allocates.
 */
#ifndef AHV_TPM_BUF_H
#define AHV_TPM_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ahv_tpm_wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

struct ahv_tpm_rd {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	int err;
};

void ahv_tpm_wr_init(struct ahv_tpm_wr *w, uint8_t *buf, size_t cap);
void ahv_tpm_put_u8(struct ahv_tpm_wr *w, uint8_t v);
void ahv_tpm_put_u16(struct ahv_tpm_wr *w, uint16_t v);
void ahv_tpm_put_u32(struct ahv_tpm_wr *w, uint32_t v);
void ahv_tpm_put_bytes(struct ahv_tpm_wr *w, const void *p, size_t n);
/* A TPM2B: UINT16 size then the bytes (n > 0xFFFF is an error). */
void ahv_tpm_put_tpm2b(struct ahv_tpm_wr *w, const void *p, size_t n);
/* Sized sub-structure (TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, ...): begin
 * writes a UINT16 placeholder and returns its offset; end patches it with the
 * number of bytes written since. */
size_t ahv_tpm_put_size16_begin(struct ahv_tpm_wr *w);
void ahv_tpm_put_size16_end(struct ahv_tpm_wr *w, size_t mark);
/* Overwrite an already written UINT32 at offset `at` (size fix-ups). */
void ahv_tpm_patch_u32(struct ahv_tpm_wr *w, size_t at, uint32_t v);

void ahv_tpm_rd_init(struct ahv_tpm_rd *r, const uint8_t *buf, size_t len);
uint8_t ahv_tpm_get_u8(struct ahv_tpm_rd *r);
uint16_t ahv_tpm_get_u16(struct ahv_tpm_rd *r);
uint32_t ahv_tpm_get_u32(struct ahv_tpm_rd *r);
void ahv_tpm_get_bytes(struct ahv_tpm_rd *r, void *out, size_t n);
/* Point at the next n bytes without copying (NULL and error if short). */
const uint8_t *ahv_tpm_get_view(struct ahv_tpm_rd *r, size_t n);
/* A TPM2B into out (size > cap is an error); *n gets the size. */
void ahv_tpm_get_tpm2b(struct ahv_tpm_rd *r, void *out, size_t cap, size_t *n);
/* A TPM2B in place: returns its bytes, *n its size (at most max). */
const uint8_t *ahv_tpm_get_tpm2b_view(struct ahv_tpm_rd *r, size_t max, size_t *n);
/* Carve the next n bytes off as a reader of their own. */
void ahv_tpm_rd_sub(struct ahv_tpm_rd *r, size_t n, struct ahv_tpm_rd *sub);
size_t ahv_tpm_rd_left(const struct ahv_tpm_rd *r);
/* AHV_TPM_OK iff no error and every byte was consumed (trailing bytes are
 * AHV_TPM_EFORMAT). */
int ahv_tpm_rd_done(const struct ahv_tpm_rd *r);

#ifdef __cplusplus
}
#endif
#endif /* AHV_TPM_BUF_H */
