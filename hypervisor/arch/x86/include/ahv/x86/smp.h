/*
 * ahv/x86/smp.h - smp = on (docs/smp.md), what both back ends share: the
 * stop protocol that holds every other vCPU still while the engine
 * measures (smp_stop.c), the emulated INIT/SIPI (initsipi.c) and the
 * NMI kicks (apic.c). Each back end's own part - parking a CPU, its NMI
 * exit, the reset state after SIPI - is in svm/svm_smp.c and vmx/vmx_smp.c.
 */
#ifndef AHV_X86_SMP_H
#define AHV_X86_SMP_H

#include <stddef.h>
#include <stdint.h>
#include "ahv/platform.h"
#include "ahv/x86/apic_guard.h"
#include "ahv/x86/mem.h"
#include "ahv/x86/vcpu.h"

struct ahv_hv;

/* AHV_XAPIC_BASE, the MSI range and the I/O APIC page: ahv/x86/apic_guard.h */

/* ---- the stop protocol (smp_stop.c) -------------------------------------- */
/* A vCPU that is asked to stop (kick NMI, or it sees the request while
 * waiting in its host) calls ahv_smp_check_in, which returns once the stop
 * is over. */
int ahv_smp_stop_pending(void);
void ahv_smp_check_in(struct ahv_vcpu *v);
/* Non-zero while a stop is in progress (isr.S and vmx_run.S read it). */
extern uint32_t ahv_smp_stop_active;
/* The stop as the core's quiesce hooks (ahv/platform.h) for a hypercall on
 * self: *q is filled and returned, or NULL where nothing else runs (smp =
 * off, or one vCPU started). ctx holds what the hooks need. */
struct ahv_smp_stop_ctx {
	struct ahv_hv *hv;
	struct ahv_vcpu *self;
};
const struct ahv_quiesce *ahv_smp_quiesce(struct ahv_hv *hv, struct ahv_vcpu *self, struct ahv_smp_stop_ctx *ctx,
					  struct ahv_quiesce *q);

/* ---- kicks (apic.c) ------------------------------------------------------ */
/* Send an NMI to the CPU with this APIC id, through the xAPIC page or the
 * x2APIC ICR MSR, whichever mode the local APIC is in. */
void ahv_apic_send_nmi(uint32_t apic_id);

/* ---- emulated INIT/SIPI (initsipi.c) ------------------------------------- */
/* The guest stored to a trapped page (ahv_smp_store_trapped: write-
 * protected in the nested tables) at guest-physical gpa with the
 * instruction at linear address lin: decode it and do it - INIT/SIPI
 * through the ICR emulated, an I/O APIC redirection entry with INIT
 * delivery and a CPU's write into the MSI range refused (dropped). 0 and
 * the instruction's length, or -1: the guest gets #GP. */
int ahv_xapic_store(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
		    uint64_t gpa, unsigned *len);
/* smp = on: write-protect the pages ahv_smp_store_trapped (apic_guard.h)
 * names in nested tables (clear write_bit): the interrupt-message range and
 * each I/O APIC of hv->handoff->ioapics, logged as it is guarded (one that
 * lies in hypervisor memory is refused). 0, or -1 with the reason in err. */
int ahv_smp_protect(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t write_bit, char *err, size_t cap);
/* An INIT that reached this CPU as an exception (SVM VM_CR.R_INIT: #SX):
 * 1 if the CPU must now park for its SIPI (an AP), 0 if it is refused
 * (the boot CPU, as for an INIT through the ICR). */
int ahv_init_signal(struct ahv_vcpu *v);
/* The host took #SX (vector 30) with this error code: an INIT redirected
 * while a CPU ran the hypervisor with GIF=1. 1 if handled (resume), 0 if
 * it is not that. */
int ahv_host_init_exception(uint64_t error);
/* Set once a CPU's VM_CR.R_INIT stuck (svm.c): host #SX are INITs. */
extern uint32_t ahv_init_redirected;
/* Park this CPU in its host until a SIPI releases it (checking in to
 * stops meanwhile); returns the SIPI's vector. */
uint32_t ahv_sipi_wait(struct ahv_vcpu *v);
/* Can INIT/SIPI be trapped (xAPIC mode at its default address)? 0, or -1
 * with the reason. */
int ahv_smp_xapic_usable(char *why, size_t cap);
/* isr.S: return if *a or *b is set, else HLT until an NMI. */
void ahv_park_wait(const uint32_t *a, const uint32_t *b);

#endif
