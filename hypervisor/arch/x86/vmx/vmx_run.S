/* vmx_run.S - one guest entry and exit (kept tiny, like KVM's vmenter.S).
 *   int ahv_vmx_run(struct ahv_gprs *g, int launched, const uint32_t *nmi)
 * Loads the guest GPRs except RSP (the VMCS holds guest RSP/RIP/RFLAGS,
 * SDM Vol. 3C §25.4.1), VMLAUNCH (first time) or VMRESUME, and at the VM
 * exit (HOST_RIP = ahv_vmx_exit, HOST_RSP = the stack here, written just
 * before the entry) stores them and returns 0. A failed entry returns
 * 1 (VMfailValid, ZF=1: error number in the VM-instruction error field) or
 * 2 (VMfailInvalid, CF=1) (§31.2 "Conventions", §31.4 error numbers).
 * It returns 3 without entering when a stop is on (ahv_smp_stop_active) or
 * *nmi is set (an NMI for the guest arrived in the host): the caller checks
 * in / injects, then calls again. The entry window, from ahv_vmx_window to
 * the VM entry, only loads and compares, so the host NMI handler (isr.S)
 * sends an NMI that lands in it back to ahv_vmx_window: the checks then see
 * what the NMI meant, and no kick or guest NMI is lost on the way in.
 * Offsets: struct ahv_gprs in ahv/x86/hv.h (rax 0, rbx 8, ..., r15 120). */
#include "ahv/x86/gprs.inc"
	.text
	.globl ahv_vmx_run
ahv_vmx_run:
	PUSH_CALLEE_SAVED
	pushq %rdx              /* 16(%rsp): nmi */
	pushq %rsi              /* 8(%rsp): launched */
	pushq %rdi              /* 0(%rsp): gprs, found again at the exit */
	movq $0x6C14, %rax      /* VMCS_HOST_RSP (Appendix B.4.4) */
	vmwrite %rsp, %rax
	jbe 3f
	.globl ahv_vmx_window
ahv_vmx_window:
	cmpl $0, ahv_smp_stop_active(%rip)
	jne 5f
	movq 16(%rsp), %rax
	cmpl $0, (%rax)
	jne 5f
	movq 0(%rsp), %rdi
	LOAD_GUEST_GPRS %rdi
	movq 0(%rdi), %rax
	movq 40(%rdi), %rdi
	cmpl $0, 8(%rsp)
	jne 1f
	vmlaunch
	jmp 3f
1:	vmresume
	.globl ahv_vmx_window_end
ahv_vmx_window_end:
3:	/* entry failed: CF=1 invalid, ZF=1 valid (the guest GPRs are garbage
	 * in the host registers now; the callee-saved ones come back below) */
	movl $2, %eax
	jc 4f
	movl $1, %eax
4:	popq %rdi
	popq %rsi
	popq %rdx
	POP_CALLEE_SAVED
	ret
5:	movl $3, %eax           /* not entered: a stop, or an NMI to inject */
	jmp 4b

	.globl ahv_vmx_exit
ahv_vmx_exit:
	pushq %rdi
	movq 8(%rsp), %rdi      /* gprs */
	movq %rax, 0(%rdi)
	STORE_GUEST_GPRS %rdi
	popq %rax
	movq %rax, 40(%rdi)
	xorl %eax, %eax
	jmp 4b
	.section .note.GNU-stack,"",@progbits
