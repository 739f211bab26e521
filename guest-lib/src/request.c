/* request.c - building and encoding requests (protocol.md §6.1), regions
 * named by address, by a section or a segment of a loaded ELF object. */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "internal.h"

int ahvl_request_new(ahvl_request **out, uint32_t hash_alg)
{
	if (!out)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	*out = NULL;
	if (!ahv_wire_hash_size(hash_alg))
		return ahvl_fail(AHVL_E_INVALID, "unknown hash algorithm id %u", hash_alg);
	ahvl_request *r = calloc(1, sizeof *r);
	if (!r)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	r->hash_alg = hash_alg;
	*out = r;
	return AHVL_OK;
}

void ahvl_request_free(ahvl_request *req)
{
	free(req);
}

int ahvl_request_set_nonce(ahvl_request *req, const uint8_t *nonce, size_t len)
{
	if (!req || !nonce)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (len < AHV_NONCE_MIN || len > AHV_NONCE_MAX)
		return ahvl_fail(AHVL_E_LIMIT, "nonce of %zu bytes: must be %u..%u", len,
				 AHV_NONCE_MIN, AHV_NONCE_MAX);
	memset(req->nonce, 0, sizeof req->nonce);
	memcpy(req->nonce, nonce, len);
	req->nonce_len = (uint16_t)len;
	return AHVL_OK;
}

int ahvl_request_set_watch(ahvl_request *req, uint32_t flags, uint64_t arg)
{
	if (!req)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	bool start = flags & AHV_REQ_F_WATCH_START, check = flags & AHV_REQ_F_WATCH_CHECK;
	if ((flags & AHV_REQ_F_RESERVED_MASK) || (start && check) ||
	    ((flags & AHV_REQ_F_WATCH_END) && !check) || (!flags && arg))
		return ahvl_fail(AHVL_E_INVALID, "watch flags 0x%x with argument %llu: not a valid combination",
				 flags, (unsigned long long)arg);
	if (flags && ahv_wire_hash_size(req->hash_alg) != AHV_WATCH_HASH_SIZE)
		return ahvl_fail(AHVL_E_INVALID, "a watch needs a 32-byte hash (sha256 or sha3-256)");
	if (start && arg > AHV_WATCH_MAX_LIFETIME_S)
		return ahvl_fail(AHVL_E_LIMIT, "watch lifetime %llu s: at most %u",
				 (unsigned long long)arg, AHV_WATCH_MAX_LIFETIME_S);
	req->watch_flags = flags;
	req->watch_arg = arg;
	return AHVL_OK;
}

int ahvl_request_random_nonce(ahvl_request *req, size_t len)
{
	uint8_t b[AHV_NONCE_MAX];
	if (!req)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (len < AHV_NONCE_MIN || len > AHV_NONCE_MAX)
		return ahvl_fail(AHVL_E_LIMIT, "nonce of %zu bytes: must be %u..%u", len,
				 AHV_NONCE_MIN, AHV_NONCE_MAX);
	if (RAND_bytes(b, (int)len) != 1)
		return ahvl_fail_ssl(AHVL_E_INTERNAL, "no randomness");
	return ahvl_request_set_nonce(req, b, len);
}

int ahvl_request_add_range(ahvl_request *req, uint64_t address, uint64_t size,
			   uint32_t space, const uint8_t *claimed,
			   const char *name)
{
	if (!req)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (space != AHV_SPACE_GVA && space != AHV_SPACE_GPA)
		return ahvl_fail(AHVL_E_INVALID, "address space %u is neither GVA (1) nor GPA (2)", space);
	if (req->n >= AHV_MAX_REGIONS)
		return ahvl_fail(AHVL_E_LIMIT, "more than %u regions", AHV_MAX_REGIONS);
	if (size && address + size - 1 < address)
		return ahvl_fail(AHVL_E_LIMIT, "range 0x%llx+0x%llx wraps", (unsigned long long)address,
				 (unsigned long long)size);
	uint64_t total = size;
	for (unsigned i = 0; i < req->n; i++)
		total += req->r[i].size;
	if (size > AHV_MAX_TOTAL_BYTES || total > AHV_MAX_TOTAL_BYTES)
		return ahvl_fail(AHVL_E_LIMIT, "regions would total %llu bytes (limit %llu)",
				 (unsigned long long)total, (unsigned long long)AHV_MAX_TOTAL_BYTES);
	if (name && strlen(name) > AHVL_NAME_MAX)
		return ahvl_fail(AHVL_E_INVALID, "region name longer than %d bytes", AHVL_NAME_MAX);
	struct ahvl_req_region *g = &req->r[req->n];
	memset(g, 0, sizeof *g);
	g->address = address;
	g->size = size;
	g->space = space;
	if (claimed) {
		g->claimed = true;
		memcpy(g->digest, claimed, ahv_wire_hash_size(req->hash_alg));
	}
	if (name)
		strcpy(g->name, name);
	return (int)req->n++;
}

