/* isr.S - host exception entry stubs (vectors 0-31) for the host IDT.
 * Vectors that push an error code (APM Vol. 2 §8.2 "Vectors"): 8, 10-14, 17,
 * 21, 29, 30. The others push a zero so the frame is uniform. */
	.text
	.macro ISR vec
	.align 16
isr_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
	.endm

	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ISR \v
	.endr

/* NMI in the host (smp = on, docs/smp.md). SVM: taken only on purpose - a
 * vCPU's intercepted NMI, absorbed between STGI and CLGI (svm.c). VT-x: any
 * NMI that reaches a CPU while it runs the hypervisor. Either is a stop's
 * kick (ahv_smp_stop_active set: nothing to do, the vCPU checks in before
 * its next entry) or an NMI for the guest: then the CPU's slot at the top of
 * its IST stack (48(%rsp) here: above the saved RAX and the 5-word frame),
 * if the back end set one (VT-x: &vcpu->host_nmi), records it for
 * injection. Two places must not lose the NMI:
 *  - between ahv_park_wait's checks and its HLT: redo the checks (an NMI
 *    after a compare but before its branch would otherwise be lost);
 *  - in vmx_run.S's entry window (checks, then VMLAUNCH/VMRESUME): go
 *    back to its start, so the checks see the stop or the recorded NMI. */
	.globl ahv_nmi_absorb
	.align 16
ahv_nmi_absorb:
	pushq %rax
	cmpl $0, ahv_smp_stop_active(%rip)
	jne 1f
	movq 48(%rsp), %rax
	testq %rax, %rax
	jz 1f
	movl $1, (%rax)
	/* Anywhere from ahv_park_wait's first check to its HLT (a check's
	 * flags may predate this NMI's news): back to the first check. */
1:	leaq ahv_park_hlt(%rip), %rax
	cmpq %rax, 8(%rsp)
	ja 2f
	leaq ahv_park_wait(%rip), %rax
	cmpq %rax, 8(%rsp)
	jb 2f
	movq %rax, 8(%rsp)
	jmp 3f
2:	leaq ahv_vmx_window(%rip), %rax
	cmpq %rax, 8(%rsp)
	jb 3f
	leaq ahv_vmx_window_end(%rip), %rax
	cmpq %rax, 8(%rsp)
	jae 3f
	leaq ahv_vmx_window(%rip), %rax
	movq %rax, 8(%rsp)
3:	popq %rax
	iretq

/* void ahv_iret_to_self(void): an IRETQ to the next instruction. An NMI
 * that causes a VM exit blocks later NMIs (SDM Vol. 3C "VM Exits", event
 * blocking: "an NMI causes subsequent NMIs to be blocked"), and only an
 * IRET is sure to lift that: VM entry with blocking by NMI clear does not
 * on Bochs (the kicks after the first one never arrived), and KVM, too,
 * ends its NMI exits with an IRET in the host. vmx_smp.c vmx_exit_nmi calls it. */
	.globl ahv_iret_to_self
	.align 16
ahv_iret_to_self:
	movq %rsp, %rax
	movl %ss, %ecx
	pushq %rcx
	pushq %rax
	pushfq
	movl %cs, %ecx
	pushq %rcx
	leaq 1f(%rip), %rcx
	pushq %rcx
	iretq
1:	ret

/* void ahv_park_wait(const uint32_t *a, const uint32_t *b): return at once
 * if *a or *b is non-zero, else HLT until an NMI (GIF=1, IF=0: only an NMI
 * wakes it; svm_smp.c svm_exit_hlt). */
	.globl ahv_park_wait
	.align 16
ahv_park_wait:
	cmpl $0, (%rdi)
	jne 2f
	cmpl $0, (%rsi)
	jne 2f
ahv_park_hlt:
	hlt
2:	ret

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	call ahv_x86_exception
	/* Non-zero: a fixup (fixup.S) took the fault; the frame now holds
	 * its resume RIP and the RAX to return. Otherwise it has panicked. */
	testl %eax, %eax
	jz 1f
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp /* vector, error code */
	iretq
1:	cli
	hlt
	jmp 1b

	.section .data.rel.ro, "aw"
	.align 8
	.globl ahv_isr_table
ahv_isr_table:
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr_\v
	.endr
	.section .note.GNU-stack,"",@progbits
