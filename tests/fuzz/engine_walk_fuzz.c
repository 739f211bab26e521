/*
 * engine_walk_fuzz.c - libFuzzer target: the walkers (guest x86 paging
 * through EPT or NPT, 4/5 levels) over arbitrary page-table contents.
 *
 * Four simulated machines are built once (EPT/NPT x 4/5 levels), each with
 * a small mapped guest. An input is:
 *   byte 0      machine (bits 1:0), caller CPL0 (bit 2), write access
 *               (bit 3), guest EFER.NXE off (bit 4), no 1 GiB pages (bit 5),
 *               CR4.PKE with PKRU = the last address's low 32 bits (bit 6)
 *   bytes 1-32  four 8-byte addresses to translate (bit 63 of each: raw,
 *               else an offset into the mapped guest range), translated
 *               both as GVA and as GPA
 *   then        13-byte pokes: selector (bit 0: hypervisor area holding the
 *               nested tables, else the low 2 MiB of guest RAM holding the
 *               guest tables), 4-byte offset, 8-byte value
 * Pokes are undone after each input. Checked: no crash/hang/sanitizer
 * report; a successful translation lands in RAM, outside hypervisor memory,
 * with a length that stays inside both and inside one page mapping; for a
 * write, each guest paging entry whose A/D flags the write would set is an
 * aligned 8 bytes of guest RAM too.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "sim.h"

#define BASE_GVA 0x40000000ull
#define MAX_POKES 64

static struct sim *m[4];

static void setup(void)
{
	for (int i = 0; i < 4; i++) {
		struct sim_cfg cfg = {
			.guest_ram = 8ull << 20,
			.nested_format = (i & 1) ? AHV_NESTED_NPT : AHV_NESTED_EPT,
			.nested_levels = (i & 2) ? 5 : 4,
			.guest_levels = (i & 2) ? 5 : 4,
			.nested_page = (i & 1) ? SIM_4K : SIM_2M,
		};
		struct sim *s = calloc(1, sizeof(*s));
		uint64_t gpa;

		if (!s || sim_init(s, &cfg))
			abort();
		gpa = sim_alloc_gpa(s, SIM_2M, SIM_2M);
		if (sim_map(s, &s->gpt, BASE_GVA, gpa, SIM_2M, SIM_2M, SIM_URW))
			abort();
		gpa = sim_alloc_gpa(s, 16 * SIM_4K, SIM_4K);
		if (sim_map(s, &s->gpt, BASE_GVA + SIM_2M, gpa, 16 * SIM_4K, SIM_4K, SIM_URW))
			abort();
		m[i] = s;
	}
}

static void check(struct sim *s, uint32_t st, uint64_t hpa, uint64_t len)
{
	if (st != AHV_OK)
		return;
	uint64_t l2 = len;
	if (len == 0 || ahv_frame_check(&s->plat, hpa, &l2) != AHV_OK || l2 != len)
		abort();
	if (!sim_hpa_ptr(s, hpa) || !sim_hpa_ptr(s, hpa + len - 1))
		abort();
}

static void check_marks(struct sim *s, uint32_t st, const struct ahv_pt_marks *mk)
{
	if (st != AHV_OK)
		return;
	if (mk->n < 1 || mk->n > s->gpt.levels)
		abort();
	for (uint32_t i = 0; i < mk->n; i++)
		check(s, (mk->hpa[i] & 7) ? AHV_E_INTERNAL : AHV_OK, mk->hpa[i], 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct { uint64_t *p; uint64_t old; } undo[MAX_POKES];
	unsigned nundo = 0;
	struct ahv_vcpu_exit x = { 0 };
	struct ahv_call c;
	struct sim *s;
	uint8_t mode;

	if (!m[0])
		setup();
	if (size < 33)
		return 0;
	mode = data[0];
	s = m[mode & 3];
	for (size_t off = 33; off + 13 <= size && nundo < MAX_POKES; off += 13) {
		uint32_t o32;
		uint64_t v, hpa;

		memcpy(&o32, data + off + 1, 4);
		memcpy(&v, data + off + 5, 8);
		if (data[off] & 1)
			hpa = SIM_HPA_BASE + (o32 % (s->hv_next - SIM_HPA_BASE));
		else
			hpa = SIM_GUEST_HPA + (o32 % SIM_2M);
		hpa &= ~7ull;
		undo[nundo].p = sim_hpa_ptr(s, hpa);
		undo[nundo].old = *undo[nundo].p;
		*undo[nundo].p = v;
		nundo++;
	}

	x.cpl = (mode & 4) ? 0 : 3;
	x.cr3 = s->gpt.root;
	x.cr4 = s->cr4;
	x.efer = (mode & 16) ? (s->efer & ~(1ull << 11)) : s->efer;
	x.cr0 = s->cr0;
	x.cs_l = true;
	if (mode & 64) {
		x.cr4 |= UINT64_C(1) << 22; /* CR4.PKE, SDM Vol. 3A §2.5 */
		memcpy(&x.pkru, data + 25, 4);
	}
	s->plat.guest_page_1g = !(mode & 32);
	s->plat.nested.page_1g = !(mode & 32);
	ahv_call_setup(&c, &s->core, &x);
	for (int i = 0; i < 4; i++) {
		uint64_t a, hpa, len;
		struct ahv_pt_marks mk;
		uint32_t st;

		memcpy(&a, data + 1 + 8 * i, 8);
		if (!(a >> 63))
			a = BASE_GVA + (a % (SIM_2M + 17 * SIM_4K));
		len = 3 * SIM_4K;
		st = ahv_xlate(&c, AHV_SPACE_GVA, a, (mode & 8) != 0, &hpa, &len,
			       (mode & 8) ? &mk : NULL);
		check(s, st, hpa, len);
		if (mode & 8)
			check_marks(s, st, &mk);
		len = SIM_2M + 5;
		check(s, ahv_xlate(&c, AHV_SPACE_GPA, a & 0xffffffffffull, (mode & 8) != 0,
				   &hpa, &len, NULL), hpa, len);
	}
	s->plat.guest_page_1g = true;
	s->plat.nested.page_1g = true;
	while (nundo)
		nundo--, *undo[nundo].p = undo[nundo].old;
	return 0;
}
