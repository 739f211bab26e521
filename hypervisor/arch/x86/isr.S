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
	andq $-16, %rsp
	call ahv_x86_exception
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
