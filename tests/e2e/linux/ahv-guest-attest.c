/*
 * ahv-guest-attest.c - the Linux guest program of the e2e-svm/e2e-vmx tests and the
 * demo, built on libattest-hv (docs/guest-lib.md): a user process (CPL3)
 * that attests its own .text section and a data buffer, prints the report in
 * hex for the host (which checks the signature and compares the .text digest
 * with `attest-hv refvals` of this very binary), tries what a CPL3 caller
 * must not do (protection keys included, where the CPU and kernel offer
 * them; docs/hostile.md), checks that a report leaves its page's Dirty flag
 * set, and in the demo takes a challenge from attest-verifierd,
 * submits the evidence and checks the token (the library's verifier client).
 * Built by scripts/linux-guest.sh (PIE, no text relocations) against
 * libattest-hv.a; its shared libraries go into the initramfs.
 *
 *   ahv-guest-attest GUEST_KEY.pem [--nonce HEX] [--verifier URL [--issuer ISS] [--tries N]]
 *     --nonce HEX     use this nonce, else a random one
 *     --verifier URL  after the checks: challenge -> attest -> submit ->
 *                     token (over http://: a local test, the explicit
 *                     opt-out; JWKS from URL/v1/jwks, iss ISS, default
 *                     attest-verifier, verdict and nonce checked); retried
 *                     (N times, default 60, 2 s apart) until accepted
 * Markers (console): AHV-LINUX: discovery ok ..., AHV-LINUX: case <name>
 * ok|FAIL|skipped (<reason>), AHV-LINUX: pkeys: <CPUID and kernel
 * evidence>, AHV-LINUX: report-dirty: <smaps counts>, AHV-LINUX-REPORT <hex>, AHV-LINUX-NONCE <hex>, AHV-LINUX-DIGEST0
 * <hex>, AHV-LINUX-REGION <i> <name> <address> <size> <digest>, AHV-LINUX-LIB
 * <the library's diagnostics>, AHV-LINUX:
 * PASS|FAIL; with --verifier: AHV-LINUX: challenge <hex>, AHV-LINUX: verifier
 * verdict: ..., AHV-LINUX-TOKEN <jwt>.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <ahv/hex.h>
#include <attest-hv/attest.h>

static uint8_t data_buf[3 * 4096 + 123];
static int checks, fails;
static ahvl_signer *key;

static void hexline(const char *tag, const uint8_t *b, size_t n)
{
	for (size_t off = 0; off < n; off += 64) {
		printf("%s ", tag);
		for (size_t i = off; i < n && i < off + 64; i++)
			printf("%02x", b[i]);
		printf("\n");
	}
}

static void check(int ok, const char *name, uint64_t got, uint64_t want)
{
	checks++;
	fails += !ok;
	printf("AHV-LINUX: case %s %s status=0x%llx want=0x%llx\n", name, ok ? "ok" : "FAIL",
	       (unsigned long long)got, (unsigned long long)want);
}

static void log_line(void *user, const char *line)
{
	(void)user;
	printf("AHV-LINUX-LIB %s\n", line);
}

/* Hostile transport: the native CPUID and VMMCALL, but it claims CPL0 and
 * GPA support so that the library sends what it would (rightly) refuse
 * itself; the hypervisor, which sees the real CPL3, must refuse it. */
static void liar_cpuid(void *user, uint32_t leaf, uint32_t out[4])
{
	(void)user;
	ahvl_transport_native()->cpuid(NULL, leaf, out);
	if (leaf == AHV_CPUID_LEAF_FEATURES)
		out[1] |= AHV_FEAT_GPA_REGIONS;
}
static void liar_hypercall(void *user, uint32_t backend, struct ahvl_regs *r)
{
	(void)user;
	ahvl_transport_native()->hypercall(NULL, backend, r);
}
static int liar_cpl(void *user)
{
	(void)user;
	return 0;
}
static const struct ahvl_transport liar = {.cpuid = liar_cpuid, .hypercall = liar_hypercall, .cpl = liar_cpl};

/* The good request: own .text (region name ".text", as refvals names it)
 * and the data buffer (unnamed). */
