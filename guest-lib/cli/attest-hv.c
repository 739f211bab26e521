/*
 * attest-hv - the guest command line of attest-hv (docs/guest-lib.md).
 *
 *   attest-hv keygen    generate a guest key (file or TPM)
 *   attest-hv info      is attest-hv running? CPUID identity + GET_INFO
 *   attest-hv attest    measure this program's text/rodata or given ranges
 *   attest-hv show      decode a request, report or info block
 *   attest-hv verify    offline check of a report with a hypervisor key
 *   attest-hv refvals   reference digests of an ELF file, policy format
 *
 * Exit codes: see usage() and docs/guest-lib.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ahv/hex.h>
#include <attest-hv/attest.h>

enum {
	EX_OK = 0,
	EX_FAIL = 1,     /* verification failed / evidence rejected */
	EX_USAGE = 2,
	EX_NOHV = 3,     /* attest-hv not running or unsupported */
	EX_HCALL = 4,    /* the hypervisor returned a failure status */
	EX_INPUT = 5,    /* file, key, ELF or format problem */
	EX_NET = 6,      /* verifier unreachable or answered garbage */
	EX_INTERNAL = 7,
};

static const char *prog = "attest-hv";

static int exit_code(int err)
{
	switch (err) {
	case AHVL_OK: return EX_OK;
	case AHVL_E_BAD_SIGNATURE: case AHVL_E_MISMATCH: case AHVL_E_TOKEN:
	case AHVL_E_VERIFIER: return EX_FAIL;
	case AHVL_E_INVALID: case AHVL_E_LIMIT: case AHVL_E_PRIVILEGE: return EX_USAGE;
	case AHVL_E_NO_HYPERVISOR: case AHVL_E_UNSUPPORTED: return EX_NOHV;
	case AHVL_E_HYPERCALL: case AHVL_E_BAD_RESPONSE: return EX_HCALL;
	case AHVL_E_IO: case AHVL_E_ELF: case AHVL_E_KEY: case AHVL_E_FORMAT:
	case AHVL_E_NOT_FOUND: case AHVL_E_TPM: case AHVL_E_SIGN:
	case AHVL_E_RESIDENCY: return EX_INPUT;
	case AHVL_E_NETWORK: return EX_NET;
	default: return EX_INTERNAL;
	}
}

static int fail(int err, const char *what)
{
	const char *d = ahvl_error_detail();
	fprintf(stderr, "%s: %s: %s\n", prog, what, d && *d ? d : ahvl_strerror(err));
	return exit_code(err);
}

static int usage_err(const char *cmd, const char *msg)
{
	fprintf(stderr, "%s %s: %s (see %s %s --help)\n", prog, cmd, msg, prog, cmd);
	return EX_USAGE;
}

static const char *const exit_help =
	"Exit status: 0 success; 1 verification failed or evidence rejected;\n"
	"2 usage error; 3 attest-hv not running or unsupported; 4 the hypervisor\n"
	"returned a failure status; 5 file, key, ELF or format problem; 6 verifier\n"
	"unreachable; 7 internal error.\n";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s COMMAND [OPTIONS]\n"
		"The guest side of attest-hv: have the hypervisor measure and sign memory.\n\n"
		"Commands:\n"
		"  keygen    generate a guest signing key (file or TPM-resident)\n"
		"  info      detect attest-hv (CPUID) and print its info block\n"
		"  attest    measure this program's .text/.rodata (or given regions); write\n"
		"            the report or submit it to a verifier and print the token\n"
		"  watch     status|end of a watch that 'attest --watch' started\n"
		"  show      decode a request, report or info block (text or --json)\n"
		"  verify    check a report offline against a hypervisor public key\n"
		"  refvals   reference digests of an ELF file's segments or sections, as\n"
		"            the hypervisor measures them once loaded (policy JSON)\n\n"
		"'%s COMMAND --help' describes each command. '%s --version' prints the\n"
		"library version.\n\n%s",
		prog, prog, prog, exit_help);
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EX_INPUT;
	}
	size_t cap = 8192, n = 0;
	uint8_t *b = malloc(cap);
	while (b) {
		if (n == cap) {
			if (cap > (64u << 20)) {
				free(b);
				b = NULL;
				break;
			}
			uint8_t *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		if (!r)
			break;
		n += r;
	}
	if (f != stdin)
		fclose(f);
	if (!b) {
		fprintf(stderr, "%s: %s: too large or out of memory\n", prog, path);
		return EX_INPUT;
	}
	*buf = b;
	*len = n;
	return EX_OK;
}

