/* msr_policy_test.c - the MSR allow-list (hypervisor/arch/x86/msr_policy.c)
 * against the classes of issue "the guest kernel is the adversary": every
 * MSR that takes a physical address, changes time, changes APIC routing or
 * controls tracing exits; what the policy does not name exits too (so its
 * writes are refused); guest state the VMCS/VMCB switches passes. A case
 * an emulator cannot show (Intel PT on Bochs/QEMU) is judged here.
 * Label: unit. */
#include <stdio.h>
#include "attest/wire.h"
#include "ahv/x86/msr_policy.h"

static int fails, count;

static void want(const char *what, uint32_t msr, uint32_t be, int smp, enum ahv_msr_class exp)
{
	enum ahv_msr_class got = ahv_msr_class(msr, be, smp);
	count++;
	if (got != exp) {
		fails++;
		printf("FAIL %s (MSR %x, backend %u, smp %d): class %d, want %d\n", what, msr, be, smp, got, exp);
	}
}

int main(void)
{
	const uint32_t V = AHV_BACKEND_VMX, S = AHV_BACKEND_SVM;
	for (uint32_t be = 1; be <= 2; be++) {
		/* time */
		want("IA32_TSC", 0x10, be, 0, AHV_MSR_EMULATE);
		want("IA32_TSC_ADJUST", 0x3B, be, 0, AHV_MSR_EMULATE);
		/* APIC routing */
		want("IA32_APIC_BASE", 0x1B, be, 0, AHV_MSR_EMULATE);
		want("x2APIC ICR, smp = on", 0x830, be, 1, AHV_MSR_DENY);
		want("x2APIC ICR, smp = off", 0x830, be, 0, AHV_MSR_PASS);
		want("x2APIC EOI", 0x80B, be, 1, AHV_MSR_PASS);
		/* tracing to physical memory */
		want("IA32_RTIT_CTL", 0x570, be, 0, AHV_MSR_DENY);
		want("IA32_RTIT_OUTPUT_BASE", 0x560, be, 0, AHV_MSR_DENY);
		want("IA32_RTIT_OUTPUT_MASK_PTRS", 0x561, be, 0, AHV_MSR_DENY);
		want("IA32_RTIT_ADDR3_B", 0x58B, be, 0, AHV_MSR_DENY);
		want("IA32_DS_AREA", 0x600, be, 0, AHV_MSR_DENY);
		want("IA32_PEBS_ENABLE", 0x3F1, be, 0, AHV_MSR_DENY);
		want("IA32_DEBUGCTL", 0x1D9, be, 0, AHV_MSR_EMULATE);
		want("microcode update trigger", 0x79, be, 0, AHV_MSR_DENY);
		/* guest state */
		want("LSTAR", 0xC0000082, be, 0, AHV_MSR_PASS);
		want("KERNEL_GS_BASE", 0xC0000102, be, 0, AHV_MSR_PASS);
		want("SYSENTER_EIP", 0x176, be, 0, AHV_MSR_PASS);
		want("SPEC_CTRL", 0x48, be, 0, AHV_MSR_PASS);
		/* configuration: writes seen */
		want("MISC_ENABLE", 0x1A0, be, 0, AHV_MSR_WRITE_EXIT);
		want("MTRRdefType", 0x2FF, be, 0, AHV_MSR_WRITE_EXIT);
		want("IA32_XSS (Linux sets it with XSAVES)", 0xDA0, be, 0, AHV_MSR_WRITE_EXIT);
		/* not named: exits, writes refused */
		want("unnamed 0x1234", 0x1234, be, 0, AHV_MSR_UNLISTED);
		want("unnamed 0xC0011FFF", 0xC0011FFF, be, 0, AHV_MSR_UNLISTED);
	}
	/* the hidden extensions, per vendor */
	want("VMX_BASIC on VT-x", 0x480, V, 0, AHV_MSR_DENY);
	want("VMX_VMFUNC on VT-x", 0x491, V, 0, AHV_MSR_DENY);
	want("VMX_BASIC on SVM", 0x480, S, 0, AHV_MSR_UNLISTED);
	want("FEATURE_CONTROL on VT-x", 0x3A, V, 0, AHV_MSR_EMULATE);
	want("VM_CR on SVM", 0xC0010114, S, 0, AHV_MSR_DENY);
	want("VM_HSAVE_PA on SVM", 0xC0010117, S, 0, AHV_MSR_DENY);
	want("SYSCFG on SVM", 0xC0010010, S, 0, AHV_MSR_DENY);
	want("EFER on SVM", 0xC0000080, S, 0, AHV_MSR_EMULATE);
	want("EFER on VT-x", 0xC0000080, V, 0, AHV_MSR_PASS);
	printf("msr_policy_test: %d cases, %d failed\n", count, fails);
	return fails != 0;
}