static int good_request(ahvl_request **req, const uint8_t *nonce, size_t nl)
{
	int rc = ahvl_request_new(req, AHV_WIRE_HASH_SHA256);
	if (!rc)
		rc = ahvl_request_set_nonce(*req, nonce, nl);
	if (!rc && (rc = ahvl_request_add_section(*req, NULL, ".text", NULL)) > 0)
		rc = AHVL_E_INTERNAL;
	if (!rc && (rc = ahvl_request_add_range(*req, (uintptr_t)data_buf, sizeof data_buf, AHV_SPACE_GVA,
						NULL, NULL)) == 1)
		rc = AHVL_OK;
	return rc;
}

/* A request for one region [addr, addr + size) in space. */
static int request1(ahvl_request **q, const uint8_t *nonce, size_t nl, uint64_t addr, uint64_t size, uint32_t space)
{
	int rc = ahvl_request_new(q, AHV_WIRE_HASH_SHA256);
	if (!rc)
		rc = ahvl_request_set_nonce(*q, nonce, nl);
	if (!rc && (rc = ahvl_request_add_range(*q, addr, size, space, NULL, NULL)) > 0)
		rc = AHVL_E_INTERNAL; /* not region 0 */
	return rc;
}

/* One hostile request: a single region; the hypervisor must answer want
 * with RCX = the region's address and RDX = 0 (region 0). */
static void hostile(ahvl_ctx *ctx, const char *name, uint64_t addr, uint64_t size, uint32_t space,
		    uint32_t want, const uint8_t *nonce, size_t nl)
{
	ahvl_request *req = NULL;
	struct ahvl_evidence ev = {0};
	uint32_t st = 0;
	uint64_t rdx = ~0ull;
	int rc = request1(&req, nonce, nl, addr, size, space);
	if (!rc)
		rc = ahvl_attest(ctx, req, key, AHVL_ATTEST_NO_RETRY, &ev);
	uint64_t rcx = ~0ull;
	int calls = ahvl_ctx_last_call(ctx, &st, NULL, &rcx, &rdx);
	/* the region's first page fails: RCX = its address (protocol.md §4.3) */
	check(rc == AHVL_E_HYPERCALL && calls == 1 && st == want && rcx == addr && rdx == 0, name, st, want);
	if (rc != AHVL_E_HYPERCALL)
		printf("AHV-LINUX: %s: %s\n", name, ahvl_error_detail());
	ahvl_evidence_clear(&ev);
	ahvl_request_free(req);
}

/* ---- raw calls: buffers where the library would never put them ---------- */

/* The library's signed bytes of a one-region GVA request. */
static int encode1(const uint8_t *nonce, size_t nl, uintptr_t addr, uint64_t size, uint8_t **enc, size_t *el)
{
	ahvl_request *q = NULL;
	int rc = request1(&q, nonce, nl, addr, size, AHV_SPACE_GVA);
	if (!rc)
		rc = ahvl_request_encode(q, key, enc, el);
	ahvl_request_free(q);
	return rc;
}

static struct ahvl_regs raw_call(uint32_t backend, uint64_t fn, const void *b, uint64_t len, void *out, uint64_t cap)
{
	struct ahvl_regs r = {fn, (uintptr_t)b, len, (uintptr_t)out, cap};
	ahvl_transport_native()->hypercall(NULL, backend, &r);
	return r;
}

/* Attest [addr, addr + size) through the library; the region's digest. */
static int attest_digest(ahvl_ctx *ctx, uintptr_t addr, uint64_t size, const uint8_t *nonce, size_t nl,
			 uint8_t digest[32], uint32_t *st)
{
	ahvl_request *q = NULL;
	struct ahvl_evidence ev = {0};
	int rc = request1(&q, nonce, nl, addr, size, AHV_SPACE_GVA);
	if (!rc)
		rc = ahvl_attest(ctx, q, key, AHVL_ATTEST_NO_RETRY, &ev);
	*st = ~0u;
	ahvl_ctx_last_call(ctx, st, NULL, NULL, NULL);
	if (!rc && ev.report_len == AHV_REPORT_SIZE(1))
		memcpy(digest, ((const struct ahv_region_result *)(ev.report + AHV_REPORT_RESULT_OFFSET(0)))->digest, 32);
	else if (!rc)
		rc = AHVL_E_BAD_RESPONSE;
	if (rc)
		printf("AHV-LINUX: attest of %p+%llu: %s\n", (void *)addr, (unsigned long long)size, ahvl_error_detail());
	ahvl_evidence_clear(&ev);
	ahvl_request_free(q);
	return rc;
}