static int write_all(const char *path, const void *buf, size_t len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
	if (!f || fwrite(buf, 1, len, f) != len || (f != stdout && fclose(f))) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		return EX_INPUT;
	}
	if (f == stdout)
		fflush(stdout);
	return EX_OK;
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	long n = ahv_hex_decode(s, strlen(s), out, cap);
	if (n < 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

static uint32_t hash_id(const char *s)
{
	static const char *const n[] = {"sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"};
	for (uint32_t i = 0; i < 6; i++)
		if (!strcasecmp(s, n[i]))
			return i + 1;
	return 0;
}

static void print_hex(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

static void log_line(void *user, const char *line)
{
	(void)user;
	fprintf(stderr, "%s: %s\n", prog, line);
}

/* ---- keygen ------------------------------------------------------------------ */
static int cmd_keygen(int argc, char **argv)
{
	static const struct option o[] = {
		{"help", no_argument, 0, 'h'}, {"out", required_argument, 0, 'o'},
		{"curve", required_argument, 0, 'c'}, {"tpm", no_argument, 0, 't'},
		{"tcti", required_argument, 0, 'T'}, {"pub", required_argument, 0, 'p'},
		{0, 0, 0, 0}};
	const char *out = NULL, *pub = NULL, *tcti = NULL;
	uint32_t curve = AHV_SIG_ECDSA_P256_SHA256;
	int tpm = 0, c;
	while ((c = getopt_long(argc, argv, "ho:c:tT:p:", o, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: %s keygen --out KEY [--curve p256|p384] [--tpm [--tcti TCTI]] [--pub PUB]\n"
			       "Generate a guest signing key. The private key goes to KEY (mode 0600,\n"
			       "never overwritten): a PEM EC key, or with --tpm a key generated inside\n"
			       "the TPM and stored as a TPM-wrapped \"TSS2 PRIVATE KEY\" PEM (tpm2-openssl).\n"
			       "The public key (PEM SubjectPublicKeyInfo, the form the hypervisor's\n"
			       "configuration enrolls) goes to PUB, or to stdout; its key id (SHA-256\n"
			       "of the SPKI DER) to stderr.\n\n"
			       "  --out KEY        private key file to create\n"
			       "  --curve C        p256 (default) or p384\n"
			       "  --tpm            generate inside the TPM\n"
			       "  --tcti TCTI      TPM connection, e.g. device:/dev/tpmrm0 or\n"
			       "                   swtpm:host=127.0.0.1,port=2321 (default: provider's)\n"
			       "  --pub PUB        write the public key here instead of stdout\n\n%s",
			       prog, exit_help);
			return EX_OK;
		case 'o': out = optarg; break;
		case 'p': pub = optarg; break;
		case 't': tpm = 1; break;
		case 'T': tcti = optarg; break;
		case 'c':
			if (!strcasecmp(optarg, "p256") || !strcasecmp(optarg, "P-256"))
				curve = AHV_SIG_ECDSA_P256_SHA256;
			else if (!strcasecmp(optarg, "p384") || !strcasecmp(optarg, "P-384"))
				curve = AHV_SIG_ECDSA_P384_SHA384;
			else
				return usage_err("keygen", "--curve must be p256 or p384");
			break;
		default: return usage_err("keygen", "unknown option");
		}
	}
	if (!out || optind != argc)
		return usage_err("keygen", "--out KEY is required (and no other arguments)");
	int rc = tpm ? ahvl_keygen_tpm(out, curve, tcti) : ahvl_keygen_file(out, curve);
	if (rc)
		return fail(rc, "keygen");
	ahvl_signer *s;
	rc = tpm ? ahvl_signer_from_tpm(&s, out, tcti) : ahvl_signer_from_file(&s, out, NULL);
	if (rc)
		return fail(rc, "reading the new key back");
	char *pem = NULL;
	uint8_t id[AHV_KEY_ID_SIZE];
	rc = ahvl_signer_public_pem(s, &pem);
	if (!rc)
		rc = ahvl_signer_key_id(s, id);
	ahvl_signer_free(s);
	if (rc)
		return fail(rc, "public key");
	int ex = write_all(pub ? pub : "-", pem, strlen(pem));
	free(pem);
	fprintf(stderr, "key id: ");
	print_hex(stderr, id, sizeof id);
	fprintf(stderr, "\n");
	return ex;
}

/* ---- info ---------------------------------------------------------------------- */
static int cmd_info(int argc, char **argv)
{
	static const struct option o[] = {{"help", no_argument, 0, 'h'},
					  {"json", no_argument, 0, 'j'},
					  {0, 0, 0, 0}};
	int json = 0, c;
	while ((c = getopt_long(argc, argv, "hj", o, NULL)) != -1) {
		if (c == 'h') {
			printf("Usage: %s info [--json]\n"
			       "Detect attest-hv through CPUID (leaves 0x40000000/0x40000001) and\n"
			       "print its identity and its info block (AHV_HC_GET_INFO). Exit 3 when\n"
			       "attest-hv is not running.\n\n%s", prog, exit_help);
			return EX_OK;
		} else if (c == 'j')
			json = 1;
		else
			return usage_err("info", "unknown option");
	}
	ahvl_ctx *ctx;
	struct ahvl_hv_identity id;
	struct ahv_hv_info info;
	int rc = ahvl_ctx_new(&ctx, NULL);
	if (rc)
		return fail(rc, "info");
	rc = ahvl_detect(ctx, &id);
	if (rc) {
		ahvl_ctx_free(ctx);
		return fail(rc, "detect");
	}
	if (!json)
		printf("attest-hv wire %u.%u, version %u.%u.%u, back end %s, features 0x%x\n",
		       id.wire_major, id.wire_minor, AHV_HV_VERSION_MAJOR(id.hv_version),
		       AHV_HV_VERSION_MINOR(id.hv_version), AHV_HV_VERSION_PATCH(id.hv_version),
		       id.backend == AHV_BACKEND_VMX ? "vmx (VMCALL)" : "svm (VMMCALL)", id.features);
	rc = ahvl_get_info(ctx, &info);
	ahvl_ctx_free(ctx);
	if (rc)
		return fail(rc, "get info");
	char *t;
	if ((rc = ahvl_describe((const uint8_t *)&info, sizeof info, json, &t)))
		return fail(rc, "decode");
	fputs(t, stdout);
	if (json)
		putchar('\n');
	free(t);
	return EX_OK;
}

/* ---- attest ---------------------------------------------------------------------- */
static int add_range_arg(ahvl_request *req, const char *arg)
{
	/* ADDR:SIZE[:gva|gpa][=NAME] */
	char buf[256], *name = NULL;
	snprintf(buf, sizeof buf, "%s", arg);
	if ((name = strchr(buf, '=')))
		*name++ = 0;
	char *s1 = strchr(buf, ':');
	if (!s1)
		return AHVL_E_INVALID;
	*s1++ = 0;
	char *s2 = strchr(s1, ':');
	uint32_t space = AHV_SPACE_GVA;
	if (s2) {
		*s2++ = 0;
		if (!strcmp(s2, "gpa"))
			space = AHV_SPACE_GPA;
		else if (strcmp(s2, "gva"))
			return AHVL_E_INVALID;
	}
	char *e1, *e2;
	errno = 0;
	unsigned long long a = strtoull(buf, &e1, 0), n = strtoull(s1, &e2, 0);
	if (errno || *e1 || *e2 || e1 == buf || e2 == s1)
		return AHVL_E_INVALID;
	int rc = ahvl_request_add_range(req, a, n, space, NULL, name);
	return rc < 0 ? rc : AHVL_OK;
}

/* --jwks FILE: the verifier's JWKS document, pinned. */
static int pin_jwks_file(ahvl_verifier *v, const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[16384];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	if (!n || n == sizeof buf - 1)
		return ahvl_verifier_pin_jwks(v, NULL); /* AHVL_E_INVALID, with its message */
	buf[n] = 0;
	return ahvl_verifier_pin_jwks(v, buf);
}

/* The watch part of a report (protocol.md §6.4), one line per region. */
static void print_watch(FILE *f, const uint8_t *rep, size_t len)
{
	static const char *const state[] = {"none", "active", "ended", "expired"};
	struct ahv_report_hdr h;
	if (len < sizeof h)
		return;
	memcpy(&h, rep, sizeof h);
	fprintf(f, "watch %u %s since counter %llu (%llu ns)\n", h.watch_id,
		h.watch_state < 4 ? state[h.watch_state] : "?", (unsigned long long)h.watch_since_counter,
		(unsigned long long)h.watch_since_ns);
	for (unsigned i = 0; i < h.region_count && AHV_REPORT_RESULT_OFFSET(i + 1) <= len; i++) {
		struct ahv_region_result r;
		struct ahv_watch_record w;
		memcpy(&r, rep + AHV_REPORT_RESULT_OFFSET(i), sizeof r);
		memcpy(&w, r.digest + AHV_WATCH_RECORD_OFFSET, sizeof w);
		if (!(r.flags & AHV_RESULT_F_WATCHED))
			continue;
		fprintf(f, "region %u: %s", i, r.flags & AHV_RESULT_F_REMAPPED ? "remapped; " : "");
		if (r.flags & AHV_RESULT_F_MODIFIED)
			fprintf(f, "modified at %llu ns by apic %u rip 0x%llx gpa 0x%llx\n",
				(unsigned long long)w.time_ns, w.apic_id, (unsigned long long)w.rip,
				(unsigned long long)w.gpa);
		else
			fprintf(f, "unmodified since counter %llu up to %llu ns\n",
				(unsigned long long)h.watch_since_counter, (unsigned long long)w.time_ns);
	}
}

/* watch status|end --id ID [attest's region and key options]: a CHECK (and
 * END) of the watch, by 'attest' with the watch options. */
static int cmd_attest(int argc, char **argv);

static int cmd_watch(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "status") && strcmp(argv[1], "end"))) {
		fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"Usage: %s watch (status | end) --id ID (--key KEY | --tpm-key KEY)\n"
			"                 [the region options of 'attest --watch', the same ones]\n"
			"                 [--report FILE]\n"
			"Report on a watch (docs/watch.md): per region unmodified since the\n"
			"watch began, or the first write (time, APIC id, RIP, guest-physical\n"
			"address), or remapped; 'end' also ends it.\n\n%s", prog, exit_help);
		return argc >= 2 && !strcmp(argv[1], "--help") ? EX_OK : EX_USAGE;
	}
	char **av = calloc((size_t)argc + 2, sizeof *av);
	if (!av)
		return EX_INTERNAL;
	int n = 0;
	av[n++] = "attest";
	if (!strcmp(argv[1], "end"))
		av[n++] = "--watch-end";
	for (int i = 2; i < argc; i++)
		av[n++] = strcmp(argv[i], "--id") ? argv[i] : "--watch-check";
	optind = 1;
	int ex = cmd_attest(n, av);
	free(av);
	return ex;
}

