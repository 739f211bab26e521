/* elf.c - ELF64 files: sections, segments, relocation targets, and the
 * reference values of ahvl_elf_refvals() (docs/guest-lib.md "refvals"). Every
 * header is copied out with memcpy after a bounds check: the file may be
 * anything. */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <attest/wire_digest.h>

#include "internal.h"

struct ahvl_elf {
	uint8_t *buf;
	size_t len;
	Elf64_Ehdr eh;
	size_t shnum;
	uint64_t shstr_off, shstr_size;
};

static bool in_file(const struct ahvl_elf *e, uint64_t off, uint64_t size)
{
	return off <= e->len && size <= e->len - off;
}

static bool get_shdr(const struct ahvl_elf *e, size_t i, Elf64_Shdr *sh)
{
	uint64_t off = e->eh.e_shoff + (uint64_t)i * sizeof *sh;
	if (i >= e->shnum || !in_file(e, off, sizeof *sh))
		return false;
	memcpy(sh, e->buf + off, sizeof *sh);
	return true;
}

static bool get_phdr(const struct ahvl_elf *e, size_t i, Elf64_Phdr *ph)
{
	uint64_t off = e->eh.e_phoff + (uint64_t)i * sizeof *ph;
	if (i >= e->eh.e_phnum || !in_file(e, off, sizeof *ph))
		return false;
	memcpy(ph, e->buf + off, sizeof *ph);
	return true;
}

/* NUL-terminated name inside the section-name table, or NULL. */
static const char *sec_name(const struct ahvl_elf *e, uint32_t idx)
{
	if (idx >= e->shstr_size)
		return NULL;
	const char *s = (const char *)e->buf + e->shstr_off + idx;
	if (!memchr(s, 0, e->shstr_size - idx))
		return NULL;
	return s;
}

int ahvl_elf_open(const char *path, struct ahvl_elf **out)
{
	struct ahvl_elf *e = calloc(1, sizeof *e);
	if (!e)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	int rc = ahvl_read_file(path, (size_t)1 << 31, &e->buf, &e->len);
	if (rc) {
		free(e);
		return rc;
	}
	if (e->len < sizeof e->eh || memcmp(e->buf, ELFMAG, SELFMAG)) {
		ahvl_elf_close(e);
		return ahvl_fail(AHVL_E_ELF, "%s: not an ELF file", path);
	}
	memcpy(&e->eh, e->buf, sizeof e->eh);
	if (e->eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    e->eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    e->eh.e_machine != EM_X86_64) {
		ahvl_elf_close(e);
		return ahvl_fail(AHVL_E_ELF, "%s: not an x86-64 ELF64 little-endian file", path);
	}
	if ((e->eh.e_phnum && e->eh.e_phentsize != sizeof(Elf64_Phdr)) ||
	    (e->eh.e_shnum && e->eh.e_shentsize != sizeof(Elf64_Shdr))) {
		ahvl_elf_close(e);
		return ahvl_fail(AHVL_E_ELF, "%s: unexpected header entry sizes", path);
	}
	e->shnum = e->eh.e_shnum;
	Elf64_Shdr sh;
	if (e->shnum == 0 && e->eh.e_shoff && get_shdr(&(struct ahvl_elf){.buf = e->buf, .len = e->len, .eh = e->eh, .shnum = 1}, 0, &sh))
		e->shnum = sh.sh_size; /* extended numbering */
	if (e->shnum > 65536 || !in_file(e, e->eh.e_shoff, e->shnum * sizeof sh)) {
		ahvl_elf_close(e);
		return ahvl_fail(AHVL_E_ELF, "%s: section headers outside the file", path);
	}
	size_t si = e->eh.e_shstrndx;
	if (si == SHN_XINDEX && get_shdr(e, 0, &sh))
		si = sh.sh_link;
	if (e->shnum && get_shdr(e, si, &sh) && sh.sh_type == SHT_STRTAB &&
	    in_file(e, sh.sh_offset, sh.sh_size)) {
		e->shstr_off = sh.sh_offset;
		e->shstr_size = sh.sh_size;
	}
	if (!in_file(e, e->eh.e_phoff, (uint64_t)e->eh.e_phnum * sizeof(Elf64_Phdr))) {
		ahvl_elf_close(e);
		return ahvl_fail(AHVL_E_ELF, "%s: program headers outside the file", path);
	}
	*out = e;
	return AHVL_OK;
}

