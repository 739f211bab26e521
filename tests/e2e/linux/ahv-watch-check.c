/*
 * ahv-watch-check.c - the Linux guest side of e2e-watch (docs/watch.md):
 *   1. START a watch over this program's .text and a 2-page data buffer;
 *      a CHECK after a clean interval says both unmodified, with the START
 *      digests;
 *   2. a write into the buffer's second page through /proc/self/mem (the
 *      kernel writes through its own mapping): the CHECK says the buffer
 *      was modified, at the guest-physical frame /proc/self/pagemap gives
 *      for that page; .text still unmodified;
 *   3. a write from another CPU (a thread pinned to the last CPU) into a
 *      second watch's page: its record names that CPU's APIC id and frame
 *      (skipped, and said so, with --one-cpu: a 1-CPU machine);
 *   4. a GVA remap: a third watch's page replaced by another populated
 *      page moved to the same address (mremap MREMAP_FIXED; the new frame
 *      exists before the old one is freed, so they differ): REMAPPED;
 *   5. END of each watch (state ENDED), after which its id is unknown.
 * Markers: AHV-WATCH: ... ; AHV-WATCH: FAIL ... on any failure; AHV-WATCH:
 * PASS at the end.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <attest-hv/attest.h>

#define PAGE 4096ul

static ahvl_signer *key;
static ahvl_ctx *ctx;
static int fails;

#define FAIL(...)                                                              \
	do {                                                                   \
		printf("AHV-WATCH: FAIL " __VA_ARGS__);                        \
		printf("\n");                                                  \
		fails++;                                                       \
	} while (0)

struct rep {
	uint8_t b[AHV_REPORT_MAX_SIZE];
	size_t len;
};

static const struct ahv_report_hdr *hdr(const struct rep *r)
{
	return (const struct ahv_report_hdr *)r->b;
}

static struct ahv_region_result result(const struct rep *r, unsigned i)
{
	struct ahv_region_result x;
	memcpy(&x, r->b + AHV_REPORT_RESULT_OFFSET(i), sizeof x);
	return x;
}

static struct ahv_watch_record record(const struct rep *r, unsigned i)
{
	struct ahv_region_result x = result(r, i);
	struct ahv_watch_record w;
	memcpy(&w, x.digest + AHV_WATCH_RECORD_OFFSET, sizeof w);
	return w;
}

/* One call with the request's watch set to (flags, arg); 0 and the report,
 * or the hypervisor's status (or -1 for a library failure). */
static int call(ahvl_request *req, uint32_t flags, uint64_t arg, struct rep *out)
{
	struct ahvl_evidence ev = {0};
	uint32_t st = 0;
	int rc = ahvl_request_random_nonce(req, 16);
	if (!rc)
		rc = ahvl_request_set_watch(req, flags, arg);
	for (int tries = 0; !rc && tries < 20; tries++) {
		rc = ahvl_attest(ctx, req, key, AHVL_ATTEST_KEEP_LOCKED, &ev);
		if (rc != AHVL_E_HYPERCALL)
			break;
		ahvl_ctx_last_call(ctx, &st, NULL, NULL, NULL);
		if (st != AHV_E_BUSY)
			return (int)st;
	}
	if (rc) {
		printf("AHV-WATCH: library: %s\n", ahvl_error_detail());
		return -1;
	}
	memcpy(out->b, ev.report, ev.report_len);
	out->len = ev.report_len;
	ahvl_evidence_clear(&ev);
	return 0;
}

/* Guest-physical frame of a virtual address (/proc/self/pagemap: bit 63
 * present, bits 54:0 the PFN; root only). */
static uint64_t frame_of(const void *va)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)va / PAGE * 8)) != 8)
		e = 0;
	if (fd >= 0)
		close(fd);
	return (e >> 63) ? (e & ((1ull << 55) - 1)) * PAGE : 0;
}

static uint32_t my_apic_id(void)
{
	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	(void)a, (void)c, (void)d;
	return b >> 24;
}

static ahvl_request *new_req(void)
{
	ahvl_request *req = NULL;
	if (ahvl_request_new(&req, AHV_WIRE_HASH_SHA256))
		return NULL;
	return req;
}