static int cmd_attest(int argc, char **argv)
{
	static const struct option o[] = {
		{"help", no_argument, 0, 'h'}, {"key", required_argument, 0, 'k'},
		{"tpm-key", required_argument, 0, 'K'}, {"tcti", required_argument, 0, 'T'},
		{"hash", required_argument, 0, 'H'}, {"nonce", required_argument, 0, 'n'},
		{"verifier", required_argument, 0, 'V'}, {"ca", required_argument, 0, 'C'},
		{"section", required_argument, 0, 's'}, {"segment", required_argument, 0, 'S'},
		{"range", required_argument, 0, 'r'}, {"object", required_argument, 0, 'O'},
		{"report", required_argument, 0, 'o'}, {"request", required_argument, 0, 'q'},
		{"claims", no_argument, 0, 'c'}, {"require-lock", no_argument, 0, 'L'},
		{"verbose", no_argument, 0, 'v'}, {"issuer", required_argument, 0, 'I'},
		{"jwks", required_argument, 0, 'J'}, {"jwks-url", required_argument, 0, 'U'},
		{"insecure-http", no_argument, 0, 'X'}, {"watch", optional_argument, 0, 'W'},
		{"watch-check", required_argument, 0, 'Y'}, {"watch-end", no_argument, 0, 'Z'}, {0, 0, 0, 0}};
	const char *key = NULL, *tpm_key = NULL, *tcti = NULL, *nonce_hex = NULL,
		   *url = NULL, *ca = NULL, *object = NULL, *out_rep = NULL, *out_req = NULL,
		   *issuer = NULL, *jwks_file = NULL, *jwks_url = NULL;
	int insecure_http = 0;
	uint32_t watch = 0; /* AHV_REQ_F_WATCH_* (docs/watch.md) */
	uint64_t watch_arg = 0;
	const char *sections[AHV_MAX_REGIONS], *ranges[AHV_MAX_REGIONS];
	unsigned segments[AHV_MAX_REGIONS], nsec = 0, nseg = 0, nrng = 0, flags = 0;
	uint32_t hash = AHV_WIRE_HASH_SHA256;
	int claims = 0, verbose = 0, c;
	while ((c = getopt_long(argc, argv, "hk:K:T:H:n:V:C:s:S:r:O:o:q:cLvI:J:U:XW::Y:Z", o, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: %s attest (--key KEY | --tpm-key KEY [--tcti TCTI])\n"
			       "                 (--verifier URL --issuer ISS (--jwks FILE | --jwks-url URL)\n"
			       "                  [--ca FILE] [--claims] [--insecure-http] | --report FILE [--nonce HEX])\n"
			       "                 [--section NAME]... [--segment N]... [--object OBJ]\n"
			       "                 [--range ADDR:SIZE[:gva|gpa][=NAME]]... [--hash ALG]\n"
			       "                 [--request FILE] [--require-lock] [--watch[=SECONDS]] [-v]\n"
			       "Have attest-hv measure memory of this process and sign a report.\n"
			       "Without region options it measures its own .text and .rodata.\n\n"
			       "  --key KEY        guest private key file (PEM/DER, P-256/P-384)\n"
			       "  --tpm-key KEY    TPM key: TSS2 PRIVATE KEY PEM file or handle:0x81...\n"
			       "  --tcti TCTI      TPM connection (default: the tpm2 provider's)\n"
			       "  --verifier URL   fetch the nonce from attest-verifierd at URL, submit\n"
			       "                   request + report, check the token and print it on\n"
			       "                   stdout (https:// only, see --insecure-http)\n"
			       "  --issuer ISS     the token's iss must be ISS (the verifier's \"issuer\")\n"
			       "  --jwks FILE      the verifier's JWKS, obtained out of band (pinned)\n"
			       "  --jwks-url URL   or its trusted https:// source, fetched once\n"
			       "  --insecure-http  allow http:// URLs: local tests only\n"
			       "  --ca FILE        CA bundle for an https:// verifier\n"
			       "  --claims         also print the token's claims (JSON) on stderr\n"
			       "  --report FILE    write the report here ('-': stdout)\n"
			       "  --request FILE   write the signed request here\n"
			       "  --nonce HEX      nonce (8..64 bytes) when no verifier is used;\n"
			       "                   default 32 random bytes\n"
			       "  --section NAME   a section of the object (.text, .rodata, ...)\n"
			       "  --segment N      PT_LOAD segment N (from 0) of the object: its file\n"
			       "                   bytes [p_vaddr, p_vaddr + p_filesz)\n"
			       "  --object OBJ     for --section/--segment: a loaded shared object (path\n"
			       "                   or base name); default: this program\n"
			       "  --range R        ADDR:SIZE, optionally :gpa (CPL0 only) and =NAME\n"
			       "  --hash ALG       sha256 (default) sha384 sha512 sha3-256 sha3-384 sha3-512\n"
			       "  --require-lock   fail if the pages cannot be mlock()ed\n"
			       "  --watch[=S]      then watch the regions (docs/watch.md) for S seconds\n"
			       "                   (default: the hypervisor's maximum); the watch id is\n"
			       "                   printed: 'watch status|end --id ID' with the same\n"
			       "                   region options reports on it (sha256/sha3-256 only)\n"
			       "  -v, --verbose    print the library's diagnostics on stderr\n\n"
			       "Region names sent to the verifier are the section names (\".text\"),\n"
			       "\"LOAD<N>\" for segments, or the =NAME of a range; 'refvals' emits the\n"
			       "same names.\n\n%s",
			       prog, exit_help);
			return EX_OK;
		case 'k': key = optarg; break;
		case 'K': tpm_key = optarg; break;
		case 'T': tcti = optarg; break;
		case 'H':
			if (!(hash = hash_id(optarg)))
				return usage_err("attest", "unknown --hash");
			break;
		case 'n': nonce_hex = optarg; break;
		case 'V': url = optarg; break;
		case 'C': ca = optarg; break;
		case 'O': object = optarg; break;
		case 'o': out_rep = optarg; break;
		case 'q': out_req = optarg; break;
		case 'c': claims = 1; break;
		case 'L': flags |= AHVL_ATTEST_REQUIRE_LOCK; break;
		case 'v': verbose = 1; break;
		case 'I': issuer = optarg; break;
		case 'J': jwks_file = optarg; break;
		case 'U': jwks_url = optarg; break;
		case 'X': insecure_http = 1; break;
		case 'W':
		case 'Y': {
			char *e = NULL;
			watch = c == 'W' ? AHV_REQ_F_WATCH_START : (watch | AHV_REQ_F_WATCH_CHECK);
			watch_arg = optarg ? strtoull(optarg, &e, 0) : 0;
			if (optarg && (*e || e == optarg))
				return usage_err("attest", c == 'W' ? "--watch takes seconds" : "--id takes a watch id");
			break;
		}
		case 'Z': watch |= AHV_REQ_F_WATCH_END; break;
		case 's':
			if (nsec == AHV_MAX_REGIONS)
				return usage_err("attest", "too many regions");
			sections[nsec++] = optarg;
			break;
		case 'S': {
			char *e;
			unsigned long v = strtoul(optarg, &e, 10);
			if (*e || e == optarg || v > 1000 || nseg == AHV_MAX_REGIONS)
				return usage_err("attest", "--segment takes a PT_LOAD index");
			segments[nseg++] = (unsigned)v;
			break;
		}
		case 'r':
			if (nrng == AHV_MAX_REGIONS)
				return usage_err("attest", "too many regions");
			ranges[nrng++] = optarg;
			break;
		default: return usage_err("attest", "unknown option");
		}
	}
	if (optind != argc)
		return usage_err("attest", "unexpected argument");
	if (!key == !tpm_key)
		return usage_err("attest", "exactly one of --key and --tpm-key is required");
	if (!url && !out_rep && !(watch & AHV_REQ_F_WATCH_CHECK))
		return usage_err("attest", "--verifier URL or --report FILE is required");
	if (url && (!issuer || !jwks_file == !jwks_url))
		return usage_err("attest", "--verifier needs --issuer and one of --jwks and --jwks-url");
	if (url && nonce_hex)
		return usage_err("attest", "--nonce cannot be combined with --verifier (it issues the nonce)");

	int rc, ex = EX_OK;
	ahvl_ctx *ctx = NULL;
	ahvl_request *req = NULL;
	ahvl_signer *s = NULL;
	ahvl_verifier *v = NULL;
	struct ahvl_evidence ev = {0};
	char *token = NULL, *cl = NULL;
	uint8_t nonce[AHV_NONCE_MAX];
	size_t nl = 0;

	if ((rc = ahvl_request_new(&req, hash)))
		goto lib_fail;
	if (!nsec && !nseg && !nrng) {
		sections[nsec++] = ".text";
		sections[nsec++] = ".rodata";
	}
	for (unsigned i = 0; i < nsec; i++)
		if ((rc = ahvl_request_add_section(req, object, sections[i], NULL)) < 0)
			goto lib_fail;
	for (unsigned i = 0; i < nseg; i++)
		if ((rc = ahvl_request_add_segment(req, object, segments[i], NULL)) < 0)
			goto lib_fail;
	for (unsigned i = 0; i < nrng; i++)
		if ((rc = add_range_arg(req, ranges[i])) < 0) {
			if (rc == AHVL_E_INVALID && !*ahvl_error_detail()) {
				ex = usage_err("attest", "--range must be ADDR:SIZE[:gva|gpa][=NAME]");
				goto out;
			}
			goto lib_fail;
		}
	rc = key ? ahvl_signer_from_file(&s, key, getenv("AHV_KEY_PASSPHRASE"))
		 : ahvl_signer_from_tpm(&s, tpm_key, tcti);
	if (rc)
		goto lib_fail;
	if (url) {
		rc = insecure_http ? ahvl_verifier_new_insecure_http(&v, url) : ahvl_verifier_new(&v, url);
		if (rc || (ca && (rc = ahvl_verifier_set_ca(v, ca))) || (rc = ahvl_verifier_set_issuer(v, issuer)) ||
		    (jwks_url && (rc = ahvl_verifier_set_jwks_url(v, jwks_url))) ||
		    (jwks_file && (rc = pin_jwks_file(v, jwks_file))) ||
		    (rc = ahvl_verifier_challenge(v, nonce, sizeof nonce, &nl)))
			goto lib_fail;
	} else if (nonce_hex) {
		if (parse_hex(nonce_hex, nonce, sizeof nonce, &nl)) {
			ex = usage_err("attest", "--nonce must be hex");
			goto out;
		}
	}
	rc = nl ? ahvl_request_set_nonce(req, nonce, nl) : ahvl_request_random_nonce(req, 32);
	if (!rc)
		rc = ahvl_request_set_watch(req, watch, watch_arg);
	if (rc)
		goto lib_fail;
	if ((rc = ahvl_ctx_new(&ctx, NULL)))
		goto lib_fail;
	if (verbose)
		ahvl_ctx_set_log(ctx, log_line, NULL);
	if ((rc = ahvl_attest(ctx, req, s, flags, &ev)))
		goto lib_fail;
	if (out_req && (ex = write_all(out_req, ev.request, ev.request_len)))
		goto out;
	if (out_rep && (ex = write_all(out_rep, ev.report, ev.report_len)))
		goto out;
	if (watch)
		print_watch(out_rep && !strcmp(out_rep, "-") ? stderr : stdout, ev.report, ev.report_len);
	if (url) {
		if ((rc = ahvl_verifier_submit(v, &ev, req, &token))) {
			if (rc == AHVL_E_VERIFIER)
				fprintf(stderr, "%s: rejected (%s)\n", prog, ahvl_verifier_error_code(v));
			goto lib_fail;
		}
		if ((rc = ahvl_token_verify(v, token, NULL, nonce, nl, claims ? &cl : NULL)))
			goto lib_fail;
		printf("%s\n", token);
		if (cl)
			fprintf(stderr, "%s\n", cl);
	}
	goto out;
lib_fail:
	ex = fail(rc, "attest");
	if (rc == AHVL_E_HYPERCALL) {
		uint32_t st;
		uint64_t rcx, rdx;
		ahvl_ctx_last_call(ctx, &st, NULL, &rcx, &rdx);
		fprintf(stderr, "%s: status=0x%02x rcx=0x%llx rdx=0x%llx\n", prog, st,
			(unsigned long long)rcx, (unsigned long long)rdx);
	}
out:
	free(token);
	free(cl);
	ahvl_evidence_clear(&ev);
	ahvl_verifier_free(v);
	ahvl_signer_free(s);
	ahvl_request_free(req);
	ahvl_ctx_free(ctx);
	return ex;
}

