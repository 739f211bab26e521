/*
 * trap.S - the exception catcher and mode switches of the CPL0 test
 * payloads (conformance, hostile; trap.c holds the IDT around it).
 *
 * conf_try(fn, arg) calls fn(arg) and returns 0, or 1 when fn raised an
 * exception: the handler (one stub per vector 0..31 of the payload's own
 * IDT, trap.c loads it around each call) stores the vector and the
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

/* The SysV callee-saved registers. */
	.macro SAVE_CALLEE
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	.endm
	.macro RESTORE_CALLEE
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	.endm

	.globl conf_try
conf_try:
	SAVE_CALLEE
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
	RESTORE_CALLEE
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
 * trap_nmi_count: an NMI handler that counts and returns (IRET unblocks
 * NMIs, SDM Vol. 3A §7.7.1 "Handling Multiple NMIs"), for a payload that
 * takes NMIs from another CPU (trap_idt_gate(2, trap_nmi_count)).
 */
	.balign 16
	.globl trap_nmi_count
trap_nmi_count:
	lock incq trap_nmis(%rip)
	iretq

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

/*
 * conf_legacy_task(blk): a hardware task switch from 32-bit protected mode.
 * From 64-bit mode to compatibility mode (CS = blk->cs32), CR0.PG off: the
 * CPU leaves IA-32e mode (SDM Vol. 3A §10.8.5.4) and runs legacy protected
 * mode without paging (identity: the UEFI map is 1:1). LTR blk->tss_a, then
 * a far JMP to the TSS selector in blk->far (Vol. 3A §9.3): the CPU saves
 * this task into TSS A and starts task B at conf_task_b with TSS B's
 * registers (ESI = blk). Task B records TR, CR0 and EFLAGS in blk, sets
 * CR0.PG again (EFER.LME is still 1: IA-32e mode, compatibility mode) and
 * far-returns to 64-bit mode, where the saved stack and segment registers
 * come back. blk, the code and the stacks lie below 4 GiB.
 * With blk->op = 1 there is no task switch: in legacy protected mode the
 * code runs CPUID leaf 0 and RDMSR EFER (both intercepted by a back end),
 * records CR0, and goes back the same way.
 * blk layout (32-bit words): 0 TR, 4 CR0, 8 EFLAGS (task B's view), 12 the
 * 64-bit CS, 16 the 64-bit return point, 20 m16:32 pointer to TSS B,
 * 28 cs32, 32 TSS A selector, 36 op, 40/44/48 CPUID.0 EBX/EDX/ECX,
 * 52 EFER[31:0].
 */
	.globl conf_legacy_task
conf_legacy_task:
	SAVE_CALLEE
	mov %rsp, legacy_rsp(%rip)
	mov %ds, legacy_ds(%rip)
	mov %es, legacy_es(%rip)
	mov %ss, legacy_ss(%rip)
	mov %fs, legacy_fs(%rip)
	mov %gs, legacy_gs(%rip)
	xor %eax, %eax
	mov %cs, %ax
	mov %eax, 12(%rdi)
	lea 3f(%rip), %rax
	mov %eax, 16(%rdi)
	movl 28(%rdi), %eax
	push %rax
	lea 1f(%rip), %rax
	push %rax
	lretq
	.code32
1:	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0			/* legacy protected mode from here */
	cmpl $0, 36(%edi)
	jne 4f
	mov 32(%edi), %eax
	ltr %ax
	ljmp *20(%edi)			/* task switch to TSS B */
	.globl conf_legacy_after_ljmp
conf_legacy_after_ljmp:
	ud2				/* task A is never resumed */

4:	xor %eax, %eax			/* op 1 */
	cpuid
	mov %ebx, 40(%edi)
	mov %edx, 44(%edi)
	mov %ecx, 48(%edi)
	mov $0xC0000080, %ecx		/* IA32_EFER */
	rdmsr
	mov %eax, 52(%edi)
	mov %cr0, %eax
	mov %eax, 4(%edi)
	mov %edi, %esi
	jmp 5f

	.globl conf_task_b
conf_task_b:
	str %eax
	mov %eax, 0(%esi)
	mov %cr0, %eax
	mov %eax, 4(%esi)
	pushf
	pop %eax
	mov %eax, 8(%esi)
5:	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0			/* IA-32e mode again (compatibility mode) */
	pushl 12(%esi)
	pushl 16(%esi)
	lret
	.code64
3:	mov legacy_ss(%rip), %ss
	mov legacy_ds(%rip), %ds
	mov legacy_es(%rip), %es
	mov legacy_fs(%rip), %fs
	mov legacy_gs(%rip), %gs
	mov legacy_rsp(%rip), %rsp
	RESTORE_CALLEE
	ret

	.data
	.balign 8
	.globl conf_vec, conf_err, trap_nmis
conf_vec: .quad 0
trap_nmis: .quad 0
conf_err: .quad 0
conf_recover_rsp: .quad 0
conf_cs64: .word 0
conf_ss64: .word 0
legacy_ds: .word 0
legacy_es: .word 0
legacy_ss: .word 0
legacy_fs: .word 0
legacy_gs: .word 0
	.balign 8
legacy_rsp: .quad 0

	/* No executable stack (GNU ld). */
	.section .note.GNU-stack, "", @progbits