/* START a watch over req; its id, or 0. */
static uint32_t start(ahvl_request *req, struct rep *r, const char *what)
{
	int st = call(req, AHV_REQ_F_WATCH_START, 0, r);
	if (st) {
		FAIL("%s: START status 0x%x", what, st);
		return 0;
	}
	if (hdr(r)->watch_state != AHV_WATCH_ACTIVE || !hdr(r)->watch_id ||
	    hdr(r)->watch_since_counter != hdr(r)->counter) {
		FAIL("%s: START report state %u id %u since %llu counter %llu", what, hdr(r)->watch_state,
		     hdr(r)->watch_id, (unsigned long long)hdr(r)->watch_since_counter,
		     (unsigned long long)hdr(r)->counter);
		return 0;
	}
	printf("AHV-WATCH: %s: watch %u started at counter %llu\n", what, hdr(r)->watch_id,
	       (unsigned long long)hdr(r)->counter);
	return hdr(r)->watch_id;
}

/* END: the last report says ENDED, then the id is unknown. */
static void end(ahvl_request *req, uint32_t id, const char *what)
{
	struct rep r;
	int st = call(req, AHV_REQ_F_WATCH_CHECK | AHV_REQ_F_WATCH_END, id, &r);
	if (st || hdr(&r)->watch_state != AHV_WATCH_ENDED) {
		FAIL("%s: END status 0x%x state %u", what, st, st ? 0 : hdr(&r)->watch_state);
		return;
	}
	st = call(req, AHV_REQ_F_WATCH_CHECK, id, &r);
	if (st != AHV_E_WATCH_UNKNOWN)
		FAIL("%s: CHECK after END: status 0x%x, want WATCH_UNKNOWN", what, st);
	else
		printf("AHV-WATCH: %s: watch %u ended, then unknown ok\n", what, id);
}

struct writer {
	volatile uint8_t *p;
	int cpu;
	uint32_t apic;
};

