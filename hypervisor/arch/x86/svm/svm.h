/*
 * svm.h - inside the AMD SVM back end only (svm.c, svm_smp.c): the SVM
 * vCPU and what its files share. References are to the AMD64 Architecture
 * Programmer's Manual Vol. 2 chapter 15 unless another volume is named.
 */
#ifndef AHV_SVM_H
#define AHV_SVM_H

#include <stdint.h>
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"
#include "vmcb.h"

/* What only SVM keeps per vCPU (struct ahv_vcpu's arch). */
struct svm_vcpu {
	struct vmcb *vmcb;      /* guest VMCB (identity-mapped: VA = PA) */
	struct vmcb *host_vmcb; /* host FS/GS/TR/... via VMSAVE/VMLOAD */
	uint64_t hsave_pa;
	uint8_t *msrpm, *iopm;
	struct ahv_pt npt;
	uint64_t npt_top;
	int nrips;
	struct ahv_pt *npt_shared; /* the boot CPU's npt: one set for all CPUs */
	uint32_t nested_gen;       /* ahv_nested_gen at the last flush */
};

static inline struct svm_vcpu *svm_of(struct ahv_vcpu *v) { return v->arch; }

/* svm.c: the back end's part of struct ahv_exit_ops. */
void svm_exit_state(struct ahv_vcpu *v, struct ahv_vcpu_exit *x);
void svm_inject(struct ahv_vcpu *v, unsigned vector, int has_err, uint32_t err);
void svm_skip(struct ahv_vcpu *v, unsigned len);
void svm_dump(struct ahv_vcpu *v);

/* svm_smp.c, smp = on (docs/smp.md): exit handlers and the xAPIC trap. */
void svm_exit_nmi(struct ahv_hv *hv, struct ahv_vcpu *v);
void svm_exit_hlt(struct ahv_hv *hv, struct ahv_vcpu *v);
void svm_exit_init_signal(struct ahv_hv *hv, struct ahv_vcpu *v);
/* A nested fault that is a guest store to a trapped page (the xAPIC page,
 * the I/O APIC page, the MSI range: write-protected with smp = on,
 * ahv_smp_store_trapped): emulated, 1; anything else: 0. */
int svm_xapic_write(struct ahv_hv *hv, struct ahv_vcpu *v);

#endif
