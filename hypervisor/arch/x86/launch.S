/* launch.S - the blue-pill trampoline shared by the back ends.
 *   int ahv_x86_launch(void *arg, void (*host_entry)(void *, u64 rsp, u64 rip),
 *                      u64 host_rsp)
 * Saves the System V callee-saved registers on the caller's (firmware) stack,
 * then calls host_entry on the host stack with the RSP/RIP at which the guest
 * is to resume. host_entry never returns; the guest does, at 1: below. */
#include "ahv/x86/gprs.inc"
	.text
	.globl ahv_x86_launch
ahv_x86_launch:
	PUSH_CALLEE_SAVED
	movq %rsp, %r8          /* guest RSP */
	leaq 1f(%rip), %r9      /* guest RIP */
	movq %rdx, %rsp         /* host stack */
	movq %rsi, %rax
	movq %r8, %rsi
	movq %r9, %rdx
	call *%rax
	ud2
1:	POP_CALLEE_SAVED
	xorl %eax, %eax
	ret
	.section .note.GNU-stack,"",@progbits
