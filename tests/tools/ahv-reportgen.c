/*
 * ahv-reportgen - signed attest-hv requests and reports, made on the host by
 * the real engine (hypervisor/core) running on the simulated machine
 * (tests/engine/sim.c) with keys from PEM files. For verifier tests and
 * benchmarks; never part of the hypervisor image.
 *
 * The files named by --region are placed in the simulated guest's memory
 * (user pages, at the given or a default guest-virtual address), a CPL3
 * caller signs a request naming them with the guest key, and the engine
 * measures them and signs the report with the hypervisor key, exactly as
 * /attest_guest_memory would.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sim.h"

#define DEFAULT_GVA 0x00007f0000000000ull /* user half, 4-level canonical */

static const char usage[] =
	"usage: ahv-reportgen --hv-key HV_PRIV.pem --guest-key GUEST_PRIV.pem\n"
	"         [--alg sha256|sha384|sha512|sha3-256|sha3-384|sha3-512] [--dev-key]\n"
	"         [--dma-unprotected] [--watch]\n"
	"         (--nonce HEX | --nonces FILE) --region FILE[:GVA] [--region ...]\n"
	"         (--out-request R.bin --out-report P.bin | --jsonl OUT.jsonl)\n"
	"         [--build-id HEX] [--image-digest HEX] [--config-digest HEX]\n"
	"\n"
	"Runs the attest-hv engine on a simulated machine: the region files are\n"
	"placed in guest memory (at GVA, hex, or one after the other from\n"
	"0x7f0000000000), a CPL3 caller sends a request signed with the guest key\n"
	"(P-256 or P-384 EC private key, PEM), and the engine writes a report\n"
	"signed with the hypervisor key. --dev-key sets AHV_REPORT_F_DEV_KEY,\n"
	"--dma-unprotected AHV_REPORT_F_DMA_UNPROTECTED (no IOMMU taken).\n"
	"--watch (docs/watch.md): the first request starts a watch over the\n"
	"regions, every later one (--nonces) is a CHECK of it (a 32-byte hash).\n"
	"With --nonces (one hex nonce per line) or --jsonl, writes one JSON line\n"
	"per nonce: {\"nonce\":hex,\"request\":base64,\"report\":base64}.\n"
	"Reports of one run share a boot id and carry counters 1, 2, ...\n";

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "ahv-reportgen: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex string to bytes; returns the length or -1. */
static int unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static int rand_entropy(void *arg, uint8_t *out, size_t len)
{
	(void)arg;
	return RAND_bytes(out, (int)len) == 1 ? 0 : AHV_CRYPTO_ENOENTROPY;
}

/* PEM EC private key -> ahv_ec_key (OpenSSL parses, our API rebuilds). */
static void load_key(const char *path, ahv_drbg *drbg, ahv_ec_key *key)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;
	char group[64];
	BIGNUM *d = NULL;
	uint8_t scalar[AHV_EC_MAX_SCALAR];
	ahv_curve curve;
	size_t cs;

	if (!f)
		die("cannot open %s", path);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
					     sizeof(group), NULL))
		die("%s: not an EC private key (PEM)", path);
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
		curve = AHV_CURVE_P256;
	else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
		curve = AHV_CURVE_P384;
	else
		die("%s: curve must be P-256 or P-384", path);
	cs = ahv_curve_size(curve);
	if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) ||
	    BN_bn2binpad(d, scalar, (int)cs) != (int)cs ||
	    ahv_ec_key_from_private(curve, scalar, cs, drbg, key))
		die("%s: unusable private key", path);
	BN_clear_free(d);
	OPENSSL_cleanse(scalar, sizeof(scalar));
	EVP_PKEY_free(pk);
}

struct region_arg {
	const char *path;
	uint64_t gva;
	bool has_gva;
	uint64_t size;
};

static uint32_t parse_alg(const char *s)
{
	static const char *names[] = { NULL, "sha256", "sha384", "sha512",
				       "sha3-256", "sha3-384", "sha3-512" };

	for (uint32_t i = 1; i <= 6; i++)
		if (!strcmp(s, names[i]))
			return i;
	die("unknown --alg %s", s);
	return 0;
}

/* Map [gva, gva + size) with user pages (reusing pages an earlier region
 * mapped) and copy the file there. */
static void place(struct sim *s, const struct region_arg *r)
{
	uint64_t first = r->gva & ~(SIM_4K - 1), end = r->gva + r->size;
	FILE *f;
	uint8_t *buf;
	uint64_t off = 0;

	for (uint64_t va = first; va < end; va += SIM_4K) {
		uint64_t gpa;

		if (sim_model_xlate(&s->gpt, va, &gpa))
			continue;
		gpa = sim_alloc_gpa(s, SIM_4K, SIM_4K);
		if (sim_map(s, &s->gpt, va, gpa, SIM_4K, SIM_4K, SIM_URW))
			die("cannot map guest page for %s", r->path);
	}
	if (!r->size)
		return;
	f = fopen(r->path, "rb");
	buf = malloc(1u << 20);
	if (!f || !buf)
		die("cannot read %s", r->path);
	while (off < r->size) {
		size_t n = fread(buf, 1, 1u << 20, f);

		if (n == 0)
			die("short read on %s", r->path);
		if (n > r->size - off)
			n = (size_t)(r->size - off);
		sim_write(s, AHV_SPACE_GVA, r->gva + off, buf, n);
		off += n;
	}
	free(buf);
	fclose(f);
}

