/* amdvi_test.c - the AMD-Vi formats the hypervisor writes (ahv/x86/amdvi.h)
 * and its host I/O page table as the nested-table builder (pt.c) makes it:
 * the table is walked here the way the AMD IOMMU spec 48882 §2.2.3 says an
 * IOMMU walks it (PR, Next Level, IR/IW ANDed over the levels, the page size
 * of the level a Next Level 0 entry sits at), independently of pt.c's own
 * walk; device table entries, commands and events against the spec's bit
 * positions. Label: unit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ahv/x86/amdvi.h"
#include "check.h"

/* ---- a spec walk (§2.2.3) ---------------------------------------------------------- */
struct xlate {
	int ok;          /* translated */
	int fault;       /* stopped at a PR = 0 entry */
	uint64_t pa;     /* translated address */
	unsigned perm;   /* bit 0 read, bit 1 write */
	int leaf_level;  /* 1: 4 KiB, 2: 2 MiB, 3: 1 GiB */
	int bad;         /* a Next Level that does not go down, or 7 */
	uint64_t absent; /* the PR = 0 entry */
};
static struct xlate walk(uint64_t root, int mode, uint64_t iova)
{
	struct xlate r = {0};
	unsigned perm = 3;
	int level = mode;
	uint64_t table = root;
	while (level > 0) {
		uint64_t e = ((uint64_t *)(uintptr_t)table)[(iova >> (12 + 9 * (level - 1))) & 511];
		if (!(e & AMDVI_PTE_PR)) {
			r.fault = 1;
			r.absent = e;
			return r;
		}
		perm &= (unsigned)((e >> 61) & 3);
		int nl = (int)((e >> AMDVI_NEXT_LEVEL_SHIFT) & 7);
		if (nl == 0 && level == 4) {
			r.bad = 1; /* a 512 GiB leaf: pt.c never makes one */
			return r;
		}
		if (nl == 0) {
			uint64_t size = 1ull << (12 + 9 * (level - 1));
			r.ok = 1;
			r.pa = (e & PTE_ADDR_MASK & ~(size - 1)) | (iova & (size - 1));
			r.perm = perm;
			r.leaf_level = level;
			return r;
		}
		if (nl >= level || nl == 7) {
			r.bad = 1;
			return r;
		}
		/* Next Level below level - 1 would skip levels (§2.2.3): pt.c
		 * never does, and this walk would be wrong for it. */
		if (nl != level - 1) {
			r.bad = 1;
			return r;
		}
		table = e & PTE_ADDR_MASK;
		level = nl;
	}
	r.bad = 1;
	return r;
}

static struct ahv_pool pool_new(uint64_t pages)
{
	void *p = aligned_alloc(4096, pages * 4096);
	if (!p) {
		printf("FAIL out of memory\n");
		exit(1);
	}
	return (struct ahv_pool){(uint64_t)(uintptr_t)p, pages * 4096, 0};
}