/* ---- protection keys at CPL3 (protocol.md §4.3, §4.4) --------------------- */

#define CPUID7_ECX_PKU (1u << 3)   /* CPUID.(EAX=07H,ECX=0):ECX[3] (SDM Vol. 2A CPUID; APM Vol. 3 E.3.6) */
#define CPUID7_ECX_OSPKE (1u << 4) /* ECX[4]: CR4.PKE set by the OS */

/* The pkey cases, in the order they run; all skipped together. */
static const char *const pkey_case_names[] = {
	"pkey-access-disable",        "pkey-access-disable-1-byte", "pkey-access-disable-request",
	"pkey-access-disable-report", "pkey-write-disable-read",    "pkey-write-disable-request",
	"pkey-write-disable-report",  "pkey-write-disable-info",    "pkey-cleared",
	"pkey-cleared-report",
};

static const char *cpuinfo_has(const char *flag)
{
	char line[4096], want[64];
	const char *ans = "no";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return "unreadable";
	snprintf(want, sizeof want, " %s ", flag);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5))
			continue;
		line[strcspn(line, "\n")] = ' ';
		ans = strstr(line, want) ? "yes" : "no";
		break;
	}
	fclose(f);
	return ans;
}

/* A protection key of our own, or -1 with the reason (the evidence the
 * host test shows: CPUID as the hypervisor passes it, the kernel's flags). */
static int pkey_probe(char *why, size_t n)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	if (__get_cpuid_max(0, NULL) >= 7)
		__cpuid_count(7, 0, a, b, c, d);
	int k = pkey_alloc(0, 0);
	int e = errno;
	snprintf(why, n, "CPUID.(EAX=7,ECX=0):ECX=0x%08x PKU[3]=%u OSPKE[4]=%u; /proc/cpuinfo pku=%s ospke=%s; pkey_alloc: %s",
		 c, !!(c & CPUID7_ECX_PKU), !!(c & CPUID7_ECX_OSPKE), cpuinfo_has("pku"), cpuinfo_has("ospke"),
		 k >= 0 ? "ok" : strerror(e));
	printf("AHV-LINUX: pkeys: %s\n", why);
	return k;
}

/* A raw call's answer against what protocol.md §4.4 / §5 says. */
static void check_raw(const char *name, struct ahvl_regs r, uint64_t st, uint64_t rcx, uint64_t rdx)
{
	check(r.rax == st && (st == AHV_OK || (r.rcx == rcx && r.rdx == rdx)), name, r.rax, st);
	if (r.rax != st || (st != AHV_OK && (r.rcx != rcx || r.rdx != rdx)))
		printf("AHV-LINUX: %s: RCX 0x%llx RDX 0x%llx, want 0x%llx 0x%llx\n", name, (unsigned long long)r.rcx,
		       (unsigned long long)r.rdx, (unsigned long long)rcx, (unsigned long long)rdx);
}

/* A page whose protection key denies access (AD) or writes (WD) in PKRU:
 * no digest of it, not as a region nor as the request; no report into it;
 * reads under WD alone are fine; with PKRU cleared again all of it is. */