unsigned ahvl_request_region_count(const ahvl_request *req)
{
	return req ? req->n : 0;
}

const char *ahvl_request_region_name(const ahvl_request *req, unsigned i)
{
	return req && i < req->n ? req->r[i].name : "";
}

/* ---- loaded objects ------------------------------------------------------- */
struct find_obj {
	const char *want; /* NULL: main program */
	bool found;
	uintptr_t base;
	const ElfW(Phdr) *phdr;
	ElfW(Half) phnum;
	char path[4096];
};

static int find_cb(struct dl_phdr_info *info, size_t sz, void *arg)
{
	struct find_obj *f = arg;
	(void)sz;
	const char *n = info->dlpi_name ? info->dlpi_name : "";
	bool match;
	if (!f->want)
		match = true; /* the first object is the main program */
	else {
		const char *b = strrchr(n, '/');
		match = *n && (!strcmp(n, f->want) || (b && !strcmp(b + 1, f->want)));
	}
	if (!match)
		return 0;
	f->found = true;
	f->base = info->dlpi_addr;
	f->phdr = info->dlpi_phdr;
	f->phnum = info->dlpi_phnum;
	snprintf(f->path, sizeof f->path, "%s", f->want ? n : "/proc/self/exe");
	return 1;
}

static int find_object(const char *object, struct find_obj *f)
{
	memset(f, 0, sizeof *f);
	f->want = object && *object ? object : NULL;
	dl_iterate_phdr(find_cb, f);
	if (!f->found)
		return ahvl_fail(AHVL_E_NOT_FOUND, "no loaded object named %s", object);
	return AHVL_OK;
}

int ahvl_request_add_segment(ahvl_request *req, const char *object,
			     unsigned load_index, const char *name)
{
	struct find_obj f;
	if (!req)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	int rc = find_object(object, &f);
	if (rc)
		return rc;
	unsigned li = 0;
	for (ElfW(Half) i = 0; i < f.phnum; i++) {
		if (f.phdr[i].p_type != PT_LOAD)
			continue;
		if (li++ != load_index)
			continue;
		char def[24];
		snprintf(def, sizeof def, "LOAD%u", load_index);
		return ahvl_request_add_range(req, f.base + f.phdr[i].p_vaddr,
					      f.phdr[i].p_filesz, AHV_SPACE_GVA, NULL,
					      name ? name : def);
	}
	return ahvl_fail(AHVL_E_NOT_FOUND, "%s has %u PT_LOAD segments, no LOAD%u",
			 f.want ? f.want : "the program", li, load_index);
}