/* ---- show ------------------------------------------------------------------------- */
static int cmd_show(int argc, char **argv)
{
	static const struct option o[] = {{"help", no_argument, 0, 'h'},
					  {"json", no_argument, 0, 'j'},
					  {0, 0, 0, 0}};
	int json = 0, c;
	while ((c = getopt_long(argc, argv, "hj", o, NULL)) != -1) {
		if (c == 'h') {
			printf("Usage: %s show [--json] FILE\n"
			       "Decode a request (AHVQ), report (AHVR) or info block (AHVI), told apart\n"
			       "by their magic, as text or (--json) one JSON object. FILE '-' is stdin.\n"
			       "The \"structure\" line says whether the layout, sizes and reserved fields\n"
			       "are valid; for reports \"composite_check\" recomputes the composite\n"
			       "digest. Signatures need keys: use 'verify'. Exit 5 if FILE is none of\n"
			       "the three (or shorter than its header); a decodable but invalid\n"
			       "structure is printed and exits 1.\n\n%s", prog, exit_help);
			return EX_OK;
		} else if (c == 'j')
			json = 1;
		else
			return usage_err("show", "unknown option");
	}
	if (optind + 1 != argc)
		return usage_err("show", "one FILE is required");
	uint8_t *b;
	size_t n;
	int ex = read_all(argv[optind], &b, &n);
	if (ex)
		return ex;
	char *t;
	int rc = ahvl_describe(b, n, json, &t);
	if (rc) {
		free(b);
		return fail(rc, argv[optind]);
	}
	fputs(t, stdout);
	if (json)
		putchar('\n');
	ex = strstr(t, json ? "\"structure\": \"ok\"" : "structure         ok") ? EX_OK : EX_FAIL;
	if (strstr(t, json ? "\"composite_check\": \"MISMATCH\"" : "composite_check   MISMATCH"))
		ex = EX_FAIL;
	free(t);
	free(b);
	return ex;
}

