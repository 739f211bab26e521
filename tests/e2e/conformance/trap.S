/*
 * trap.S - the conformance payload's exception catcher and mode switches.
 *
 * conf_try(fn, arg) calls fn(arg) and returns 0, or 1 when fn raised an
 * exception: the handler (one stub per vector 0..31 of the payload's own
 * IDT, conformance.c loads it around each case) stores the vector and the
 * error code in conf_vec / conf_err and resumes at conf_recover with the
 * stack pointer conf_try saved, in 64-bit mode (CS = the selector conf_try
 * ran with), whatever mode or stack the faulting code was in.
 *
 * Interrupt frame in IA-32e mode (SDM Vol. 3A §7.14.2 "64-Bit Mode Stack
 * Frame"): RIP, CS, RFLAGS, RSP, SS, always pushed; vectors 8, 10-14, 17,
 * 21, 29, 30 push an error code first (Vol. 3A §7.15 "Exception and
 * Interrupt Reference", Table 7-1), the others get a 0 from their stub.
 * SysV x86-64 calling convention: rbx, rbp, r12-r15 callee-saved.
 */
	.text
	.code64

	.globl conf_try
conf_try:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	sub $8, %rsp			/* call fn with a 16-byte aligned stack */
	mov %rsp, conf_recover_rsp(%rip)
	mov %cs, %ax
	mov %ax, conf_cs64(%rip)
	mov %ss, %ax
	mov %ax, conf_ss64(%rip)
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	xor %eax, %eax
	jmp 1f
conf_recover:
	mov $1, %eax
1:	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* Stack here: vector, error code, then the interrupt frame. */
conf_exc_common:
	popq conf_vec(%rip)
	popq conf_err(%rip)
	lea conf_recover(%rip), %rax
	mov %rax, 0(%rsp)		/* RIP */
	movzwl conf_cs64(%rip), %eax
	mov %rax, 8(%rsp)		/* CS */
	andq $~0x100, 16(%rsp)		/* RFLAGS.TF off (IF stays as it was: 0) */
	mov conf_recover_rsp(%rip), %rax
	mov %rax, 24(%rsp)		/* RSP */
	movzwl conf_ss64(%rip), %eax
	mov %rax, 32(%rsp)		/* SS */
	iretq

/* Stubs, 16 bytes apart: conf_stub0 + 16 * vector. */
	.macro stub v
	.balign 16
	.if (\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp conf_exc_common
	.endm

	.balign 16
	.globl conf_stub0
conf_stub0:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr

/*
 * conf_compat_ljmp(far_ptr, cs32): far JMP through the m16:32 pointer at
 * far_ptr (below 4 GiB) from compatibility mode, the 32-bit code segment
 * cs32 of IA-32e mode (Vol. 3A §5.2.1 "Code-Segment Descriptors in 64-bit
 * Mode": L = 0, D = 1). Control comes back through the exception handler
 * (the architectural outcome is #GP, Vol. 2A "JMP") or, should the jump
 * land at conf_compat_back, by a far return to 64-bit mode.
 * The code, the stack and far_ptr must lie below 4 GiB (UEFI identity map).
 */
	.globl conf_compat_ljmp
conf_compat_ljmp:
	push %rbx
	xor %ebx, %ebx
	mov %cs, %bx				/* 64-bit CS to come back to */
	lea 2f(%rip), %rcx			/* 64-bit return point (< 4 GiB) */
	push %rsi				/* CS = cs32 */
	lea 1f(%rip), %rax
	push %rax
	lretq
	.code32
1:	ljmp *(%edi)
	.globl conf_compat_back
conf_compat_back:
	push %ebx				/* back to 64-bit mode */
	push %ecx
	lret
	.code64
2:	pop %rbx
	ret

	.data
	.balign 8
	.globl conf_vec, conf_err
conf_vec: .quad 0
conf_err: .quad 0
conf_recover_rsp: .quad 0
conf_cs64: .word 0
conf_ss64: .word 0

	/* No executable stack (GNU ld). */
	.section .note.GNU-stack, "", @progbits