static void test_identity_less_hidden(void)
{
	struct ahv_pool pool = pool_new(64);
	struct ahv_pt pt = ahv_amdvi_pt_format(&pool);
	const uint64_t top = 8 * AHV_1G;
	/* Hypervisor-like ranges: a pool, an image, an IOMMU register set. */
	const uint64_t hid[][2] = {{0x7e00000, 0x8600000}, {0x7d0f000, 0x7d3a000}, {0xfed80000, 0xfed84000}};
	CHECK(ahv_pt_identity(&pt, top) == 0, "identity map failed");
	for (unsigned i = 0; i < 3; i++)
		CHECK(ahv_pt_unmap(&pt, hid[i][0], hid[i][1]) == 0, "unmap %u failed", i);
	/* Every page around and inside each range, and a spread of others. */
	for (unsigned i = 0; i < 3; i++)
		for (uint64_t a = hid[i][0] - 3 * 4096; a < hid[i][1] + 3 * 4096; a += 4096) {
			int in = a >= hid[i][0] && a < hid[i][1];
			struct xlate x = walk(pt.root, 4, a + 0x123);
			CHECK(!x.bad, "%lx: malformed walk", (unsigned long)a);
			if (in) {
				CHECK(x.fault && !x.ok, "hidden page %lx translates", (unsigned long)a);
				/* The not-present form QEMU 7.2 logs an event for. */
				CHECK(x.absent == AMDVI_PTE_ABSENT && ((x.absent >> 9) & 7) != 0,
				      "hidden page %lx: absent entry %lx", (unsigned long)a, (unsigned long)x.absent);
			} else {
				CHECK(x.ok && x.pa == a + 0x123 && x.perm == 3, "%lx -> ok %d pa %lx perm %u",
				      (unsigned long)a, x.ok, (unsigned long)x.pa, x.perm);
			}
		}
	int big = 0;
	for (uint64_t a = 0; a < top; a += 0x3fff1000ull / 7) {
		uint64_t p = a & ~0xfffull;
		int in = 0;
		for (unsigned i = 0; i < 3; i++)
			in |= p >= hid[i][0] && p < hid[i][1];
		struct xlate x = walk(pt.root, 4, a);
		CHECK(in ? x.fault : (x.ok && x.pa == a && x.perm == 3), "%lx: ok %d fault %d pa %lx", (unsigned long)a,
		      x.ok, x.fault, (unsigned long)x.pa);
		big += x.ok && x.leaf_level == 3;
	}
	CHECK(big > 0, "no 1 GiB leaves where no range was unmapped");
	/* The first GiB holds the ranges: split down to 4 KiB there, 2 MiB
	 * leaves next to them. */
	CHECK(walk(pt.root, 4, 0x7d0e000).leaf_level == 1, "page next to the image is not a 4 KiB leaf");
	CHECK(walk(pt.root, 4, 0x20000000).leaf_level == 2, "2 MiB leaf expected at 512 MiB");
	CHECK(walk(pt.root, 4, 5 * AHV_1G).leaf_level == 3, "1 GiB leaf expected at 5 GiB");
	/* Above the map: absent (a zero entry). */
	CHECK(walk(pt.root, 4, top + 4096).fault, "above top translates");
	/* The tables live in the pool: hidden from devices when the pool is. */
	CHECK(pool.used > 0 && pool.used <= pool.size, "pool use %lu", (unsigned long)pool.used);
	free((void *)(uintptr_t)pool.base);
}

/* A wrong format fails the walk: EPT-like bits without Next Level. */
static void test_walk_catches_missing_next_level(void)
{
	struct ahv_pool pool = pool_new(16);
	struct ahv_pt pt = ahv_amdvi_pt_format(&pool);
	pt.next_level_shift = 0;
	CHECK(ahv_pt_identity(&pt, 4 * AHV_1G) == 0, "identity map failed");
	struct xlate x = walk(pt.root, 4, 0x1000);
	CHECK(!x.ok && x.bad, "a table without Next Level fields translated (%lx)", (unsigned long)x.pa);
	free((void *)(uintptr_t)pool.base);
}

static void test_dte(void)
{
	uint64_t d[4];
	memset(d, 0xff, sizeof d);
	ahv_amdvi_dte(d, 0x12345678000ull, 4, AMDVI_DOMAIN);
	CHECK((d[0] & 1) && (d[0] >> 1 & 1), "V/TV %lx", (unsigned long)d[0]);
	CHECK(((d[0] >> 9) & 7) == 4, "Mode %lx", (unsigned long)d[0]);
	CHECK((d[0] & 0x000ffffffffff000ull) == 0x12345678000ull, "root %lx", (unsigned long)d[0]);
	CHECK((d[0] >> 61 & 3) == 3, "IR/IW %lx", (unsigned long)d[0]);
	/* Nothing else in quad 0 (bits 2-8, 52-60, 63: reserved or guest
	 * translation fields), DomainID only in quad 1 (SE = 0: events
	 * logged), quad 2 IV = 0, quad 3 zero. */
	CHECK((d[0] & ~(0x000ffffffffff000ull | 0x6000000000000e03ull)) == 0, "stray bits in quad 0 %lx",
	      (unsigned long)d[0]);
	CHECK(d[1] == AMDVI_DOMAIN && d[2] == 0 && d[3] == 0, "quads 1-3 %lx %lx %lx", (unsigned long)d[1],
	      (unsigned long)d[2], (unsigned long)d[3]);
	CHECK(AMDVI_DEVTAB_BYTES == 2u << 20, "device table %llu bytes", (unsigned long long)AMDVI_DEVTAB_BYTES);
	CHECK(ahv_amdvi_devtab_reg(0x40000000, AMDVI_DEVTAB_BYTES) == (0x40000000 | 511), "devtab register");
	CHECK(ahv_amdvi_ring_reg(0x40001000) == (0x40001000 | 8ull << 56) && AMDVI_RING_BYTES == 4096,
	      "ring register");
}

