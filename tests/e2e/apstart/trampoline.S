/* trampoline.S - what an AP runs first after the payload's INIT-SIPI-SIPI:
 * real mode at CS = vector << 8, IP = 0 (SDM Vol. 3A §9.4.4.1). The
 * payload copies [ahv_ap_tramp_start, ahv_ap_tramp_end) to a page below
 * 1 MiB. The AP reads the hypervisor's CPUID signature (leaf 0x40000000,
 * protocol.md §2; CPUID exits to the hypervisor in any mode), stores it and
 * its own initial APIC id next to the code, counts itself in, and halts
 * with interrupts off. CS-relative addressing: CS's base is the page. */
	.text
	.globl ahv_ap_tramp_start, ahv_ap_tramp_end
	.code16
ahv_ap_tramp_start:
	cli
	movl $0x40000000, %eax
	xorl %ecx, %ecx
	cpuid
	movl %ebx, %cs:(tr_sig - ahv_ap_tramp_start)
	movl %ecx, %cs:(tr_sig + 4 - ahv_ap_tramp_start)
	movl %edx, %cs:(tr_sig + 8 - ahv_ap_tramp_start)
	movl $1, %eax
	cpuid
	shrl $24, %ebx                 /* CPUID.1:EBX[31:24] initial APIC id */
	movl %ebx, %cs:(tr_apic - ahv_ap_tramp_start)
	lock incl %cs:(tr_count - ahv_ap_tramp_start)
1:	hlt
	jmp 1b
	.balign 4
tr_sig:	.long 0, 0, 0
tr_apic: .long 0
tr_count: .long 0
ahv_ap_tramp_end:
	.code64
	.section .note.GNU-stack,"",@progbits