static char *b64(const uint8_t *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (!out)
		die("%s", "out of memory");
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		die("cannot write %s", path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hv-key", required_argument, NULL, 'k' },
		{ "guest-key", required_argument, NULL, 'g' },
		{ "alg", required_argument, NULL, 'a' },
		{ "dev-key", no_argument, NULL, 'd' },
		{ "dma-unprotected", no_argument, NULL, 'u' },
		{ "watch", no_argument, NULL, 'w' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "nonces", required_argument, NULL, 'N' },
		{ "region", required_argument, NULL, 'r' },
		{ "out-request", required_argument, NULL, 'q' },
		{ "out-report", required_argument, NULL, 'p' },
		{ "jsonl", required_argument, NULL, 'j' },
		{ "build-id", required_argument, NULL, 'b' },
		{ "image-digest", required_argument, NULL, 'i' },
		{ "config-digest", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *hv_path = NULL, *guest_path = NULL, *nonce_hex = NULL,
		   *nonces_path = NULL, *out_req = NULL, *out_rep = NULL,
		   *jsonl = NULL, *build_hex = NULL, *image_hex = NULL,
		   *config_hex = NULL;
	struct region_arg regions[AHV_MAX_REGIONS];
	uint32_t nregions = 0, alg = AHV_WIRE_HASH_SHA256;
	bool dev_key = false, no_dma = false, watch = false;
	uint32_t watch_id = 0; /* --watch: the first report's, CHECKed after */
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': hv_path = optarg; break;
		case 'g': guest_path = optarg; break;
		case 'a': alg = parse_alg(optarg); break;
		case 'd': dev_key = true; break;
		case 'u': no_dma = true; break;
		case 'w': watch = true; break;
		case 'n': nonce_hex = optarg; break;
		case 'N': nonces_path = optarg; break;
		case 'q': out_req = optarg; break;
		case 'p': out_rep = optarg; break;
		case 'j': jsonl = optarg; break;
		case 'b': build_hex = optarg; break;
		case 'i': image_hex = optarg; break;
		case 'c': config_hex = optarg; break;
		case 'r': {
			struct region_arg *r = &regions[nregions];
			char *colon;

			if (nregions == AHV_MAX_REGIONS)
				die("at most %s regions", "64");
			r->path = strdup(optarg);
			colon = strrchr((char *)r->path, ':');
			r->has_gva = false;
			if (colon) {
				char *end;

				errno = 0;
				r->gva = strtoull(colon + 1, &end, 16);
				if (errno || *end || end == colon + 1)
					die("bad GVA in --region %s", optarg);
				*colon = 0;
				r->has_gva = true;
			}
			nregions++;
			break;
		}
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc || !hv_path || !guest_path || !nregions ||
	    !!nonce_hex == !!nonces_path || (!jsonl && (!out_req || !out_rep)) ||
	    (nonces_path && !jsonl)) {
		fputs(usage, stderr);
		return 2;
	}

	/* sizes and default addresses */
	uint64_t total = 0, next = DEFAULT_GVA;
	for (uint32_t i = 0; i < nregions; i++) {
		struct stat st;

		if (stat(regions[i].path, &st) || !S_ISREG(st.st_mode))
			die("cannot stat %s", regions[i].path);
		regions[i].size = (uint64_t)st.st_size;
		if (!regions[i].has_gva) {
			regions[i].gva = next;
			next += (regions[i].size + 2 * SIM_4K) & ~(SIM_4K - 1);
		}
		total += regions[i].size + 2 * SIM_4K;
	}
	if (total > AHV_MAX_TOTAL_BYTES + AHV_MAX_REGIONS * 2 * SIM_4K)
		die("regions exceed %s in total", "1 GiB");

	struct sim_cfg cfg = {
		.guest_ram = ((total + (64ull << 20)) + SIM_2M - 1) & ~(SIM_2M - 1),
		.plat_flags = AHV_PLAT_TIME_VALID | (dev_key ? AHV_PLAT_DEV_KEY : 0) |
			      (no_dma ? AHV_PLAT_DMA_UNPROTECTED : 0),
	};
	struct sim *s = calloc(1, sizeof(*s));
	ahv_drbg drbg;
	ahv_ec_key guest;

	if (!s || sim_init(s, &cfg))
		die("%s", "cannot set up the simulated machine");
	if (ahv_drbg_init(&drbg, 0, rand_entropy, NULL, "reportgen", 9))
		die("%s", "DRBG");
	load_key(hv_path, &drbg, &s->hv_key);
	load_key(guest_path, &drbg, &guest);
	/* the hypervisor: these keys, this run's identity */
	s->plat.drbg = &drbg;
	s->plat.sign_key = &s->hv_key;
	if (ahv_guest_key_enroll(&s->enrolled[0], &guest.pub))
		die("%s", "guest key");
	s->plat.guest_key_count = 1;
	RAND_bytes(s->plat.boot_id, sizeof(s->plat.boot_id));
	memset(s->plat.build_id, 0, sizeof(s->plat.build_id));
	memcpy(s->plat.build_id, "ahv-reportgen", 13);
	memset(s->plat.hv_image_digest, 0, 32);
	memset(s->plat.hv_config_digest, 0, 32);
	if ((build_hex && unhex(build_hex, s->plat.build_id, 32) < 0) ||
	    (image_hex && unhex(image_hex, s->plat.hv_image_digest, 32) != 32) ||
	    (config_hex && unhex(config_hex, s->plat.hv_config_digest, 32) != 32))
		die("%s", "bad --build-id/--image-digest/--config-digest hex");
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		s->plat.rtc_boot_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	if (ahv_core_init(&s->core, &s->plat))
		die("%s", "engine refused the platform");

	struct sim_region sr[AHV_MAX_REGIONS];
	for (uint32_t i = 0; i < nregions; i++) {
		place(s, &regions[i]);
		sr[i] = (struct sim_region){ regions[i].gva, regions[i].size,
					     AHV_SPACE_GVA, 0, NULL };
	}
	/* request and report buffers, reused for every nonce */
	uint64_t rq = sim_alloc_gva(s, AHV_REQUEST_MAX_SIZE, 0, SIM_URW);
	uint64_t rp = sim_alloc_gva(s, AHV_REPORT_MAX_SIZE, 0, SIM_URW);

	FILE *nonces = nonces_path ? fopen(nonces_path, "r") : NULL;
	FILE *out = jsonl ? fopen(jsonl, "w") : NULL;
	char line[512];
	unsigned count = 0;

	if ((nonces_path && !nonces) || (jsonl && !out))
		die("cannot open %s", nonces_path && !nonces ? nonces_path : jsonl);
	for (;;) {
		const char *hex;
		uint8_t nonce[AHV_NONCE_MAX], req[AHV_REQUEST_MAX_SIZE], rep[AHV_REPORT_MAX_SIZE];
		int nlen;
		size_t len;
		struct ahv_hc_regs o;

		if (nonces) {
			if (!fgets(line, sizeof(line), nonces))
				break;
			if (line[0] == '\n' || line[0] == '#')
				continue;
			hex = line;
		} else {
			if (count)
				break;
			hex = nonce_hex;
		}
		nlen = unhex(hex, nonce, sizeof(nonce));
		if (nlen < (int)AHV_NONCE_MIN)
			die("bad nonce %s (8 to 64 bytes of hex)", hex);
		len = sim_request(req, alg, nonce, (uint32_t)nlen, sr, nregions, &guest, &drbg);
		if (!len)
			die("%s", "cannot sign the request");
		if (watch) {
			struct ahv_request_hdr h;

			memcpy(&h, req, sizeof(h));
			h.flags = watch_id ? AHV_REQ_F_WATCH_CHECK : AHV_REQ_F_WATCH_START;
			h.watch_arg = watch_id;
			memcpy(req, &h, sizeof(h));
			if (sim_resign(req, &guest, &drbg))
				die("%s", "cannot sign the request");
		}
		sim_write(s, AHV_SPACE_GVA, rq, req, len);
		o = sim_call(s, AHV_HC_ATTEST_GUEST_MEMORY, rq, len, rp, AHV_REPORT_MAX_SIZE);
		if (o.rax != AHV_OK) {
			fprintf(stderr, "ahv-reportgen: engine status 0x%llx (RCX 0x%llx, RDX 0x%llx)\n",
				(unsigned long long)o.rax, (unsigned long long)o.rcx,
				(unsigned long long)o.rdx);
			return 1;
		}
		sim_read(s, AHV_SPACE_GVA, rp, rep, o.rbx);
		if (watch && !watch_id) {
			struct ahv_report_hdr rh;

			memcpy(&rh, rep, sizeof(rh));
			watch_id = rh.watch_id;
		}
		if (out) {
			char *q = b64(req, len), *p = b64(rep, o.rbx);

			fprintf(out, "{\"nonce\":\"");
			for (int i = 0; i < nlen; i++)
				fprintf(out, "%02x", nonce[i]);
			fprintf(out, "\",\"request\":\"%s\",\"report\":\"%s\"}\n", q, p);
			free(q);
			free(p);
		} else {
			write_file(out_req, req, len);
			write_file(out_rep, rep, o.rbx);
		}
		count++;
	}
	if (out && fclose(out))
		die("cannot write %s", jsonl);
	if (nonces)
		fclose(nonces);
	if (!count)
		die("%s", "no nonces");
	ahv_ec_key_wipe(&guest);
	ahv_drbg_free(&drbg);
	for (uint32_t i = 0; i < nregions; i++)
		free((char *)regions[i].path);
	sim_free(s);
	free(s);
	return 0;
}
