/* boot/config.c - parser for \attest-hv\attest-hv.conf (see config.h). */
#include "config.h"
#include "ahv/hex.h"
#include <string.h>

#ifdef AHV_FREESTANDING
#include "ahv/x86/log.h"
#define cfg_snprintf ahv_snprintf
#else
#include <stdio.h>
#define cfg_snprintf snprintf
#endif

static char *find_chr(char *s, char c)
{
	for (; *s; s++)
		if (*s == c)
			return s;
	return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		return *out = 1, 0;
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		return *out = 0, 0;
	return -1;
}

static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	int base = 10;
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		base = 16, v += 2;
	if (!*v)
		return -1;
	for (; *v; v++) {
		int d = ahv_hex_digit(*v);
		if (d < 0 || d >= base)
			return -1;
		x = x * base + d;
		if (x > max)
			return -1;
	}
	*out = x;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n + 1 > cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int parse_path(char *dst, const char *v)
{
	/* Paths on the ESP: absolute, backslashes, printable ASCII. */
	if (v[0] != '\\')
		return -1;
	for (const char *p = v; *p; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '/')
			return -1;
	return copy_str(dst, AHV_CFG_MAX_PATH, v);
}

int ahv_config_parse(const char *text, size_t len, struct ahv_config *cfg, char *err, size_t errcap)
{
	char line[AHV_CFG_MAX_ARGS + 64];
	unsigned seen = 0, lineno = 0;
	enum { S_NEXT = 1, S_ARGS = 2, S_INITRD = 4, S_CPL3 = 8, S_GPA = 16, S_PORT = 32, S_HIDE = 64, S_POOL = 128, S_HV = 256, S_DEVKEY = 512, S_SMP = 1024,
	       S_DMA = 2048 };

	memset(cfg, 0, sizeof(*cfg));
	cfg->allow_cpl3 = 1;
	cfg->allow_gpa = 1;
	cfg->hide_log_port = 1;
	cfg->hypervisor = 1;
	cfg->dev_key = 0;
	cfg->smp = 0; /* boot CPU only unless asked (docs/smp.md) */
	cfg->dma_protection = 1; /* the IOMMU is required unless "off" (docs/iommu.md) */
	cfg->log_port = 0x2f8;
	cfg->pool_mib = 8;
	for (size_t pos = 0; pos < len;) {
		size_t n = 0;
		lineno++;
		while (pos < len && text[pos] != '\n') {
			if (text[pos] == 0) {
				cfg_snprintf(err, errcap, "line %u: NUL byte in the configuration file", lineno);
				return -1;
			}
			if (n + 1 >= sizeof(line)) {
				cfg_snprintf(err, errcap, "line %u: line too long", lineno);
				return -1;
			}
			line[n++] = text[pos++];
		}
		pos++;
		line[n] = 0;
		char *p = line;
		char *hash = find_chr(p, '#');
		if (hash && (hash == p || is_space(hash[-1])))
			*hash = 0;
		while (is_space(*p))
			p++;
		size_t l = strlen(p);
		while (l && is_space(p[l - 1]))
			p[--l] = 0;
		if (!*p)
			continue;
		char *eq = find_chr(p, '=');
		if (!eq) {
			cfg_snprintf(err, errcap, "line %u: expected 'key = value'", lineno);
			return -1;
		}
		char *k = p, *v = eq + 1;
		*eq = 0;
		l = strlen(k);
		while (l && is_space(k[l - 1]))
			k[--l] = 0;
		while (is_space(*v))
			v++;
		unsigned bit = 0;
		int bad = 0;
		uint64_t num;
		if (!strcmp(k, "next")) {
			bit = S_NEXT;
			bad = parse_path(cfg->next, v);
		} else if (!strcmp(k, "args")) {
			bit = S_ARGS;
			bad = copy_str(cfg->args, sizeof(cfg->args), v);
		} else if (!strcmp(k, "initrd")) {
			bit = S_INITRD;
			bad = parse_path(cfg->initrd, v);
		} else if (!strcmp(k, "allow_cpl3")) {
			bit = S_CPL3;
			bad = parse_bool(v, &cfg->allow_cpl3);
		} else if (!strcmp(k, "allow_gpa")) {
			bit = S_GPA;
			bad = parse_bool(v, &cfg->allow_gpa);
		} else if (!strcmp(k, "hypervisor")) {
			bit = S_HV;
			if (!strcmp(v, "on"))
				cfg->hypervisor = 1;
			else if (!strcmp(v, "off"))
				cfg->hypervisor = 0;
			else
				bad = 1;
		} else if (!strcmp(k, "smp")) {
			bit = S_SMP;
			if (!strcmp(v, "on"))
				cfg->smp = 1;
			else if (!strcmp(v, "off"))
				cfg->smp = 0;
			else
				bad = 1;
		} else if (!strcmp(k, "dma_protection")) {
			bit = S_DMA;
			if (!strcmp(v, "on"))
				cfg->dma_protection = 1;
			else if (!strcmp(v, "off"))
				cfg->dma_protection = 0;
			else
				bad = 1;
		} else if (!strcmp(k, "dev_key")) {
			bit = S_DEVKEY;
			if (!strcmp(v, "allow"))
				cfg->dev_key = 1;
			else if (!strcmp(v, "deny"))
				cfg->dev_key = 0;
			else
				bad = 1;
		} else if (!strcmp(k, "hide_log_port")) {
			bit = S_HIDE;
			bad = parse_bool(v, &cfg->hide_log_port);
		} else if (!strcmp(k, "log_port")) {
			bit = S_PORT;
			if (!strcmp(v, "none"))
				cfg->log_port = 0;
			else if ((bad = parse_uint(v, 0xfff8, &num)) == 0)
				cfg->log_port = (uint16_t)num;
		} else if (!strcmp(k, "pool_mib")) {
			bit = S_POOL;
			bad = parse_uint(v, 256, &num) || num < 4;
			cfg->pool_mib = (unsigned)num;
		} else if (!strcmp(k, "guest_key")) {
			if (cfg->n_keys == AHV_CFG_MAX_KEYS) {
				cfg_snprintf(err, errcap, "line %u: more than %u guest keys", lineno, AHV_CFG_MAX_KEYS);
				return -1;
			}
			char *sp = v;
			while (*sp && !is_space(*sp))
				sp++;
			char *id = sp;
			while (is_space(*id))
				id++;
			*sp = 0;
			if (parse_path(cfg->key_path[cfg->n_keys], v) || strlen(id) != 64) {
				cfg_snprintf(err, errcap,
					     "line %u: guest_key needs '\\path\\key.pem <64 hex digits of the key id>'", lineno);
				return -1;
			}
			if (ahv_hex_decode(id, 64, cfg->key_id[cfg->n_keys], 32) != 32) {
				cfg_snprintf(err, errcap, "line %u: the key id is not hexadecimal", lineno);
				return -1;
			}
			cfg->n_keys++;
			continue;
		} else {
			cfg_snprintf(err, errcap, "line %u: unknown key '%s'", lineno, k);
			return -1;
		}
		if (seen & bit) {
			cfg_snprintf(err, errcap, "line %u: '%s' given twice", lineno, k);
			return -1;
		}
		seen |= bit;
		if (bad) {
			cfg_snprintf(err, errcap, "line %u: bad value for '%s': '%s'", lineno, k, v);
			return -1;
		}
	}
	if (!(seen & S_NEXT)) {
		cfg_snprintf(err, errcap, "no 'next = \\path\\to\\next-stage.efi' line");
		return -1;
	}
	return 0;
}
