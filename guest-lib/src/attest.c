/* attest.c - the context, the native transport, discovery, GET_INFO and
 * ATTEST_GUEST_MEMORY with residency and retries. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- native transport ----------------------------------------------------- */
static void native_cpuid(void *user, uint32_t leaf, uint32_t out[4])
{
	(void)user;
	__cpuid_count(leaf, 0, out[0], out[1], out[2], out[3]);
}

/* protocol.md §3.1: RAX function, RBX/RCX/RDX/RSI arguments; RAX status,
 * RBX/RCX/RDX results; everything else preserved. "memory": the hypervisor
 * writes the output buffer. */
static void native_hypercall(void *user, uint32_t backend, struct ahvl_regs *r)
{
	uint64_t a = r->rax, b = r->rbx, c = r->rcx, d = r->rdx, si = r->rsi;
	(void)user;
	if (backend == AHV_BACKEND_VMX)
		__asm__ volatile("vmcall"
				 : "+a"(a), "+b"(b), "+c"(c), "+d"(d)
				 : "S"(si)
				 : "memory", "cc");
	else
		__asm__ volatile("vmmcall"
				 : "+a"(a), "+b"(b), "+c"(c), "+d"(d)
				 : "S"(si)
				 : "memory", "cc");
	r->rax = a;
	r->rbx = b;
	r->rcx = c;
	r->rdx = d;
}