/* ---- verify ------------------------------------------------------------------------ */
static int cmd_verify(int argc, char **argv)
{
	static const struct option o[] = {
		{"help", no_argument, 0, 'h'}, {"hv-key", required_argument, 0, 'k'},
		{"nonce", required_argument, 0, 'n'}, {"request", required_argument, 0, 'q'},
		{"guest-key", required_argument, 0, 'g'}, {"allow-dev-key", no_argument, 0, 'D'},
		{"allow-debug", no_argument, 0, 'B'}, {"allow-claim-mismatch", no_argument, 0, 'M'},
		{"allow-dma-unprotected", no_argument, 0, 'U'},
		{"quiet", no_argument, 0, 'Q'}, {0, 0, 0, 0}};
	const char *hvk = NULL, *nonce_hex = NULL, *reqf = NULL, *gk = NULL;
	struct ahvl_report_expect ex = {0};
	int quiet = 0, c;
	while ((c = getopt_long(argc, argv, "hk:n:q:g:DBMUQ", o, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: %s verify --hv-key PUB [--nonce HEX] [--request FILE [--guest-key PUB]]\n"
			       "                 [--allow-dev-key] [--allow-debug] [--allow-claim-mismatch]\n"
			       "                 [--allow-dma-unprotected] [--quiet] REPORT\n"
			       "Check a report offline (protocol.md §11): layout, sizes, reserved\n"
			       "fields, the hypervisor signature with PUB (PEM or DER SPKI; its key id\n"
			       "must equal the report's hv_key_id), the composite digest, and the\n"
			       "flags (DEV_KEY, DEBUG, CLAIM_MISMATCH and DMA_UNPROTECTED are refused\n"
			       "unless allowed; unknown flag bits always).\n"
			       "--nonce: the report must carry this nonce. --request: the report must\n"
			       "answer these request bytes (request_digest and echoed fields); with\n"
			       "--guest-key the request's signature is checked too. Reference values\n"
			       "and replay are the verifier service's job (docs/verifier.md).\n"
			       "Prints \"OK\" or the reason; exit 0 when valid, 1 when not.\n\n%s",
			       prog, exit_help);
			return EX_OK;
		case 'k': hvk = optarg; break;
		case 'n': nonce_hex = optarg; break;
		case 'q': reqf = optarg; break;
		case 'g': gk = optarg; break;
		case 'D': ex.allow_flags |= AHV_REPORT_F_DEV_KEY; break;
		case 'B': ex.allow_flags |= AHV_REPORT_F_DEBUG; break;
		case 'M': ex.allow_flags |= AHV_REPORT_F_CLAIM_MISMATCH; break;
		case 'U': ex.allow_flags |= AHV_REPORT_F_DMA_UNPROTECTED; break;
		case 'Q': quiet = 1; break;
		default: return usage_err("verify", "unknown option");
		}
	}
	if (!hvk || optind + 1 != argc)
		return usage_err("verify", "--hv-key PUB and one REPORT are required");
	if (gk && !reqf)
		return usage_err("verify", "--guest-key needs --request");
	uint8_t nonce[AHV_NONCE_MAX], *key = NULL, *rep = NULL, *req = NULL, *gkey = NULL;
	size_t nl, kl, rl, ql = 0, gl = 0;
	int code;
	if (nonce_hex) {
		if (parse_hex(nonce_hex, nonce, sizeof nonce, &nl) || nl < AHV_NONCE_MIN)
			return usage_err("verify", "--nonce must be 8..64 bytes of hex");
		ex.nonce = nonce;
		ex.nonce_len = nl;
	}
	if ((code = read_all(hvk, &key, &kl)) || (code = read_all(argv[optind], &rep, &rl)) ||
	    (reqf && (code = read_all(reqf, &req, &ql))) || (gk && (code = read_all(gk, &gkey, &gl))))
		goto out;
	ex.request = req;
	ex.request_len = ql;
	int rc = ahvl_report_verify(rep, rl, key, kl, &ex);
	if (!rc && req)
		rc = ahvl_request_verify(req, ql, gkey, gl);
	if (rc) {
		code = exit_code(rc);
		if (rc == AHVL_E_FORMAT)
			code = EX_FAIL; /* an invalid report is a failed verification */
		printf("FAILED: %s\n", ahvl_error_detail());
	} else {
		code = EX_OK;
		if (!quiet)
			printf("OK\n");
	}
out:
	free(key);
	free(rep);
	free(req);
	free(gkey);
	return code;
}