void ahvl_elf_close(struct ahvl_elf *e)
{
	if (!e)
		return;
	free(e->buf);
	free(e);
}

int ahvl_elf_section(const struct ahvl_elf *e, const char *name,
		     uint64_t *vaddr, uint64_t *size, uint32_t *type)
{
	Elf64_Shdr sh;
	for (size_t i = 1; i < e->shnum; i++) {
		const char *n;
		if (!get_shdr(e, i, &sh) || !(n = sec_name(e, sh.sh_name)))
			continue;
		if (strcmp(n, name))
			continue;
		if (!(sh.sh_flags & SHF_ALLOC))
			return ahvl_fail(AHVL_E_NOT_FOUND,
					 "section %s is not loaded (no SHF_ALLOC)", name);
		*vaddr = sh.sh_addr;
		*size = sh.sh_size;
		*type = sh.sh_type;
		return AHVL_OK;
	}
	return ahvl_fail(AHVL_E_NOT_FOUND, "no section %s", name);
}

/* ---- relocation targets ---------------------------------------------------
 * Every address the dynamic linker may write at load time: r_offset of each
 * entry of SHT_RELA/SHT_REL sections that are SHF_ALLOC (.rela.dyn,
 * .rela.plt). Static (non-ALLOC) relocations of relocatable objects do not
 * apply to loaded images. */
struct relocs {
	uint64_t *off;
	size_t n;
	bool textrel;
};

static void collect_relocs(const struct ahvl_elf *e, struct relocs *r)
{
	Elf64_Shdr sh;
	size_t cap = 0;
	for (size_t i = 1; i < e->shnum; i++) {
		if (!get_shdr(e, i, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    (sh.sh_type != SHT_RELA && sh.sh_type != SHT_REL) ||
		    !in_file(e, sh.sh_offset, sh.sh_size))
			continue;
		size_t es = sh.sh_type == SHT_RELA ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel);
		for (uint64_t o = 0; o + es <= sh.sh_size; o += es) {
			uint64_t off;
			memcpy(&off, e->buf + sh.sh_offset + o, 8);
			if (r->n == cap) {
				size_t nc = cap ? cap * 2 : 256;
				uint64_t *p = realloc(r->off, nc * sizeof *p);
				if (!p)
					return;
				r->off = p;
				cap = nc;
			}
			r->off[r->n++] = off;
		}
	}
	/* DT_TEXTREL / DF_TEXTREL: relocations in read-only segments. */
	Elf64_Phdr ph;
	for (size_t i = 0; i < e->eh.e_phnum; i++) {
		if (!get_phdr(e, i, &ph) || ph.p_type != PT_DYNAMIC ||
		    !in_file(e, ph.p_offset, ph.p_filesz))
			continue;
		for (uint64_t o = 0; o + sizeof(Elf64_Dyn) <= ph.p_filesz; o += sizeof(Elf64_Dyn)) {
			Elf64_Dyn d;
			memcpy(&d, e->buf + ph.p_offset + o, sizeof d);
			if (d.d_tag == DT_NULL)
				break;
			if (d.d_tag == DT_TEXTREL ||
			    (d.d_tag == DT_FLAGS && (d.d_un.d_val & DF_TEXTREL)))
				r->textrel = true;
		}
	}
}

static size_t relocs_in(const struct relocs *r, uint64_t lo, uint64_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->off[i] >= lo && r->off[i] - lo < size)
			n++;
	return n;
}

