/* vmx_run.S - one guest entry and exit (kept tiny, like KVM's vmenter.S).
 *   int ahv_vmx_run(struct ahv_gprs *g, int launched)
 * Loads the guest GPRs except RSP (the VMCS holds guest RSP/RIP/RFLAGS,
 * SDM Vol. 3C §25.4.1), VMLAUNCH (first time) or VMRESUME, and at the VM
 * exit (HOST_RIP = ahv_vmx_exit, HOST_RSP = the stack here, written just
 * before the entry) stores them and returns 0. A failed entry returns
 * 1 (VMfailValid, ZF=1: error number in the VM-instruction error field) or
 * 2 (VMfailInvalid, CF=1) (§31.2 "Conventions", §31.4 error numbers).
 * Offsets: struct ahv_gprs in ahv/x86/hv.h (rax 0, rbx 8, ..., r15 120). */
#include "ahv/x86/gprs.inc"
	.text
	.globl ahv_vmx_run
ahv_vmx_run:
	PUSH_CALLEE_SAVED
	pushq %rdi              /* 0(%rsp): gprs, found again at the exit */
	movq $0x6C14, %rax      /* VMCS_HOST_RSP (Appendix B.4.4) */
	vmwrite %rsp, %rax
	jbe 3f
	movl %esi, %eax
	LOAD_GUEST_GPRS %rdi
	testl %eax, %eax
	movq 0(%rdi), %rax      /* mov leaves the flags of testl alone */
	movq 40(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 3f
1:	vmresume
3:	/* entry failed: CF=1 invalid, ZF=1 valid (the guest GPRs are garbage
	 * in the host registers now; the callee-saved ones come back below) */
	movl $2, %eax
	jc 4f
	movl $1, %eax
4:	popq %rdi
	POP_CALLEE_SAVED
	ret

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