/* ---- refvals ------------------------------------------------------------------------ */
static int cmd_refvals(int argc, char **argv)
{
	static const struct option o[] = {
		{"help", no_argument, 0, 'h'}, {"sections", no_argument, 0, 's'},
		{"segments", no_argument, 0, 'g'}, {"only", required_argument, 0, 'o'},
		{"hash", required_argument, 0, 'H'}, {"prefix", required_argument, 0, 'p'},
		{"out", required_argument, 0, 'O'}, {0, 0, 0, 0}};
	unsigned what = AHVL_REFVALS_SECTIONS;
	const char *only[AHV_MAX_REGIONS + 1], *prefix = NULL, *out = NULL;
	uint32_t algs[8];
	unsigned no = 0, na = 0;
	int c;
	while ((c = getopt_long(argc, argv, "hsgo:H:p:O:", o, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: %s refvals [--sections | --segments] [--only NAME]... [--hash ALG]...\n"
			       "                  [--prefix P] [--out FILE] ELF\n"
			       "Reference digests for ELF's loadable sections (default) or PT_LOAD\n"
			       "segments, exactly as attest-hv measures them once the program is loaded\n"
			       "and 'attest --section/--segment' (or the library) names them:\n"
			       "  section NAME:  bytes [base + sh_addr, + sh_size) = the file bytes at\n"
			       "                 sh_offset (SHT_NOBITS such as .bss: that many zeros);\n"
			       "  segment LOADn: bytes [base + p_vaddr, + p_filesz) = the file bytes at\n"
			       "                 p_offset; the zero-filled tail up to p_memsz (.bss) and\n"
			       "                 the page padding around the segment are NOT measured.\n"
			       "'base' is the load address (0 for ET_EXEC; random for PIE/shared\n"
			       "objects, so those entries carry no \"address\"). Byte ranges need no\n"
			       "alignment: the hypervisor hashes exactly these bytes, whatever pages\n"
			       "hold them. Entries whose bytes the loader or the program changes\n"
			       "(dynamic relocation targets such as .got/.data.rel.ro, writable data,\n"
			       ".bss) are still listed, with \"UNPREDICTABLE\" in their comment; files\n"
			       "with text relocations are refused.\n"
			       "Output: a policy document for attest-verifierd (docs/verifier.md):\n"
			       "{\"version\": 1, \"regions\": [{\"name\", [\"address\"], \"size\", \"space\",\n"
			       "\"digests\": [\"sha256:...\"], \"comment\"}]}.\n\n"
			       "  --sections       every SHF_ALLOC section (default)\n"
			       "  --segments       every PT_LOAD segment, named LOAD0, LOAD1, ...\n"
			       "  --only NAME      only this section/segment (repeatable)\n"
			       "  --hash ALG       digest algorithm (repeatable; default sha256)\n"
			       "  --prefix P       prepend P to every region name (e.g. \"agent:\"); the\n"
			       "                   guest must then use the same names\n"
			       "  --out FILE       write the JSON here instead of stdout\n\n%s",
			       prog, exit_help);
			return EX_OK;
		case 's': what = AHVL_REFVALS_SECTIONS; break;
		case 'g': what = AHVL_REFVALS_SEGMENTS; break;
		case 'o':
			if (no == AHV_MAX_REGIONS)
				return usage_err("refvals", "too many --only");
			only[no++] = optarg;
			break;
		case 'H':
			if (na == 7 || !(algs[na++] = hash_id(optarg)))
				return usage_err("refvals", "unknown --hash (or too many)");
			break;
		case 'p': prefix = optarg; break;
		case 'O': out = optarg; break;
		default: return usage_err("refvals", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return usage_err("refvals", "one ELF file is required");
	only[no] = NULL;
	algs[na] = 0;
	char *j;
	int rc = ahvl_elf_refvals(argv[optind], what, no ? only : NULL, na ? algs : NULL, prefix, &j);
	if (rc)
		return fail(rc, "refvals");
	size_t l = strlen(j);
	j[l] = '\n';
	int ex = write_all(out ? out : "-", j, l + 1);
	free(j);
	return ex;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EX_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("attest-hv %s (wire %u.%u)\n", ahvl_version(), AHV_WIRE_VERSION_MAJOR,
		       AHV_WIRE_VERSION_MINOR);
		return EX_OK;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"keygen", cmd_keygen}, {"info", cmd_info},     {"attest", cmd_attest},
		    {"show", cmd_show},     {"verify", cmd_verify}, {"refvals", cmd_refvals},
		    {"watch", cmd_watch}};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmd, cmds[i].name)) {
			optind = 1;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "%s: unknown command '%s'\n\n", prog, cmd);
	usage(stderr);
	return EX_USAGE;
}