static void pkey_cases(ahvl_ctx *ctx, uint32_t backend, const uint8_t *nonce, size_t nl)
{
	char why[400];
	int k = pkey_probe(why, sizeof why);
	if (k < 0) {
		for (size_t i = 0; i < sizeof pkey_case_names / sizeof *pkey_case_names; i++)
			printf("AHV-LINUX: case %s skipped (%s)\n", pkey_case_names[i], why);
		return;
	}
	const size_t ps = 4096;
	/* pg: measured and the report target; pq: the request; rp: a normal report buffer */
	uint8_t *pg = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	uint8_t *enc = NULL, want[32], got[32];
	size_t el = 0;
	uint32_t st;
	if (pg == MAP_FAILED || encode1(nonce, nl, (uintptr_t)data_buf, 16, &enc, &el) || el > ps) {
		check(0, "pkey-setup", 0, 0);
		return;
	}
	uint8_t *pq = pg + ps, *rp = pg + 2 * ps;
	for (size_t i = 0; i < ps; i++)
		pg[i] = (uint8_t)(i * 7 + 3);
	memcpy(pq, enc, el);
	memset(rp, 0, ps);
	SHA256(pg, ps, want);
	mlock(pg, 3 * ps);
	mlock(data_buf, 16);
	int ok = !pkey_mprotect(pg, 2 * ps, PROT_READ | PROT_WRITE, k);
	if (!ok)
		printf("AHV-LINUX: pkey_mprotect: %s\n", strerror(errno));
	check(ok, "pkey-setup", 0, 0);
	if (!ok)
		goto out;

	/* (1) PKRU.AD: AHV_E_NOT_USER, for a region (even 1 byte: no digest
	 * oracle), the request buffer and the report buffer. */
	pkey_set(k, PKEY_DISABLE_ACCESS);
	hostile(ctx, "pkey-access-disable", (uintptr_t)pg, ps, AHV_SPACE_GVA, AHV_E_NOT_USER, nonce, nl);
	hostile(ctx, "pkey-access-disable-1-byte", (uintptr_t)pg + 7, 1, AHV_SPACE_GVA, AHV_E_NOT_USER, nonce, nl);
	check_raw("pkey-access-disable-request", raw_call(backend, AHV_HC_ATTEST_GUEST_MEMORY, pq, el, rp, ps),
		  AHV_E_NOT_USER, (uintptr_t)pq, AHV_OBJ_REQUEST_BUFFER);
	memcpy(rp, enc, el);
	check_raw("pkey-access-disable-report", raw_call(backend, AHV_HC_ATTEST_GUEST_MEMORY, rp, el, pg, ps),
		  AHV_E_NOT_USER, (uintptr_t)pg, AHV_OBJ_OUTPUT_BUFFER);

	/* (2) PKRU.WD only: reads go through (the region, the request), the
	 * report and GET_INFO writes do not (AHV_E_NOT_WRITABLE) and leave the
	 * page as it was. */
	pkey_set(k, PKEY_DISABLE_WRITE);
	int rc = attest_digest(ctx, (uintptr_t)pg, ps, nonce, nl, got, &st);
	check(!rc && !memcmp(got, want, 32), "pkey-write-disable-read", st, AHV_OK);
	memset(rp, 0, ps);
	struct ahvl_regs r = raw_call(backend, AHV_HC_ATTEST_GUEST_MEMORY, pq, el, rp, ps);
	check_raw("pkey-write-disable-request", r, AHV_OK, 0, 0);
	if (r.rax == AHV_OK && (r.rbx != AHV_REPORT_SIZE(1) || ahv_le32_get(rp) != AHV_REPORT_MAGIC))
		check(0, "pkey-write-disable-request-report", r.rbx, AHV_REPORT_SIZE(1));
	memcpy(rp, enc, el);
	r = raw_call(backend, AHV_HC_ATTEST_GUEST_MEMORY, rp, el, pg, ps);
	SHA256(pg, ps, got);
	check_raw("pkey-write-disable-report", r, AHV_E_NOT_WRITABLE, (uintptr_t)pg, AHV_OBJ_OUTPUT_BUFFER);
	check(!memcmp(got, want, 32), "pkey-write-disable-report-unchanged", 0, 0);
	r = raw_call(backend, AHV_HC_GET_INFO, pg, AHV_HV_INFO_SIZE, NULL, 0);
	SHA256(pg, ps, got);
	check_raw("pkey-write-disable-info", r, AHV_E_NOT_WRITABLE, (uintptr_t)pg, AHV_OBJ_OUTPUT_BUFFER);
	check(!memcmp(got, want, 32), "pkey-write-disable-info-unchanged", 0, 0);

	/* (3) PKRU cleared for the key: the page attests, and takes a report. */
	pkey_set(k, 0);
	SHA256(pg, ps, got);
	check(!memcmp(got, want, 32), "pkey-cleared-unchanged", 0, 0);
	rc = attest_digest(ctx, (uintptr_t)pg, ps, nonce, nl, got, &st);
	check(!rc && !memcmp(got, want, 32), "pkey-cleared", st, AHV_OK);
	r = raw_call(backend, AHV_HC_ATTEST_GUEST_MEMORY, rp, el, pg, ps);
	check_raw("pkey-cleared-report", r, AHV_OK, 0, 0);
	check(r.rax != AHV_OK || ahv_le32_get(pg) == AHV_REPORT_MAGIC, "pkey-cleared-report-written", r.rbx,
	      AHV_REPORT_SIZE(1));
out:
	munmap(pg, 3 * ps);
	pkey_free(k);
	free(enc);
}

