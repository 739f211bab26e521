/* svm_run.S - one guest entry and exit.
 *   void ahv_svm_run(struct ahv_gprs *g, u64 guest_vmcb_pa, u64 host_vmcb_pa)
 * VMRUN saves/restores only RAX, RSP, RIP and RFLAGS of the guest (APM Vol. 2
 * §15.5.1 "VMRUN"); the other GPRs are loaded and saved here. VMLOAD/VMSAVE
 * move the state VMRUN leaves alone: FS, GS, TR, LDTR (with hidden parts),
 * KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_* (APM Vol. 3 "VMLOAD",
 * "VMSAVE"): the host's copy goes to host_vmcb_pa around the guest's.
 * Offsets: struct ahv_gprs in ahv/x86/hv.h (rax 0, rbx 8, ..., r15 120). */
	.text
	.globl ahv_svm_run
ahv_svm_run:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rdi              /* 16(%rsp): gprs */
	pushq %rdx              /* 8(%rsp):  host vmcb pa */
	pushq %rsi              /* 0(%rsp):  guest vmcb pa */
	movq %rdx, %rax
	vmsave                  /* host FS/GS/TR/... -> host vmcb */
	movq 0(%rsp), %rax
	movq 8(%rdi), %rbx
	movq 16(%rdi), %rcx
	movq 24(%rdi), %rdx
	movq 32(%rdi), %rsi
	movq 48(%rdi), %rbp
	movq 64(%rdi), %r8
	movq 72(%rdi), %r9
	movq 80(%rdi), %r10
	movq 88(%rdi), %r11
	movq 96(%rdi), %r12
	movq 104(%rdi), %r13
	movq 112(%rdi), %r14
	movq 120(%rdi), %r15
	movq 40(%rdi), %rdi
	vmload
	vmrun
	vmsave
	pushq %rdi
	movq 24(%rsp), %rdi     /* gprs */
	movq %rbx, 8(%rdi)
	movq %rcx, 16(%rdi)
	movq %rdx, 24(%rdi)
	movq %rsi, 32(%rdi)
	movq %rbp, 48(%rdi)
	movq %r8, 64(%rdi)
	movq %r9, 72(%rdi)
	movq %r10, 80(%rdi)
	movq %r11, 88(%rdi)
	movq %r12, 96(%rdi)
	movq %r13, 104(%rdi)
	movq %r14, 112(%rdi)
	movq %r15, 120(%rdi)
	popq %rax
	movq %rax, 40(%rdi)
	movq 8(%rsp), %rax      /* host vmcb pa */
	vmload
	addq $24, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret
	.section .note.GNU-stack,"",@progbits