static void *write_on_cpu(void *arg)
{
	struct writer *w = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set))
		return NULL;
	w->apic = my_apic_id();
	w->p[77] = 0xa5;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s KEYFILE [--one-cpu]\n", argv[0]);
		return 2;
	}
	int one_cpu = argc > 2 && !strcmp(argv[2], "--one-cpu");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ahvl_signer_from_file(&key, argv[1], NULL) || ahvl_ctx_new(&ctx, NULL)) {
		printf("AHV-WATCH: FAIL setup: %s\n", ahvl_error_detail());
		return 1;
	}
	uint8_t *data = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *other = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *moved = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED || other == MAP_FAILED || moved == MAP_FAILED) {
		printf("AHV-WATCH: FAIL mmap\n");
		return 1;
	}
	for (size_t i = 0; i < 2 * PAGE; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	memset(other, 0x11, PAGE);
	memset(moved, 0x22, PAGE);
	mlock(data, 2 * PAGE);
	mlock(other, PAGE);

	/* 1. text + data, clean interval */
	ahvl_request *req = new_req();
	struct rep r0, r1;
	if (!req || ahvl_request_add_section(req, NULL, ".text", NULL) < 0 ||
	    ahvl_request_add_range(req, (uintptr_t)data, 2 * PAGE, AHV_SPACE_GVA, NULL, "data") < 0) {
		printf("AHV-WATCH: FAIL request: %s\n", ahvl_error_detail());
		return 1;
	}
	uint32_t id = start(req, &r0, "text+data");
	if (!id)
		return 1;
	usleep(200000);
	int st = call(req, AHV_REQ_F_WATCH_CHECK, id, &r1);
	if (st) {
		FAIL("clean CHECK status 0x%x", st);
	} else {
		int ok = hdr(&r1)->watch_state == AHV_WATCH_ACTIVE && hdr(&r1)->watch_id == id &&
			 hdr(&r1)->watch_since_counter == hdr(&r0)->counter;
		for (unsigned i = 0; i < 2; i++) {
			struct ahv_region_result a = result(&r0, i), b = result(&r1, i);
			ok &= b.flags == AHV_RESULT_F_WATCHED && !memcmp(a.digest, b.digest, 32) &&
			      record(&r1, i).time_ns >= hdr(&r0)->timestamp_ns;
		}
		if (ok)
			printf("AHV-WATCH: clean interval unmodified ok (since counter %llu)\n",
			       (unsigned long long)hdr(&r1)->watch_since_counter);
		else
			FAIL("clean CHECK: state %u flags %x %x", hdr(&r1)->watch_state, result(&r1, 0).flags,
			     result(&r1, 1).flags);
	}

	/* 2. /proc/self/mem into the data's second page */
	uint8_t *target = data + PAGE + 100;
	uint64_t want = frame_of(data + PAGE);
	uint8_t x[4] = {0xde, 0xad, 0xbe, 0xef};
	int fd = open("/proc/self/mem", O_RDWR);
	if (fd < 0 || pwrite(fd, x, sizeof x, (off_t)(uintptr_t)target) != (ssize_t)sizeof x || !want)
		FAIL("/proc/self/mem write or pagemap (frame %llx)", (unsigned long long)want);
	if (fd >= 0)
		close(fd);
	st = call(req, AHV_REQ_F_WATCH_CHECK, id, &r1);
	if (st) {
		FAIL("CHECK after /proc/self/mem status 0x%x", st);
	} else {
		struct ahv_watch_record w = record(&r1, 1);
		int ok = result(&r1, 1).flags == (AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED) &&
			 (w.gpa & ~(PAGE - 1)) == want && (w.gpa & (PAGE - 1)) == 100 &&
			 result(&r1, 0).flags == AHV_RESULT_F_WATCHED;
		printf("AHV-WATCH: /proc/self/mem record: gpa %llx (page frame %llx) rip %llx apic %u\n",
		       (unsigned long long)w.gpa, (unsigned long long)want, (unsigned long long)w.rip, w.apic_id);
		if (ok)
			printf("AHV-WATCH: /proc/self/mem write reported with the right page ok\n");
		else
			FAIL("/proc/self/mem: flags %x %x gpa %llx want frame %llx", result(&r1, 0).flags,
			     result(&r1, 1).flags, (unsigned long long)w.gpa, (unsigned long long)want);
	}
	end(req, id, "text+data");
	ahvl_request_free(req);

	/* 3. a write from another CPU */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (one_cpu) {
		printf("AHV-WATCH: other-cpu case skipped (--one-cpu)\n");
	} else if (ncpu < 2) {
		FAIL("only %ld CPU online: the other-CPU case needs two", ncpu);
	} else {
		req = new_req();
		ahvl_request_add_range(req, (uintptr_t)other, PAGE, AHV_SPACE_GVA, NULL, "other");
		uint32_t id2 = start(req, &r0, "other-cpu");
		struct writer w = {.p = other, .cpu = (int)ncpu - 1};
		pthread_t t;
		uint64_t fr = frame_of(other);
		if (id2 && !pthread_create(&t, NULL, write_on_cpu, &w) && !pthread_join(t, NULL) &&
		    !(st = call(req, AHV_REQ_F_WATCH_CHECK, id2, &r1))) {
			struct ahv_watch_record rec = record(&r1, 0);
			printf("AHV-WATCH: other-cpu record: apic %u (writer's %u) gpa %llx rip %llx\n", rec.apic_id,
			       w.apic, (unsigned long long)rec.gpa, (unsigned long long)rec.rip);
			if (result(&r1, 0).flags == (AHV_RESULT_F_WATCHED | AHV_RESULT_F_MODIFIED) &&
			    rec.apic_id == w.apic && rec.gpa == fr + 77)
				printf("AHV-WATCH: write from cpu %d reported ok\n", w.cpu);
			else
				FAIL("other-cpu: flags %x apic %u want %u gpa %llx want %llx", result(&r1, 0).flags,
				     rec.apic_id, w.apic, (unsigned long long)rec.gpa,
				     (unsigned long long)(fr + 77));
		} else if (id2) {
			FAIL("other-cpu: thread or CHECK status 0x%x", st);
		}
		if (id2)
			end(req, id2, "other-cpu");
		ahvl_request_free(req);
	}

	/* 4. remap of a watched GVA */
	req = new_req();
	ahvl_request_add_range(req, (uintptr_t)moved, PAGE, AHV_SPACE_GVA, NULL, "moved");
	uint32_t id3 = start(req, &r0, "remap");
	if (id3) {
		uint64_t before = frame_of(moved);
		uint8_t *fresh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fresh != MAP_FAILED)
			memset(fresh, 0x33, PAGE); /* its own frame, before the old one goes */
		if (fresh == MAP_FAILED ||
		    mremap(fresh, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, moved) != (void *)moved) {
			FAIL("remap: mremap MREMAP_FIXED");
		} else {
			uint64_t after = frame_of(moved);
			st = call(req, AHV_REQ_F_WATCH_CHECK, id3, &r1);
			printf("AHV-WATCH: remap: frame %llx -> %llx, CHECK status 0x%x flags %x\n",
			       (unsigned long long)before, (unsigned long long)after, st, st ? 0 : result(&r1, 0).flags);
			if (!st && before != after && (result(&r1, 0).flags & AHV_RESULT_F_REMAPPED))
				printf("AHV-WATCH: remap of the GVA reported ok\n");
			else
				FAIL("remap not reported (status 0x%x)", st);
		}
		end(req, id3, "remap");
	}
	ahvl_request_free(req);

	if (fails) {
		printf("AHV-WATCH: FAIL %d case(s)\n", fails);
		return 1;
	}
	printf("AHV-WATCH: PASS\n");
	return 0;
}