/* ---- the report page's Dirty flag (protocol.md §4.4) ---------------------- */

/* Shared_Dirty + Private_Dirty in kB of the mapping that starts at p
 * (/proc/self/smaps), -1 if none does. The kernel counts a page dirty when
 * the Dirty flag of its PTE is set (pte_dirty) or the page cache page is
 * marked dirty (a write(2) to the file, which nothing here does). */
static long smaps_dirty_kb(const void *p)
{
	char line[512];
	unsigned long lo, hi;
	long kb = -1, v;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			if (in)
				break;
			in = lo == (uintptr_t)p;
			kb = in ? 0 : -1;
		} else if (in && (sscanf(line, "Shared_Dirty: %ld kB", &v) == 1 ||
				  sscanf(line, "Private_Dirty: %ld kB", &v) == 1)) {
			kb += v;
		}
	}
	fclose(f);
	return kb;
}

/* A report written into a page whose PTE is writable and clean leaves the
 * PTE dirty, as the CPU's own write would (§4.4), and a measured page stays
 * clean (reads set no flag, §4.3). Pages of a memfd mapped shared: a read
 * fault maps them writable and clean (shmem asks for no write
 * notification), so only a write through the page tables - the CPU's or the
 * hypervisor's - sets the flag; /proc/self/smaps shows it. */
static void dirty_case(uint32_t backend, const uint8_t *nonce, size_t nl)
{
	const size_t ps = 4096;
	int fr = memfd_create("ahv-report", 0), fm = memfd_create("ahv-region", 0);
	uint8_t *rpg = MAP_FAILED, *mpg = MAP_FAILED, *enc = NULL;
	uint8_t *rq = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	size_t el = 0;
	if (fr >= 0 && fm >= 0 && !ftruncate(fr, ps) && !ftruncate(fm, ps)) {
		rpg = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fr, 0);
		mpg = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fm, 0);
	}
	if (rq == MAP_FAILED || rpg == MAP_FAILED || mpg == MAP_FAILED ||
	    encode1(nonce, nl, (uintptr_t)mpg, 64, &enc, &el) || el > ps) {
		printf("AHV-LINUX: report-dirty setup: %s\n", strerror(errno));
		check(0, "report-dirty", 0, 0);
	} else {
		memcpy(rq, enc, el);
		(void)*(volatile uint8_t *)rpg; /* read faults: present, clean */
		(void)*(volatile uint8_t *)mpg;
		long r0 = smaps_dirty_kb(rpg), m0 = smaps_dirty_kb(mpg);
		struct ahvl_regs r = raw_call(backend, AHV_HC_ATTEST_GUEST_MEMORY, rq, el, rpg, ps);
		long r1 = smaps_dirty_kb(rpg), m1 = smaps_dirty_kb(mpg);
		printf("AHV-LINUX: report-dirty: status 0x%llx; report page %ld kB dirty before, %ld kB after; "
		       "measured page %ld kB before, %ld kB after (smaps)\n",
		       (unsigned long long)r.rax, r0, r1, m0, m1);
		if (r0 != 0 || m0 != 0)
			printf("AHV-LINUX: case report-dirty skipped (a page was dirty before the call)\n");
		else
			check(r.rax == AHV_OK && ahv_le32_get(rpg) == AHV_REPORT_MAGIC && r1 == (long)(ps / 1024) &&
				      m1 == 0,
			      "report-dirty", r.rax, AHV_OK);
	}
	free(enc);
	if (rq != MAP_FAILED)
		munmap(rq, ps);
	if (rpg != MAP_FAILED)
		munmap(rpg, ps);
	if (mpg != MAP_FAILED)
		munmap(mpg, ps);
	if (fr >= 0)
		close(fr);
	if (fm >= 0)
		close(fm);
}

