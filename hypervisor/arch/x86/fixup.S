/* fixup.S - host instructions that may fault on guest-chosen operands,
 * each with an entry in the fixup table (pairs: faulting instruction,
 * resume address). On a fault, ahv_x86_exception finds the pair, sets RAX
 * to 1 + the vector and resumes at the second address (isr.S), which
 * returns that to the C caller (fixup.h). The same idea as Linux's
 * exception tables. System V AMD64 calling convention. */
	.text

/* int ahv_safe_xsetbv(uint32_t xcr, uint64_t val): XSETBV (Vol. 2C) takes
 * the XCR index in ECX and the value in EDX:EAX. */
	.globl ahv_safe_xsetbv
	.align 16
ahv_safe_xsetbv:
	movl %edi, %ecx
	movq %rsi, %rax
	movq %rsi, %rdx
	shrq $32, %rdx
1:	xsetbv
	xorl %eax, %eax
2:	ret

/* int ahv_safe_wrmsr(uint32_t msr, uint64_t val): WRMSR (Vol. 2B). */
	.globl ahv_safe_wrmsr
	.align 16
ahv_safe_wrmsr:
	movl %edi, %ecx
	movq %rsi, %rax
	movq %rsi, %rdx
	shrq $32, %rdx
3:	wrmsr
	xorl %eax, %eax
4:	ret

/* int ahv_safe_rdmsr(uint32_t msr, uint64_t *val): RDMSR (Vol. 2B). */
	.globl ahv_safe_rdmsr
	.align 16
ahv_safe_rdmsr:
	movl %edi, %ecx
5:	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, (%rsi)
	xorl %eax, %eax
6:	ret

/* int ahv_safe_rdpkru(uint32_t *val): RDPKRU (Vol. 2B; opcode 0F 01 EE,
 * ECX = 0, PKRU into EAX, EDX = 0) with the host's CR4.PKE (bit 22, SDM
 * Vol. 3A §2.5) set around it, since RDPKRU is #UD while it is clear. The
 * host never writes PKRU, so it still holds the guest's (neither VM exit
 * nor #VMEXIT switches it). MOV to CR4 #GPs on a CPU without protection
 * keys: that fault is the fixup, CR4 unchanged. */
	.globl ahv_safe_rdpkru
	.align 16
ahv_safe_rdpkru:
	movq %rdi, %r8
	movq %cr4, %r9
	movq %r9, %r10
	btsq $22, %r10
9:	movq %r10, %cr4
	xorl %ecx, %ecx
	.byte 0x0f, 0x01, 0xee	/* rdpkru */
	movq %r9, %cr4
	movl %eax, (%r8)
	xorl %eax, %eax
10:	ret

	.section .data.rel.ro, "aw"
	.align 8
	.globl ahv_fixup_table
ahv_fixup_table:
	.quad 1b, 2b
	.quad 3b, 4b
	.quad 5b, 6b
	.quad 9b, 10b
	.globl ahv_fixup_table_end
ahv_fixup_table_end:
	.section .note.GNU-stack,"",@progbits
