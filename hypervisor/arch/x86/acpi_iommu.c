/*
 * acpi_iommu.c - DMAR (VT-d) and IVRS (AMD-Vi) parsers: pure functions over
 * the table's bytes, hostile input assumed (every length checked against
 * the one before it). Section numbers: Intel VT-d spec rev 4.x Chapter 8,
 * AMD IOMMU spec 48882 §5.2; the header check is acpi_table.c's (ACPI 6.4
 * §5.2.6).
 */
#include "ahv/x86/acpi_iommu.h"
#include <string.h>

/* ---- DMAR ---------------------------------------------------------------------- */
#define DMAR_FIXED 48 /* header, Host Address Width, Flags, 10 reserved (§8.1) */

/* Device scopes from p to end (§8.3.1): each Type, Length (6 + 2n), Flags,
 * reserved, Enumeration ID, Start Bus, n (Device, Function) path entries. */
static int parse_scopes(const uint8_t *p, const uint8_t *end, struct ahv_dmar_scope *out, uint8_t *n,
			const char **why)
{
	*n = 0;
	while (p < end) {
		if (end - p < 2 || p[1] < 6 || p[1] > end - p || (p[1] - 6) % 2) {
			*why = "device scope with a bad length";
			return -1;
		}
		if (p[0] < 1 || p[0] > 5) {
			*why = "device scope of an unknown type";
			return -1;
		}
		if ((p[0] == 1 || p[0] == 2) && p[1] == 6) {
			*why = "PCI device scope without a path";
			return -1;
		}
		if (*n == AHV_DMAR_MAX_SCOPES) {
			*why = "too many device scopes in one structure";
			return -1;
		}
		struct ahv_dmar_scope *s = &out[(*n)++];
		s->type = p[0];
		s->enum_id = p[4];
		s->start_bus = p[5];
		s->path_len = (uint8_t)((p[1] - 6) / 2);
		s->dev = s->path_len ? p[p[1] - 2] : 0;
		s->fn = s->path_len ? p[p[1] - 1] : 0;
		if (s->path_len && (s->dev > 31 || s->fn > 7)) {
			*why = "device scope path with a device above 31 or a function above 7";
			return -1;
		}
		p += p[1];
	}
	return 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int dmar_drhd(const uint8_t *p, uint16_t sl, struct ahv_dmar *d, const char **why)
{
	if (sl < 16) {
		*why = "DRHD shorter than 16 bytes";
		return -1;
	}
	if (d->n_drhd == AHV_DMAR_MAX_DRHD) {
		*why = "more DRHD units than supported";
		return -1;
	}
	struct ahv_dmar_drhd *u = &d->drhd[d->n_drhd];
	memset(u, 0, sizeof(*u));
	u->flags = p[4];
	/* Size (§8.3, rev 3.0+): bits 3:0, the register set is 2^N pages;
	 * older tables leave it 0 (one page). */
	u->reg_size = 4096ull << (p[5] & 15);
	u->segment = ahv_le16(p + 6);
	u->reg_base = ahv_le64(p + 8);
	if (!u->reg_base || (u->reg_base & 4095) || u->reg_base + u->reg_size < u->reg_base) {
		*why = "DRHD register base is zero, unaligned or wraps";
		return -1;
	}
	for (uint32_t i = 0; i < d->n_drhd; i++) {
		if (overlaps(d->drhd[i].reg_base, d->drhd[i].reg_size, u->reg_base, u->reg_size)) {
			*why = "two DRHD units with overlapping register sets";
			return -1;
		}
		if ((u->flags & AHV_DRHD_F_INCLUDE_PCI_ALL) && (d->drhd[i].flags & AHV_DRHD_F_INCLUDE_PCI_ALL) &&
		    d->drhd[i].segment == u->segment) {
			*why = "two INCLUDE_PCI_ALL units for one PCI segment";
			return -1;
		}
	}
	if (parse_scopes(p + 16, p + sl, u->scopes, &u->n_scopes, why))
		return -1;
	d->n_drhd++;
	return 0;
}

static int dmar_rmrr(const uint8_t *p, uint16_t sl, struct ahv_dmar *d, const char **why)
{
	if (sl < 24) {
		*why = "RMRR shorter than 24 bytes";
		return -1;
	}
	if (d->n_rmrr == AHV_DMAR_MAX_RMRR) {
		*why = "more RMRR regions than supported";
		return -1;
	}
	struct ahv_dmar_rmrr *r = &d->rmrr[d->n_rmrr];
	memset(r, 0, sizeof(*r));
	r->segment = ahv_le16(p + 6);
	r->base = ahv_le64(p + 8);
	r->limit = ahv_le64(p + 16);
	/* §8.4: base 4 KiB aligned, limit + 1 a multiple of 4 KiB. */
	if ((r->base & 4095) || (r->limit & 4095) != 4095 || r->limit < r->base) {
		*why = "RMRR region unaligned or with its limit below its base";
		return -1;
	}
	if (parse_scopes(p + 24, p + sl, r->scopes, &r->n_scopes, why))
		return -1;
	if (!r->n_scopes) {
		*why = "RMRR without a device scope";
		return -1;
	}
	d->n_rmrr++;
	return 0;
}

int ahv_dmar_parse(const uint8_t *t, size_t len, struct ahv_dmar *d, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	memset(d, 0, sizeof(*d));
	uint32_t tl = ahv_acpi_table_len(t, len, "DMAR", DMAR_FIXED, why);
	if (!tl)
		return -1;
	d->haw = (uint8_t)(t[36] + 1);
	d->flags = t[37];
	if (d->haw < 32 || d->haw > 64) {
		*why = "host address width outside 32..64 bits";
		return -1;
	}
	/* Remapping structures (§8.2): Type (2 bytes), Length (2 bytes). */
	for (uint32_t off = DMAR_FIXED; off < tl;) {
		const uint8_t *p = t + off;
		if (tl - off < 4) {
			*why = "truncated remapping structure header";
			return -1;
		}
		uint16_t type = ahv_le16(p), sl = ahv_le16(p + 2);
		if (sl < 4 || sl > tl - off) {
			*why = "remapping structure length out of range";
			return -1;
		}
		int rc = 0;
		if (type == 0)
			rc = dmar_drhd(p, sl, d, why);
		else if (type == 1)
			rc = dmar_rmrr(p, sl, d, why);
		else
			d->n_other++; /* ATSR, RHSA, ANDD, SATC, SIDP: not needed here */
		if (rc)
			return -1;
		off += sl;
	}
	if (!d->n_drhd) {
		*why = "no DRHD unit";
		return -1;
	}
	return 0;
}

/* ---- IVRS ------------------------------------------------------------------------ */
#define IVRS_FIXED 48 /* header, IVinfo, 8 reserved (§5.2.1) */

/* Device entries of one IVHD (§5.2.2.2): types 0-63 take 4 bytes, 64-127
 * take 8, 128-255 carry their own length (only type F0h, ACPI HID device:
 * 22 bytes + its UID length at byte 21, is defined). A range opened by
 * type 3, 43h or 47h must be closed by type 4 before another opens. */
static int ivhd_entries(const uint8_t *p, const uint8_t *end, struct ahv_ivrs_ivhd *h, const char **why)
{
	int open_range = 0;
	while (p < end) {
		size_t el, room = (size_t)(end - p);
		uint8_t ty = p[0];
		if (ty < 64)
			el = 4;
		else if (ty < 128)
			el = 8;
		else if (ty == 0xF0) {
			if (room < 22) {
				*why = "ACPI HID device entry truncated";
				return -1;
			}
			el = 22u + p[21];
		} else {
			*why = "variable-length device entry of an unknown type";
			return -1;
		}
		if (el > room) {
			*why = "device entry runs past its IVHD block";
			return -1;
		}
		if (ty == 3 || ty == 0x43 || ty == 0x47) {
			if (open_range) {
				*why = "device range started twice";
				return -1;
			}
			open_range = 1;
		} else if (ty == 4) {
			if (!open_range) {
				*why = "device range end without a start";
				return -1;
			}
			open_range = 0;
		} else if (ty == 1)
			h->select_all = 1;
		h->n_dev_entries++;
		p += el;
	}
	if (open_range) {
		*why = "device range started but not ended";
		return -1;
	}
	return 0;
}

static int ivrs_ivhd(const uint8_t *p, uint16_t bl, struct ahv_ivrs *r, const char **why)
{
	/* Type 10h: 24 bytes before its device entries; 11h and 40h: 40. */
	uint16_t fixed = p[0] == 0x10 ? 24 : 40;
	if (bl < fixed) {
		*why = "IVHD shorter than its fixed part";
		return -1;
	}
	if (r->n_ivhd == AHV_IVRS_MAX_IVHD) {
		*why = "more IVHD blocks than supported";
		return -1;
	}
	struct ahv_ivrs_ivhd *h = &r->ivhd[r->n_ivhd];
	memset(h, 0, sizeof(*h));
	h->type = p[0];
	h->flags = p[1];
	h->device_id = ahv_le16(p + 4);
	h->cap_offset = ahv_le16(p + 6);
	h->base = ahv_le64(p + 8);
	h->segment = ahv_le16(p + 16);
	/* The MMIO base is 16 KiB aligned (§3.4.1, IOMMU Base Address Low). */
	if (!h->base || (h->base & 0x3fff)) {
		*why = "IVHD register base zero or not 16 KiB aligned";
		return -1;
	}
	for (uint32_t i = 0; i < r->n_ivhd; i++)
		if (r->ivhd[i].type == h->type && r->ivhd[i].base == h->base) {
			*why = "two IVHD blocks of one type for the same IOMMU";
			return -1;
		}
	if (ivhd_entries(p + fixed, p + bl, h, why))
		return -1;
	r->n_ivhd++;
	return 0;
}

static int ivrs_ivmd(const uint8_t *p, uint16_t bl, struct ahv_ivrs *r, const char **why)
{
	if (bl < 32) {
		*why = "IVMD shorter than 32 bytes";
		return -1;
	}
	if (r->n_ivmd == AHV_IVRS_MAX_IVMD) {
		*why = "more IVMD blocks than supported";
		return -1;
	}
	struct ahv_ivrs_ivmd *m = &r->ivmd[r->n_ivmd];
	m->type = p[0];
	m->flags = p[1];
	m->device_id = ahv_le16(p + 4);
	m->aux = ahv_le16(p + 6);
	m->start = ahv_le64(p + 16);
	m->length = ahv_le64(p + 24);
	if (!m->length || m->start + m->length < m->start) {
		*why = "IVMD range empty or wrapping";
		return -1;
	}
	r->n_ivmd++;
	return 0;
}

int ahv_ivrs_parse(const uint8_t *t, size_t len, struct ahv_ivrs *r, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	memset(r, 0, sizeof(*r));
	uint32_t tl = ahv_acpi_table_len(t, len, "IVRS", IVRS_FIXED, why);
	if (!tl)
		return -1;
	r->ivinfo = ahv_le32(t + 36);
	/* IVDBs (§5.2.2): Type (1), Flags (1), Length (2), ... */
	for (uint32_t off = IVRS_FIXED; off < tl;) {
		const uint8_t *p = t + off;
		if (tl - off < 4) {
			*why = "truncated IVRS block header";
			return -1;
		}
		uint16_t bl = ahv_le16(p + 2);
		if (bl < 4 || bl > tl - off) {
			*why = "IVRS block length out of range";
			return -1;
		}
		int rc = 0;
		if (p[0] == 0x10 || p[0] == 0x11 || p[0] == 0x40)
			rc = ivrs_ivhd(p, bl, r, why);
		else if (p[0] >= 0x20 && p[0] <= 0x22)
			rc = ivrs_ivmd(p, bl, r, why);
		/* other types are reserved: skipped by their length (§5.2) */
		if (rc)
			return -1;
		off += bl;
	}
	if (!r->n_ivhd) {
		*why = "no IVHD block";
		return -1;
	}
	return 0;
}
