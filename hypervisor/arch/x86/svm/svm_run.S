/* svm_run.S - one guest entry and exit.
 *   void ahv_svm_run(struct ahv_gprs *g, u64 guest_vmcb_pa, u64 host_vmcb_pa)
 * VMRUN saves/restores only RAX, RSP, RIP and RFLAGS of the guest (APM Vol. 2
 * §15.5.1 "VMRUN"); the other GPRs are loaded and saved here. VMLOAD/VMSAVE
 * move the state VMRUN leaves alone: FS, GS, TR, LDTR (with hidden parts),
 * KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_* (APM Vol. 3 "VMLOAD",
 * "VMSAVE"): the host's copy goes to host_vmcb_pa around the guest's.
 * Offsets: struct ahv_gprs in ahv/x86/hv.h (rax 0, rbx 8, ..., r15 120). */
#include "ahv/x86/gprs.inc"
	.text
	.globl ahv_svm_run
ahv_svm_run:
	PUSH_CALLEE_SAVED
	pushq %rdi              /* 16(%rsp): gprs */
	pushq %rdx              /* 8(%rsp):  host vmcb pa */
	pushq %rsi              /* 0(%rsp):  guest vmcb pa */
	movq %rdx, %rax
	vmsave                  /* host FS/GS/TR/... -> host vmcb */
	movq 0(%rsp), %rax
	LOAD_GUEST_GPRS %rdi
	movq 40(%rdi), %rdi
	vmload
	vmrun
	vmsave
	pushq %rdi
	movq 24(%rsp), %rdi     /* gprs */
	STORE_GUEST_GPRS %rdi
	popq %rax
	movq %rax, 40(%rdi)
	movq 8(%rsp), %rax      /* host vmcb pa */
	vmload
	addq $24, %rsp
	POP_CALLEE_SAVED
	ret
	.section .note.GNU-stack,"",@progbits