/* Demo: challenge -> attest -> submit -> token checked against the JWKS. */
static int run_verifier(ahvl_ctx *ctx, const char *url, const char *issuer, int tries)
{
	ahvl_verifier *v;
	char jwks[600];
	/* a local test over QEMU's user network: the explicit http:// opt-out,
	 * the JWKS from the same test verifier, its issuer given by the host */
	snprintf(jwks, sizeof jwks, "%s/v1/jwks", url);
	if (ahvl_verifier_new_insecure_http(&v, url) || ahvl_verifier_set_issuer(v, issuer) ||
	    ahvl_verifier_set_jwks_url(v, jwks)) {
		printf("AHV-LINUX: FAIL verifier %s: %s\n", url, ahvl_error_detail());
		return 1;
	}
	for (int t = 0; t < tries; t++) {
		uint8_t nonce[AHV_NONCE_MAX];
		size_t nl;
		char nh[2 * AHV_NONCE_MAX + 1];
		if (ahvl_verifier_challenge(v, nonce, sizeof nonce, &nl)) {
			if (t % 10 == 0)
				printf("AHV-LINUX: no challenge yet (%s); retrying\n", ahvl_error_detail());
			sleep(1);
			continue;
		}
		ahv_hex_encode(nh, nonce, nl);
		printf("AHV-LINUX: challenge %s\n", nh);
		ahvl_request *req = NULL;
		struct ahvl_evidence ev = {0};
		char *token = NULL, *claims = NULL;
		int rc = good_request(&req, nonce, nl);
		if (!rc)
			rc = ahvl_attest(ctx, req, key, 0, &ev);
		if (rc) {
			printf("AHV-LINUX: FAIL attest for the verifier: %s\n", ahvl_error_detail());
			ahvl_request_free(req);
			ahvl_verifier_free(v);
			return 1;
		}
		rc = ahvl_verifier_submit(v, &ev, req, &token);
		if (!rc)
			rc = ahvl_token_verify(v, token, NULL, nonce, nl, &claims);
		if (!rc) {
			json_t *c = json_loads(claims, 0, NULL);
			json_t *rs = json_object_get(c, "regions");
			const char *rv = json_string_value(json_object_get(json_array_get(rs, 0), "verdict"));
			printf("AHV-LINUX: verifier verdict: accept (token ES256 checked against the verifier's JWKS, "
			       "verdict %s, region .text %s), decision %s\n",
			       json_string_value(json_object_get(c, "verdict")), rv ? rv : "?",
			       json_string_value(json_object_get(c, "jti")));
			printf("AHV-LINUX-TOKEN %s\n", token);
			json_decref(c);
			free(claims);
			free(token);
			ahvl_evidence_clear(&ev);
			ahvl_request_free(req);
			ahvl_verifier_free(v);
			return 0;
		}
		const char *code = ahvl_verifier_error_code(v);
		printf("AHV-LINUX: verifier refused (%s%s%s); retrying\n", code ? code : "", code ? ": " : "",
		       ahvl_error_detail());
		free(token);
		ahvl_evidence_clear(&ev);
		ahvl_request_free(req);
		sleep(2);
	}
	ahvl_verifier_free(v);
	printf("AHV-LINUX: FAIL no token from %s after %d tries\n", url, tries);
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *nonce_hex = NULL, *verifier = NULL, *issuer = "attest-verifier";
	int tries = 60;
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s GUEST_KEY.pem [--nonce HEX] [--verifier URL [--issuer ISS] [--tries N]]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--nonce"))
			nonce_hex = argv[i + 1];
		else if (!strcmp(argv[i], "--verifier"))
			verifier = argv[i + 1];
		else if (!strcmp(argv[i], "--issuer"))
			issuer = argv[i + 1];
		else if (!strcmp(argv[i], "--tries"))
			tries = atoi(argv[i + 1]);
	}
	ahvl_ctx *ctx, *lctx;
	struct ahvl_hv_identity id;
	if (ahvl_ctx_new(&ctx, NULL) || ahvl_ctx_new(&lctx, &liar)) {
		printf("AHV-LINUX: FAIL %s\n", ahvl_error_detail());
		return 1;
	}
	ahvl_ctx_set_log(ctx, log_line, NULL);
	/* Discovery (protocol.md §2) */
	if (ahvl_detect(ctx, &id)) {
		printf("AHV-LINUX: FAIL attest-hv not found: %s\n", ahvl_error_detail());
		return 1;
	}
	/* Either back end: the library chose VMCALL or VMMCALL from CPUID
	 * (protocol.md §2); the host test checks the report's backend field
	 * against the emulator it ran. */
	printf("AHV-LINUX: discovery ok: AttestHVisor wire %x features %x backend %u (%s) (libattest-hv %s)\n",
	       (unsigned)id.wire_major << 16 | id.wire_minor, id.features, id.backend,
	       id.backend == AHV_BACKEND_VMX ? "vmx" : "svm", ahvl_version());
	if (ahvl_signer_from_file(&key, argv[1], NULL)) {
		printf("AHV-LINUX: FAIL cannot read the guest key %s: %s\n", argv[1], ahvl_error_detail());
		return 1;
	}
	for (size_t i = 0; i < sizeof(data_buf); i++)
		data_buf[i] = (uint8_t)(i ^ 0x5c);

	/* GET_INFO from CPL3 */
	struct ahv_hv_info info;
	uint32_t st = 0;
	uint64_t rbx = 0;
	int rc = ahvl_get_info(ctx, &info);
	ahvl_ctx_last_call(ctx, &st, &rbx, NULL, NULL);
	check(rc == AHVL_OK && st == AHV_OK && rbx == AHV_HV_INFO_SIZE, "get-info-cpl3", st, AHV_OK);

	/* The good attestation: own .text + the data buffer. */
	uint8_t nonce[AHV_NONCE_MAX];
	size_t nl = 32;
	if (nonce_hex) {
		long n = ahv_hex_decode(nonce_hex, strlen(nonce_hex), nonce, sizeof nonce);
		if (n < AHV_NONCE_MIN) {
			printf("AHV-LINUX: FAIL bad --nonce\n");
			return 1;
		}
		nl = (size_t)n;
	} else {
		FILE *r = fopen("/dev/urandom", "rb");
		if (!r || fread(nonce, 1, nl, r) != nl) {
			printf("AHV-LINUX: FAIL no randomness\n");
			return 1;
		}
		fclose(r);
	}
	ahvl_request *req = NULL;
	struct ahvl_evidence ev = {0};
	rc = good_request(&req, nonce, nl);
	if (!rc)
		rc = ahvl_attest(ctx, req, key, 0, &ev);
	ahvl_ctx_last_call(ctx, &st, NULL, NULL, NULL);
	if (rc)
		printf("AHV-LINUX: attest: %s\n", ahvl_error_detail());
	int ok = rc == AHVL_OK && ev.report_len == AHV_REPORT_SIZE(2) &&
		 ev.report[offsetof(struct ahv_report_hdr, caller_cpl)] == 3;
	uint8_t d0[32], d1[32];
	uint64_t taddr = 0, tsize = 0;
	if (ok) {
		const struct ahv_region_result *rr = (const void *)(ev.report + AHV_REPORT_RESULT_OFFSET(0));
		taddr = rr[0].address;
		tsize = rr[0].size;
		/* What the hypervisor measured must equal what we read ourselves. */
		SHA256((const uint8_t *)(uintptr_t)taddr, tsize, d0);
		SHA256(data_buf, sizeof(data_buf), d1);
		ok = !memcmp(rr[0].digest, d0, 32) && !memcmp(rr[1].digest, d1, 32) &&
		     rr[1].address == (uintptr_t)data_buf && tsize > 0 &&
		     taddr <= (uintptr_t)main && (uintptr_t)main < taddr + tsize;
	}
	printf("AHV-LINUX: attested text %p+%llu and data %p+%zu: status 0x%llx\n", (void *)(uintptr_t)taddr,
	       (unsigned long long)tsize, (void *)data_buf, sizeof(data_buf), (unsigned long long)st);
	check(ok, "attest-own-text-and-data", st, AHV_OK);
	if (rc == AHVL_OK && !verifier) {
		hexline("AHV-LINUX-REPORT", ev.report, ev.report_len);
		hexline("AHV-LINUX-NONCE", nonce, nl);
		hexline("AHV-LINUX-DIGEST0", d0, 32);
		for (unsigned i = 0; i < 2; i++) {
			const struct ahv_region_result *r = (const void *)(ev.report + AHV_REPORT_RESULT_OFFSET(i));
			char dh[65];
			const char *nm = ahvl_request_region_name(req, i);
			ahv_hex_encode(dh, r->digest, 32);
			printf("AHV-LINUX-REGION %u %s 0x%llx %llu sha256:%s\n", i, *nm ? nm : "-",
			       (unsigned long long)r->address, (unsigned long long)r->size, dh);
		}
	}

	ahvl_evidence_clear(&ev);

	/* What a CPL3 caller must not do (protocol.md §4). */
	/* The IDT page of the cpu_entry_area: at a fixed address, kernel only,
	 * mapped in every address space (with or without PTI). */
	hostile(ctx, "cpl3-kernel-page", 0xfffffe0000000000ull, 64, AHV_SPACE_GVA, AHV_E_NOT_USER, nonce, nl);
	/* The library refuses a guest-physical region at CPL3 without a call... */
	{
		ahvl_request *g = NULL;
		ahvl_request_new(&g, AHV_WIRE_HASH_SHA256);
		ahvl_request_set_nonce(g, nonce, nl);
		ahvl_request_add_range(g, 0x100000, 64, AHV_SPACE_GPA, NULL, NULL);
		rc = ahvl_attest(ctx, g, key, 0, &ev);
		int calls = ahvl_ctx_last_call(ctx, NULL, NULL, NULL, NULL);
		check(rc == AHVL_E_PRIVILEGE && calls == 0, "cpl3-gpa-refused-by-library", (uint64_t)-rc,
		      (uint64_t)-AHVL_E_PRIVILEGE);
		ahvl_request_free(g);
	}
	/* ... and the hypervisor refuses it when a caller lies about its CPL. */
	hostile(lctx, "cpl3-gpa-region", 0x100000, 64, AHV_SPACE_GPA, AHV_E_PRIVILEGE, nonce, nl);
	hostile(ctx, "cpl3-unmapped-user-page", 0x10000, 64, AHV_SPACE_GVA, AHV_E_NOT_PRESENT, nonce, nl);
	hostile(ctx, "cpl3-noncanonical", 0x0000800000000000ull, 64, AHV_SPACE_GVA, AHV_E_NONCANONICAL, nonce, nl);
	/* The library retries NOT_PRESENT once (the page stays absent here). */
	{
		ahvl_request *u = NULL;
		ahvl_request_new(&u, AHV_WIRE_HASH_SHA256);
		ahvl_request_set_nonce(u, nonce, nl);
		ahvl_request_add_range(u, 0x10000, 64, AHV_SPACE_GVA, NULL, NULL);
		ahvl_ctx_set_log(ctx, NULL, NULL);
		rc = ahvl_attest(ctx, u, key, 0, &ev);
		ahvl_ctx_set_log(ctx, log_line, NULL);
		int calls = ahvl_ctx_last_call(ctx, &st, NULL, NULL, NULL);
		check(rc == AHVL_E_HYPERCALL && st == AHV_E_NOT_PRESENT && calls == 2, "cpl3-not-present-retried-once",
		      st, AHV_E_NOT_PRESENT);
		ahvl_request_free(u);
	}
	/* A read-only report buffer: the library always passes its own
	 * writable buffer, so this one is a raw hypercall with the library's
	 * signed request bytes. */
	{
		uint8_t *enc = NULL;
		size_t el = 0;
		rc = encode1(nonce, nl, (uintptr_t)data_buf, 16, &enc, &el);
		uint8_t *rq = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		uint8_t *ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		struct ahvl_regs r = {0};
		if (!rc && rq != MAP_FAILED && ro != MAP_FAILED && el <= 8192) {
			memcpy(rq, enc, el);
			memset(ro, 0, 8192);
			mprotect(ro, 8192, PROT_READ);
			mlock(rq, 8192);
			mlock(ro, 8192);
			mlock(data_buf, 16);
			r = raw_call(id.backend, AHV_HC_ATTEST_GUEST_MEMORY, rq, el, ro, 8192);
		}
		check(r.rax == AHV_E_NOT_WRITABLE && r.rdx == AHV_OBJ_OUTPUT_BUFFER, "cpl3-readonly-report", r.rax,
		      AHV_E_NOT_WRITABLE);
		free(enc);
	}
	/* Protection keys at CPL3 (issue 14 item 10), and the report page's
	 * Dirty flag. */
	pkey_cases(ctx, id.backend, nonce, nl);
	dirty_case(id.backend, nonce, nl);

	if (fails)
		printf("AHV-LINUX: FAIL %d of %d checks\n", fails, checks);
	else
		printf("AHV-LINUX: PASS %d checks\n", checks);
	ahvl_evidence_clear(&ev);
	ahvl_request_free(req);
	if (!fails && verifier)
		fails = run_verifier(ctx, verifier, issuer, tries);
	ahvl_signer_free(key);
	ahvl_ctx_free(lctx);
	ahvl_ctx_free(ctx);
	return fails != 0;
}