static int native_cpl(void *user)
{
	uint16_t cs;
	(void)user;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static const struct ahvl_transport native = {
	.cpuid = native_cpuid,
	.hypercall = native_hypercall,
	.cpl = native_cpl,
};

const struct ahvl_transport *ahvl_transport_native(void)
{
	return &native;
}

/* ---- context ------------------------------------------------------------------ */
int ahvl_ctx_new(ahvl_ctx **out, const struct ahvl_transport *t)
{
	if (!out)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	if (!t)
		t = &native;
	if (!t->cpuid || !t->hypercall)
		return ahvl_fail(AHVL_E_INVALID, "transport without cpuid or hypercall");
	ahvl_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	c->t = *t;
	*out = c;
	return AHVL_OK;
}

void ahvl_ctx_free(ahvl_ctx *ctx)
{
	free(ctx);
}

void ahvl_ctx_set_log(ahvl_ctx *ctx, ahvl_log_fn fn, void *user)
{
	if (ctx) {
		ctx->log = fn;
		ctx->log_user = user;
	}
}

void ahvl_log(const ahvl_ctx *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (!ctx->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ctx->log(ctx->log_user, line);
}

int ahvl_ctx_last_call(const ahvl_ctx *ctx, uint32_t *status, uint64_t *rbx,
		       uint64_t *rcx, uint64_t *rdx)
{
	if (!ctx)
		return 0;
	if (status)
		*status = (uint32_t)ctx->last.rax;
	if (rbx)
		*rbx = ctx->last.rbx;
	if (rcx)
		*rcx = ctx->last.rcx;
	if (rdx)
		*rdx = ctx->last.rdx;
	return ctx->last_calls;
}

static int cpl_of(const ahvl_ctx *ctx)
{
	return ctx->t.cpl ? ctx->t.cpl(ctx->t.user) : 3;
}

/* ---- discovery (protocol.md §2) ------------------------------------------- */
int ahvl_detect(ahvl_ctx *ctx, struct ahvl_hv_identity *id)
{
	uint32_t r[4];
	if (!ctx)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	ctx->detected = false;
	ctx->t.cpuid(ctx->t.user, 1, r);
	if (!(r[2] & (1u << 31)))
		return ahvl_fail(AHVL_E_NO_HYPERVISOR,
				 "CPUID.1:ECX[31] is clear: no hypervisor (bare metal)");
	ctx->t.cpuid(ctx->t.user, AHV_CPUID_LEAF_SIGNATURE, r);
	if (r[1] != AHV_CPUID_SIG_EBX || r[2] != AHV_CPUID_SIG_ECX ||
	    r[3] != AHV_CPUID_SIG_EDX) {
		char sig[13];
		memcpy(sig, &r[1], 4);
		memcpy(sig + 4, &r[2], 4);
		memcpy(sig + 8, &r[3], 4);
		for (int i = 0; i < 12; i++)
			if (sig[i] < 0x20 || sig[i] > 0x7e)
				sig[i] = '.';
		sig[12] = 0;
		return ahvl_fail(AHVL_E_NO_HYPERVISOR,
				 "hypervisor signature is \"%s\", not \"AttestHVisor\"", sig);
	}
	if (r[0] < AHV_CPUID_MAX_LEAF || r[0] > 0x400000ffu)
		return ahvl_fail(AHVL_E_NO_HYPERVISOR,
				 "CPUID 0x40000000 max leaf 0x%x < 0x40000001", r[0]);
	struct ahvl_hv_identity me = {.max_leaf = r[0]};
	ctx->t.cpuid(ctx->t.user, AHV_CPUID_LEAF_FEATURES, r);
	me.wire_major = (uint16_t)(r[0] >> 16);
	me.wire_minor = (uint16_t)r[0];
	me.features = r[1];
	me.hv_version = r[2];
	me.backend = r[3];
	if (me.wire_major != AHV_WIRE_VERSION_MAJOR)
		return ahvl_fail(AHVL_E_UNSUPPORTED,
				 "attest-hv speaks wire version %u.%u; this library speaks %u.x",
				 me.wire_major, me.wire_minor, AHV_WIRE_VERSION_MAJOR);
	if (me.backend != AHV_BACKEND_VMX && me.backend != AHV_BACKEND_SVM)
		return ahvl_fail(AHVL_E_UNSUPPORTED,
				 "unknown back end %u in CPUID 0x40000001 EDX: no hypercall is safe",
				 me.backend);
	ctx->id = me;
	ctx->detected = true;
	if (id)
		*id = me;
	return AHVL_OK;
}

static int ensure_detected(ahvl_ctx *ctx)
{
	return ctx->detected ? AHVL_OK : ahvl_detect(ctx, NULL);
}

/* ---- buffers and residency -------------------------------------------------- */
struct lockset {
	struct {
		uintptr_t lo, len;
	} r[AHV_MAX_REGIONS + 2];
	unsigned n;
};

static long page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? p : 4096;
}

/* Read one byte of every page of [addr, addr + size) through the kernel
 * (process_vm_readv on ourselves): the pages are faulted in, and a hole or a
 * PROT_NONE page gives EFAULT instead of SIGSEGV. Returns the number of
 * pages that could not be read. */
static size_t prefault(uintptr_t addr, uint64_t size)
{
	if (!size)
		return 0;
	uintptr_t ps = (uintptr_t)page_size();
	uintptr_t first = addr & ~(ps - 1);
	uint64_t npages = ((uint64_t)(addr - first) + size - 1) / ps + 1;
	size_t bad = 0;
	struct iovec rem[64];
	char sink[64];
	for (uint64_t p = 0; p < npages;) {
		unsigned k = 0;
		for (; k < 64 && p + k < npages; k++) {
			uintptr_t a = first + (uintptr_t)(p + k) * ps;
			rem[k].iov_base = (void *)(a < addr ? addr : a);
			rem[k].iov_len = 1;
		}
		struct iovec loc = {.iov_base = sink, .iov_len = k};
		ssize_t got = process_vm_readv(getpid(), &loc, 1, rem, k, 0);
		if (got < (ssize_t)k) {
			/* It stops at the first bad page: the rest one by one. */
			for (unsigned i = got > 0 ? (unsigned)got : 0; i < k; i++) {
				struct iovec l1 = {.iov_base = sink, .iov_len = 1};
				if (process_vm_readv(getpid(), &l1, 1, &rem[i], 1, 0) != 1)
					bad++;
			}
		}
		p += k;
	}
	return bad;
}

static int make_resident(ahvl_ctx *ctx, struct lockset *ls, uintptr_t addr,
			 uint64_t size, unsigned flags, const char *what)
{
	if (!size)
		return AHVL_OK;
	size_t bad = prefault(addr, size);
	if (bad)
		ahvl_log(ctx, "%s: %zu page(s) at 0x%llx+0x%llx are not readable in this process",
			 what, bad, (unsigned long long)addr, (unsigned long long)size);
	uintptr_t ps = (uintptr_t)page_size();
	uintptr_t lo = addr & ~(ps - 1);
	uintptr_t len = ((addr + size - lo) + ps - 1) & ~(ps - 1);
	if (mlock((void *)lo, len) == 0) {
		ls->r[ls->n].lo = lo;
		ls->r[ls->n].len = len;
		ls->n++;
		return AHVL_OK;
	}
	int e = errno;
	if (flags & AHVL_ATTEST_REQUIRE_LOCK)
		return ahvl_fail(AHVL_E_RESIDENCY, "mlock of %s (0x%llx+0x%llx): %s", what,
				 (unsigned long long)lo, (unsigned long long)len, strerror(e));
	ahvl_log(ctx, "mlock of %s failed (%s); relying on the pre-fault", what, strerror(e));
	return AHVL_OK;
}

static void unlock_all(struct lockset *ls, unsigned flags, unsigned keep_from)
{
	for (unsigned i = 0; i < ls->n; i++)
		if (!(flags & AHVL_ATTEST_KEEP_LOCKED) || i < keep_from)
			munlock((void *)ls->r[i].lo, ls->r[i].len);
	ls->n = 0;
}

static uint8_t *page_buf(size_t len, size_t *maplen)
{
	size_t ps = (size_t)page_size();
	*maplen = (len + ps - 1) & ~(ps - 1);
	void *p = mmap(NULL, *maplen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, *maplen); /* write-touch every page (protocol.md §4.4) */
	return p;
}

static void call(ahvl_ctx *ctx, struct ahvl_regs *r)
{
	ctx->t.hypercall(ctx->t.user, ctx->id.backend, r);
	ctx->last = *r;
	ctx->last_calls++;
}

static int status_fail(const ahvl_ctx *ctx, const ahvl_request *req)
{
	uint32_t st = (uint32_t)ctx->last.rax;
	const char *nm = ahvl_status_name(st);
	uint64_t obj = ctx->last.rdx, addr = ctx->last.rcx;
	char where[160] = "";
	if (obj < AHV_MAX_REGIONS)
		snprintf(where, sizeof where, "; region %llu%s%s%s at 0x%llx",
			 (unsigned long long)obj,
			 req && obj < req->n && req->r[obj].name[0] ? " (" : "",
			 req && obj < req->n ? req->r[obj].name : "",
			 req && obj < req->n && req->r[obj].name[0] ? ")" : "",
			 (unsigned long long)addr);
	else if (obj == AHV_OBJ_REQUEST_BUFFER)
		snprintf(where, sizeof where, "; request buffer at 0x%llx", (unsigned long long)addr);
	else if (obj == AHV_OBJ_REQUEST_FIELD)
		snprintf(where, sizeof where, "; request field at offset %llu", (unsigned long long)addr);
	else if (obj == AHV_OBJ_OUTPUT_BUFFER)
		snprintf(where, sizeof where, "; output buffer at 0x%llx", (unsigned long long)addr);
	return ahvl_fail(AHVL_E_HYPERCALL, "hypervisor status %s (0x%02x): %s%s",
			 nm ? nm : "unknown", st, ahvl_status_message(st), where);
}

int ahvl_get_info(ahvl_ctx *ctx, struct ahv_hv_info *info)
{
	if (!ctx || !info)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	int rc = ensure_detected(ctx);
	if (rc)
		return rc;
	ctx->last_calls = 0;
	if (!(ctx->id.features & AHV_FEAT_GET_INFO))
		return ahvl_fail(AHVL_E_UNSUPPORTED, "AHV_FEAT_GET_INFO is clear");
	size_t ml;
	uint8_t *b = page_buf(AHV_HV_INFO_SIZE, &ml);
	if (!b)
		return ahvl_fail(AHVL_E_NOMEM, "mmap: %s", strerror(errno));
	bool locked = mlock(b, ml) == 0;
	struct ahvl_regs r = {.rax = AHV_HC_GET_INFO, .rbx = (uintptr_t)b,
			      .rcx = AHV_HV_INFO_SIZE};
	for (int tries = 0;; tries++) {
		call(ctx, &r);
		if (r.rax != AHV_E_BUSY || tries >= 3)
			break;
		r = (struct ahvl_regs){.rax = AHV_HC_GET_INFO, .rbx = (uintptr_t)b,
				       .rcx = AHV_HV_INFO_SIZE};
	}
	if (r.rax != AHV_OK)
		rc = status_fail(ctx, NULL);
	else if (r.rbx != AHV_HV_INFO_SIZE || ahv_le32_get(b) != AHV_INFO_MAGIC ||
		 ahv_le32_get(b + offsetof(struct ahv_hv_info, size)) != AHV_HV_INFO_SIZE)
		rc = ahvl_fail(AHVL_E_BAD_RESPONSE, "GET_INFO returned %llu bytes without a valid AHVI header",
			       (unsigned long long)r.rbx);
	else
		memcpy(info, b, sizeof *info);
	if (locked)
		munlock(b, ml);
	munmap(b, ml);
	return rc;
}

/* ---- attest -------------------------------------------------------------------- */
static int check_report(const ahvl_request *req, const uint8_t *rep, uint64_t got)
{
	size_t n = req->n, want = AHV_REPORT_SIZE(n);
	if (got != want)
		return ahvl_fail(AHVL_E_BAD_RESPONSE, "hypervisor wrote %llu bytes, expected %zu",
				 (unsigned long long)got, want);
	if (ahv_le32_get(rep) != AHV_REPORT_MAGIC ||
	    ahv_le32_get(rep + offsetof(struct ahv_report_hdr, total_size)) != want ||
	    ahv_le16_get(rep + offsetof(struct ahv_report_hdr, region_count)) != n ||
	    ahv_le16_get(rep + offsetof(struct ahv_report_hdr, hash_alg)) != req->hash_alg ||
	    ahv_le16_get(rep + offsetof(struct ahv_report_hdr, nonce_len)) != req->nonce_len ||
	    memcmp(rep + offsetof(struct ahv_report_hdr, nonce), req->nonce, AHV_NONCE_MAX))
		return ahvl_fail(AHVL_E_BAD_RESPONSE,
				 "the report does not echo the request (magic, size, count, hash or nonce)");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = rep + AHV_REPORT_RESULT_OFFSET(i);
		if (ahv_le64_get(p) != req->r[i].address || ahv_le64_get(p + 8) != req->r[i].size ||
		    ahv_le32_get(p + 16) != req->r[i].space)
			return ahvl_fail(AHVL_E_BAD_RESPONSE, "report region %zu does not echo the request", i);
	}
	return AHVL_OK;
}