int ahvl_request_add_section(ahvl_request *req, const char *object,
			     const char *section, const char *name)
{
	struct find_obj f;
	struct ahvl_elf *e;
	uint64_t va, size;
	uint32_t type;
	if (!req || !section)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	int rc = find_object(object, &f);
	if (rc)
		return rc;
	if ((rc = ahvl_elf_open(f.path, &e)))
		return rc;
	rc = ahvl_elf_section(e, section, &va, &size, &type);
	ahvl_elf_close(e);
	if (rc)
		return rc;
	if (type == SHT_NOBITS)
		return ahvl_fail(AHVL_E_NOT_FOUND,
				 "section %s has no file contents (SHT_NOBITS); name its range instead", section);
	/* The file must be the one mapped: its PT_LOAD covering va is there. */
	bool mapped = false;
	for (ElfW(Half) i = 0; i < f.phnum; i++)
		if (f.phdr[i].p_type == PT_LOAD && va >= f.phdr[i].p_vaddr &&
		    va + size <= f.phdr[i].p_vaddr + f.phdr[i].p_memsz)
			mapped = true;
	if (!mapped)
		return ahvl_fail(AHVL_E_ELF, "section %s of %s is not inside a loaded segment", section, f.path);
	return ahvl_request_add_range(req, f.base + va, size, AHV_SPACE_GVA, NULL,
				      name ? name : section);
}

/* ---- encoding --------------------------------------------------------------- */
int ahvl_request_encode(const ahvl_request *req, const ahvl_signer *s,
			uint8_t **out, size_t *len)
{
	if (!req || !out || !len)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (!req->n)
		return ahvl_fail(AHVL_E_LIMIT, "the request names no region");
	if (!req->nonce_len)
		return ahvl_fail(AHVL_E_INVALID, "the request has no nonce");
	size_t n = req->n, sz = AHV_REQUEST_SIZE(n);
	uint8_t *b = calloc(1, sz);
	if (!b)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	struct ahv_request_hdr h = {
		.magic = AHV_REQUEST_MAGIC,
		.version_major = AHV_WIRE_VERSION_MAJOR,
		/* the lowest minor that has what the request uses: a
		 * hypervisor of an older minor still serves plain requests */
		.version_minor = req->watch_flags ? AHV_WIRE_VERSION_MINOR : 0,
		.total_size = (uint32_t)sz,
		.flags = req->watch_flags,
		.watch_arg = req->watch_arg,
		.hash_alg = (uint16_t)req->hash_alg,
		.sig_alg = (uint16_t)(s ? s->sig_alg : AHV_SIG_ECDSA_P256_SHA256),
		.region_count = (uint16_t)n,
		.nonce_len = req->nonce_len,
	};
	memcpy(h.nonce, req->nonce, sizeof h.nonce);
	/* Explicit little-endian stores keep the bytes right on any host. */
	ahv_le32_put(b + 0, h.magic);
	ahv_le16_put(b + 4, h.version_major);
	ahv_le16_put(b + 6, h.version_minor);
	ahv_le32_put(b + 8, h.total_size);
	ahv_le32_put(b + 12, h.flags);
	ahv_le16_put(b + 16, h.hash_alg);
	ahv_le16_put(b + 18, h.sig_alg);
	ahv_le16_put(b + 20, h.region_count);
	ahv_le16_put(b + 22, h.nonce_len);
	ahv_le64_put(b + 24, h.watch_arg);
	memcpy(b + offsetof(struct ahv_request_hdr, nonce), h.nonce, AHV_NONCE_MAX);
	size_t dl = ahv_wire_hash_size(req->hash_alg);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = b + AHV_REQUEST_REGION_OFFSET(i);
		ahv_le64_put(p + offsetof(struct ahv_region, address), req->r[i].address);
		ahv_le64_put(p + offsetof(struct ahv_region, size), req->r[i].size);
		ahv_le32_put(p + offsetof(struct ahv_region, space), req->r[i].space);
		if (req->r[i].claimed) {
			ahv_le32_put(p + offsetof(struct ahv_region, flags), AHV_REGION_F_CLAIMED);
			memcpy(p + offsetof(struct ahv_region, claimed_digest), req->r[i].digest, dl);
		}
	}
	if (s) {
		uint8_t *tail = b + AHV_REQUEST_TAIL_OFFSET(n);
		int rc = ahvl_signer_key_id(s, tail + offsetof(struct ahv_request_tail, key_id));
		if (!rc)
			rc = ahvl_signer_sign(s, b, AHV_REQUEST_SIGNED_SIZE(n),
					      tail + offsetof(struct ahv_request_tail, signature));
		if (rc) {
			free(b);
			return rc;
		}
	}
	*out = b;
	*len = sz;
	return AHVL_OK;
}