/* Does [lo, lo+size) overlap a PT_GNU_RELRO range or a writable PT_LOAD? */
static bool writable_at(const struct ahvl_elf *e, uint64_t lo, uint64_t size)
{
	Elf64_Phdr ph;
	for (size_t i = 0; i < e->eh.e_phnum; i++) {
		if (!get_phdr(e, i, &ph))
			continue;
		bool w = (ph.p_type == PT_LOAD && (ph.p_flags & PF_W)) ||
			 ph.p_type == PT_GNU_RELRO;
		if (w && size && lo < ph.p_vaddr + ph.p_memsz && ph.p_vaddr < lo + size)
			return true;
	}
	return false;
}

static bool wanted(const char *const *only, const char *name)
{
	if (!only)
		return true;
	for (; *only; only++)
		if (!strcmp(*only, name))
			return true;
	return false;
}

/* One policy region entry. bytes NULL: size zero bytes (NOBITS). */
static int add_entry(json_t *arr, const char *prefix, const char *name,
		     bool is_exec, uint64_t vaddr, const uint8_t *bytes,
		     uint64_t size, const uint32_t *algs, const char *comment)
{
	static const uint32_t def[] = {AHV_WIRE_HASH_SHA256, 0};
	char full[AHVL_NAME_MAX + 1];
	int n = snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", name);
	if (n < 0 || (size_t)n >= sizeof full)
		return ahvl_fail(AHVL_E_INVALID, "region name %s%s longer than %d bytes",
				 prefix ? prefix : "", name, AHVL_NAME_MAX);
	json_t *d = json_array();
	uint8_t *zeros = NULL;
	if (!bytes && size) {
		zeros = calloc(1, size);
		if (!zeros) {
			json_decref(d);
			return ahvl_fail(AHVL_E_NOMEM, "out of memory");
		}
		bytes = zeros;
	}
	for (const uint32_t *a = algs ? algs : def; *a; a++) {
		uint8_t dg[64];
		char hex[129], s[150];
		int rc = ahvl_digest(*a, bytes ? bytes : (const uint8_t *)"", size, dg);
		if (rc) {
			free(zeros);
			json_decref(d);
			return rc;
		}
		ahvl_hex(hex, dg, ahv_wire_hash_size(*a));
		snprintf(s, sizeof s, "%s:%s", ahvl_hash_name(*a), hex);
		json_array_append_new(d, json_string(s));
	}
	free(zeros);
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(full));
	if (is_exec) {
		char a[32];
		snprintf(a, sizeof a, "0x%llx", (unsigned long long)vaddr);
		json_object_set_new(o, "address", json_string(a));
	}
	json_object_set_new(o, "size", json_integer((json_int_t)size));
	json_object_set_new(o, "space", json_string("gva"));
	json_object_set_new(o, "digests", d);
	if (comment && *comment)
		json_object_set_new(o, "comment", json_string(comment));
	json_array_append_new(arr, o);
	return AHVL_OK;
}

static void note(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t cap, const char *fmt, ...)
{
	size_t l = strlen(buf);
	if (l + 3 >= cap)
		return;
	if (l) {
		strcpy(buf + l, "; ");
		l += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + l, cap - l, fmt, ap);
	va_end(ap);
}