void ahvl_evidence_clear(struct ahvl_evidence *ev)
{
	if (!ev)
		return;
	free(ev->request);
	free(ev->report);
	memset(ev, 0, sizeof *ev);
}

int ahvl_attest(ahvl_ctx *ctx, const ahvl_request *req, const ahvl_signer *s,
		unsigned flags, struct ahvl_evidence *ev)
{
	if (!ctx || !req || !s || !ev)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	memset(ev, 0, sizeof *ev);
	ctx->last_calls = 0;
	memset(&ctx->last, 0, sizeof ctx->last);
	int rc = ensure_detected(ctx);
	if (rc)
		return rc;
	if (!(ctx->id.features & AHV_FEAT_ATTEST))
		return ahvl_fail(AHVL_E_UNSUPPORTED,
				 "AHV_FEAT_ATTEST is clear: the hypervisor has no signing key");
	if (req->hash_alg >= AHV_WIRE_HASH_SHA3_256 && !(ctx->id.features & AHV_FEAT_SHA3))
		return ahvl_fail(AHVL_E_UNSUPPORTED, "the hypervisor offers no SHA-3 (AHV_FEAT_SHA3 clear)");
	int cpl = cpl_of(ctx);
	for (unsigned i = 0; i < req->n; i++) {
		if (req->r[i].space != AHV_SPACE_GPA)
			continue;
		if (cpl != 0)
			return ahvl_fail(AHVL_E_PRIVILEGE,
					 "region %u is guest-physical but calls are made at CPL%d", i, cpl);
		if (!(ctx->id.features & AHV_FEAT_GPA_REGIONS))
			return ahvl_fail(AHVL_E_UNSUPPORTED,
					 "region %u is guest-physical but AHV_FEAT_GPA_REGIONS is clear", i);
	}
	uint8_t *enc;
	size_t enc_len;
	if ((rc = ahvl_request_encode(req, s, &enc, &enc_len)))
		return rc;
	size_t rep_len = AHV_REPORT_SIZE(req->n), qml, pml;
	uint8_t *qb = page_buf(enc_len, &qml), *pb = page_buf(rep_len, &pml);
	struct lockset *ls = calloc(1, sizeof *ls);
	if (!qb || !pb || !ls) {
		rc = ahvl_fail(AHVL_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(qb, enc, enc_len);
	if ((rc = make_resident(ctx, ls, (uintptr_t)qb, enc_len, flags, "the request buffer")) ||
	    (rc = make_resident(ctx, ls, (uintptr_t)pb, rep_len, flags, "the report buffer")))
		goto out;
	unsigned regions_from = ls->n;
	for (unsigned i = 0; i < req->n && !rc; i++) {
		char what[96];
		if (req->r[i].space != AHV_SPACE_GVA)
			continue;
		snprintf(what, sizeof what, "region %u%s%s", i, req->r[i].name[0] ? " " : "",
			 req->r[i].name);
		rc = make_resident(ctx, ls, (uintptr_t)req->r[i].address, req->r[i].size, flags, what);
	}
	if (rc)
		goto out_unlock;
	bool retried_np = false;
	int busy = 0;
	for (;;) {
		struct ahvl_regs r = {.rax = AHV_HC_ATTEST_GUEST_MEMORY,
				      .rbx = (uintptr_t)qb, .rcx = enc_len,
				      .rdx = (uintptr_t)pb, .rsi = rep_len};
		call(ctx, &r);
		if (r.rax == AHV_OK)
			break;
		if (flags & AHVL_ATTEST_NO_RETRY)
			break;
		if (r.rax == AHV_E_NOT_PRESENT && !retried_np) {
			/* The page went away between our touch and the call (or
			 * was never touched): touch it again and retry once. */
			retried_np = true;
			uintptr_t a = (uintptr_t)r.rcx;
			ahvl_log(ctx, "AHV_E_NOT_PRESENT at 0x%llx (object 0x%llx): touching it and retrying once",
				 (unsigned long long)a, (unsigned long long)r.rdx);
			if (r.rdx == AHV_OBJ_OUTPUT_BUFFER && a >= (uintptr_t)pb && a < (uintptr_t)pb + pml)
				memset(pb + (a - (uintptr_t)pb), 0, 1);
			else
				prefault(a, 1);
			continue;
		}
		if (r.rax == AHV_E_BUSY && busy < 3) {
			busy++;
			ahvl_log(ctx, "AHV_E_BUSY: retry %d of 3", busy);
			nanosleep(&(struct timespec){.tv_nsec = 1000000L * busy}, NULL);
			continue;
		}
		break;
	}
	if (ctx->last.rax != AHV_OK) {
		rc = status_fail(ctx, req);
		goto out_unlock;
	}
	if ((rc = check_report(req, pb, ctx->last.rbx)))
		goto out_unlock;
	ev->report = malloc(rep_len);
	if (!ev->report) {
		rc = ahvl_fail(AHVL_E_NOMEM, "out of memory");
		goto out_unlock;
	}
	memcpy(ev->report, pb, rep_len);
	ev->report_len = rep_len;
	ev->request = enc;
	ev->request_len = enc_len;
	enc = NULL;
out_unlock:
	unlock_all(ls, flags, regions_from);
out:
	free(ls);
	free(enc);
	if (qb)
		munmap(qb, qml);
	if (pb)
		munmap(pb, pml);
	return rc;
}
