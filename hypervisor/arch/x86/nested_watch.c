/*
 * nested_watch.c - the nested-table side of watched regions (docs/watch.md),
 * shared by the SVM and VT-x back ends: write-protect or give back one 4 KiB
 * guest-physical frame in the one set of nested tables all vCPUs share, and
 * the first look at a write fault (NPF / EPT violation).
 *
 * Cross-CPU: a protect happens only while every other vCPU waits in its
 * host (the engine's quiesce stop, docs/smp.md). It bumps ahv_nested_gen;
 * each vCPU compares it with the value it last saw before every guest entry
 * and flushes its nested translations when it changed (SVM: TLB_CONTROL
 * on the next VMRUN, APM Vol. 2 §15.16.1; VT-x: INVEPT, SDM Vol. 3C
 * §29.4.3.1), so no vCPU runs guest code on a stale writable translation.
 * A give-back needs no flush elsewhere: a vCPU that still holds the read-
 * only translation takes one more write fault, finds the leaf writable and
 * retries after flushing its own (ahv_nested_watch_fault).
 *
 * iTLB multihit (Intel erratum, "Machine Check Error on Page Size Change",
 * CVE-2018-12207): a large EPT leaf split while some logical processor may
 * hold the large translation and fetch through a new 4 KiB one can raise a
 * machine check. A split here happens only under the stop (no vCPU runs
 * guest code), and every vCPU invalidates all of this EPT's translations
 * (INVEPT) before its next entry, the current one included: no processor
 * can hold the large and the small translation of a page at once. The
 * split keeps every bit (X included), so an executable page stays
 * executable and only W changes afterwards, always on a 4 KiB leaf.
 */
#include "ahv/x86/hv.h"
#include "ahv/x86/mem.h"
#include "ahv/x86/nested.h"

uint32_t ahv_nested_gen;

int ahv_nested_wp(struct ahv_pt *pt, uint64_t gpa, int protect, uint64_t write_bit)
{
	int level = 0;
	uint64_t *e;

	if (!protect) {
		/* only a 4 KiB leaf was ever protected; a large one is as built */
		if (!ahv_pt_lookup(pt, gpa, &level) || level != 1)
			return 0;
		e = ahv_pt_leaf4k(pt, gpa);
		__atomic_or_fetch(e, write_bit, __ATOMIC_SEQ_CST);
		return 0;
	}
	e = ahv_pt_leaf4k(pt, gpa);
	if (!e)
		return -1; /* pool empty: nothing changed but maybe a split */
	__atomic_and_fetch(e, ~write_bit, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&ahv_nested_gen, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int ahv_nested_watch_fault(struct ahv_hv *hv, struct ahv_pt *pt, struct ahv_vcpu *v, uint64_t gpa, uint64_t rip,
			   uint64_t write_bit)
{
	int level;
	uint64_t e;

	if (ahv_watch_write_fault(hv->core, gpa, rip, v->apic_id))
		return 1;
	/* Given back by another CPU after this one cached it read-only. */
	e = ahv_pt_lookup(pt, gpa, &level);
	return e && (e & write_bit);
}