int ahvl_elf_refvals(const char *path, unsigned what, const char *const *only,
		     const uint32_t *hash_algs, const char *name_prefix,
		     char **json_out)
{
	struct ahvl_elf *e;
	if (!path || !json_out || what > AHVL_REFVALS_SECTIONS)
		return ahvl_fail(AHVL_E_INVALID, "bad argument");
	for (const uint32_t *a = hash_algs; a && *a; a++)
		if (!ahv_wire_md(*a))
			return ahvl_fail(AHVL_E_INVALID, "unknown hash algorithm %u", *a);
	int rc = ahvl_elf_open(path, &e);
	if (rc)
		return rc;
	if (e->eh.e_type != ET_EXEC && e->eh.e_type != ET_DYN) {
		ahvl_elf_close(e);
		return ahvl_fail(AHVL_E_ELF, "%s: not an executable or shared object", path);
	}
	bool is_exec = e->eh.e_type == ET_EXEC;
	struct relocs r = {0};
	collect_relocs(e, &r);
	json_t *arr = json_array();
	size_t found = 0;
	if (what == AHVL_REFVALS_SEGMENTS) {
		Elf64_Phdr ph;
		unsigned li = 0;
		for (size_t i = 0; i < e->eh.e_phnum && !rc; i++) {
			if (!get_phdr(e, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			char name[24], c[512] = "";
			snprintf(name, sizeof name, "LOAD%u", li++);
			if (!wanted(only, name))
				continue;
			if (!in_file(e, ph.p_offset, ph.p_filesz)) {
				rc = ahvl_fail(AHVL_E_ELF, "%s: segment %s outside the file", path, name);
				break;
			}
			note(c, sizeof c, "PT_LOAD %c%c%c, file offset 0x%llx, vaddr 0x%llx%s",
			     ph.p_flags & PF_R ? 'r' : '-', ph.p_flags & PF_W ? 'w' : '-',
			     ph.p_flags & PF_X ? 'x' : '-',
			     (unsigned long long)ph.p_offset, (unsigned long long)ph.p_vaddr,
			     is_exec ? "" : " (+ load base)");
			if (ph.p_memsz > ph.p_filesz)
				note(c, sizeof c, "the %llu zero-filled bytes after p_filesz (.bss) are not measured",
				     (unsigned long long)(ph.p_memsz - ph.p_filesz));
			size_t nr = relocs_in(&r, ph.p_vaddr, ph.p_filesz);
			if (nr)
				note(c, sizeof c, "UNPREDICTABLE: %zu dynamic relocation targets", nr);
			if (ph.p_flags & PF_W)
				note(c, sizeof c, "UNPREDICTABLE: writable, changes at run time");
			rc = add_entry(arr, name_prefix, name, is_exec, ph.p_vaddr,
				       e->buf + ph.p_offset, ph.p_filesz, hash_algs, c);
			found++;
		}
	} else {
		Elf64_Shdr sh;
		for (size_t i = 1; i < e->shnum && !rc; i++) {
			const char *name;
			if (!get_shdr(e, i, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
			    !(name = sec_name(e, sh.sh_name)) || !*name || !wanted(only, name))
				continue;
			char c[512] = "";
			bool nobits = sh.sh_type == SHT_NOBITS;
			if (!nobits && !in_file(e, sh.sh_offset, sh.sh_size)) {
				rc = ahvl_fail(AHVL_E_ELF, "%s: section %s outside the file", path, name);
				break;
			}
			note(c, sizeof c, "section vaddr 0x%llx%s", (unsigned long long)sh.sh_addr,
			     is_exec ? "" : " (+ load base)");
			if (nobits)
				note(c, sizeof c, "SHT_NOBITS: digest of %llu zero bytes as loaded; UNPREDICTABLE once the program writes it",
				     (unsigned long long)sh.sh_size);
			size_t nr = relocs_in(&r, sh.sh_addr, sh.sh_size);
			if (nr)
				note(c, sizeof c, "UNPREDICTABLE: %zu dynamic relocation targets", nr);
			else if (writable_at(e, sh.sh_addr, sh.sh_size) && !nobits)
				note(c, sizeof c, "UNPREDICTABLE: writable, changes at run time");
			rc = add_entry(arr, name_prefix, name, is_exec, sh.sh_addr,
				       nobits ? NULL : e->buf + sh.sh_offset, sh.sh_size,
				       hash_algs, c);
			found++;
		}
	}
	if (!rc && r.textrel)
		rc = ahvl_fail(AHVL_E_ELF, "%s has text relocations (DT_TEXTREL): its code is patched at load time, no digest is predictable", path);
	if (!rc && only && found == 0)
		rc = ahvl_fail(AHVL_E_NOT_FOUND, "%s: none of the named %s exists", path,
			       what == AHVL_REFVALS_SEGMENTS ? "segments" : "sections");
	if (!rc) {
		json_t *root = json_object();
		json_object_set_new(root, "version", json_integer(1));
		json_object_set_new(root, "regions", arr);
		arr = NULL;
		*json_out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(root);
		if (!*json_out)
			rc = ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	json_decref(arr);
	free(r.off);
	ahvl_elf_close(e);
	return rc;
}
