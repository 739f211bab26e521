/*
 * ahv/x86/nested.h - the guest's nested tables (NPT or EPT), built and
 * repaired the same way for both back ends (nested.c); the format is in
 * struct ahv_pt's entry bits (pt.c, the one table builder).
 */
#ifndef AHV_X86_NESTED_H
#define AHV_X86_NESTED_H

#include <stdint.h>
#include "ahv/x86/mem.h"
#include "ahv/x86/vcpu.h"

struct ahv_hv;

/* Identity map of all RAM and the MMIO holes, the hypervisor's frames
 * absent. *top: the end of what is mapped now. 0 or -1 (pool empty). */
int ahv_nested_build(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top);
enum ahv_nested_fault {
	AHV_NF_HV_MEMORY,  /* the guest touched hypervisor memory: inject #GP */
	AHV_NF_MAPPED,     /* beyond the pre-built window: mapped now, retry */
	AHV_NF_UNEXPECTED, /* a hole that should not fault: logged, #GP */
};
/* A nested fault (NPF / EPT violation) at gpa: classify, log, map.
 * *faults counts hypervisor-memory faults (the log stops at 16). */
enum ahv_nested_fault ahv_nested_fault(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top, uint64_t gpa,
				       uint64_t rip, uint64_t info, uint64_t *faults);

/* Watched regions (nested_watch.c, docs/watch.md). Bumped by every
 * protect: a vCPU whose last seen value differs flushes its nested
 * translations before its next entry. */
extern uint32_t ahv_nested_gen;
/* Clear (protect) or set write_bit (PTE_RW, EPT W) in the 4 KiB leaf of
 * gpa, splitting a large leaf for a protect. Protect only while no other
 * vCPU runs guest code. 0 or -1 (pool empty). */
int ahv_nested_wp(struct ahv_pt *pt, uint64_t gpa, int protect, uint64_t write_bit);
/* A guest write refused by a present nested leaf: 1 if it was a watched
 * frame (recorded, writable again) or one given back since this vCPU
 * cached it: flush this vCPU's nested translations and retry. 0: not
 * ours (the usual nested-fault handling). */
int ahv_nested_watch_fault(struct ahv_hv *hv, struct ahv_pt *pt, struct ahv_vcpu *v, uint64_t gpa, uint64_t rip,
			   uint64_t write_bit);

#endif