static void test_commands(void)
{
	struct ahv_amdvi_cmd c = ahv_amdvi_cmd_completion_wait(0x7654321008ull, 42);
	CHECK(c.q[0] >> 60 == 1 && (c.q[0] & 1) && !(c.q[0] & 6), "COMPLETION_WAIT opcode/S/I/F %lx",
	      (unsigned long)c.q[0]);
	CHECK((c.q[0] & 0x000ffffffffffff8ull) == 0x7654321008ull && ((c.q[0] >> 52) & 0xff) == 0 && c.q[1] == 42,
	      "COMPLETION_WAIT address/data %lx %lx", (unsigned long)c.q[0], (unsigned long)c.q[1]);
	c = ahv_amdvi_cmd_inval_devtab(0xbeef);
	CHECK(c.q[0] == (0xbeefull | 2ull << 60) && c.q[1] == 0, "INVALIDATE_DEVTAB_ENTRY %lx", (unsigned long)c.q[0]);
	c = ahv_amdvi_cmd_inval_domain(AMDVI_DOMAIN);
	CHECK(c.q[0] == (3ull << 60 | (uint64_t)AMDVI_DOMAIN << 32), "INVALIDATE_IOMMU_PAGES %lx",
	      (unsigned long)c.q[0]);
	CHECK(c.q[1] == 0x7ffffffffffff003ull, "INVALIDATE_IOMMU_PAGES all pages, S and PDE %lx", (unsigned long)c.q[1]);
	c = ahv_amdvi_cmd_inval_all();
	CHECK(c.q[0] == 8ull << 60 && c.q[1] == 0, "INVALIDATE_IOMMU_ALL %lx", (unsigned long)c.q[0]);
}

static void test_event(void)
{
	/* IO_PAGE_FAULT for 00:03.0, a write (RW, bit 53) to a non-present
	 * page (PR = 0), at 7e01234. */
	uint64_t e[2] = {0x0018ull | 2ull << 60 | 1ull << 53, 0x7e01234};
	struct ahv_amdvi_event ev = ahv_amdvi_event_decode(e);
	CHECK(ev.devid == 0x18 && ev.code == AMDVI_EVT_IO_PAGE_FAULT && ev.addr == 0x7e01234, "decode %x %x %lx",
	      ev.devid, ev.code, (unsigned long)ev.addr);
	CHECK((ev.flags & AMDVI_EVT_F_RW) && !(ev.flags & AMDVI_EVT_F_PR) && !(ev.flags & AMDVI_EVT_F_I),
	      "flags %x", ev.flags);
	e[0] = 0x0018ull | 2ull << 60 | 1ull << 52;
	ev = ahv_amdvi_event_decode(e);
	CHECK(!(ev.flags & AMDVI_EVT_F_RW) && (ev.flags & AMDVI_EVT_F_PR), "read, present: flags %x", ev.flags);
}

int main(void)
{
	test_identity_less_hidden();
	test_walk_catches_missing_next_level();
	test_dte();
	test_commands();
	test_event();
	printf("amdvi_test: %d checks, %d failed\n", count, fails);
	return fails != 0;
}
