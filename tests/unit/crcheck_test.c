/* crcheck_test.c - the MOV-to-CR0/CR4 rules the VT-x back end applies to a
 * guest write that exits (hypervisor/arch/x86/include/ahv/x86/crcheck.h),
 * case by case against SDM Vol. 2B "MOV - Move to/from Control Registers".
 * Label: unit. */
#include <stdio.h>
#include "ahv/x86/crcheck.h"

static int fails, count;

static void want(const char *what, int got, int exp)
{
	count++;
	if (got != exp) {
		fails++;
		printf("FAIL %s: got %s, want %s\n", what, got ? "#GP" : "ok", exp ? "#GP" : "ok");
	}
}

int main(void)
{
	/* A 64-bit kernel: CR0 PE|MP|ET|NE|WP|AM|PG, CR4 PAE|PGE|OSFXSR, LME|LMA. */
	const struct ahv_cr_ctx lm = {0x80050033, 0x1000, 0x6a0, 0x500, 1};
	/* 32-bit protected mode without paging. */
	const struct ahv_cr_ctx pm = {0x11, 0, 0, 0, 0};
	/* Protected mode, paging off, LME set, PAE off: entering long mode. */
	const struct ahv_cr_ctx pre = {0x11, 0x1000, 0, 0x100, 0};
	const uint64_t sup = 0x7707ff; /* a Skylake-like CR4: no VMXE, no LA57 */

	want("CR0 same value", ahv_cr0_write_faults(&lm, 0x80050033), 0);
	want("CR0 WP off", ahv_cr0_write_faults(&lm, 0x80040033), 0);
	want("CR0 bit 32", ahv_cr0_write_faults(&lm, 0x180050033ull), 1);
	want("CR0 bit 63", ahv_cr0_write_faults(&lm, 0x8000000080050033ull), 1);
	want("CR0 PG without PE", ahv_cr0_write_faults(&pm, 0x80000010), 1);
	want("CR0 NW without CD", ahv_cr0_write_faults(&pm, 0x20000011), 1);
	want("CR0 CD and NW", ahv_cr0_write_faults(&pm, 0x60000011), 0);
	want("CR0 PG off in 64-bit mode", ahv_cr0_write_faults(&lm, 0x00050033), 1);
	want("CR0 PG on with LME, no PAE", ahv_cr0_write_faults(&pre, 0x80000011), 1);
	want("CR0 PG on, 32-bit", ahv_cr0_write_faults(&pm, 0x80000011), 0);
	want("CR4 same value", ahv_cr4_write_faults(&lm, 0x6a0, sup), 0);
	want("CR4 OSXSAVE on", ahv_cr4_write_faults(&lm, 0x406a0, sup), 0);
	want("CR4 VMXE (hidden)", ahv_cr4_write_faults(&lm, 0x26a0, sup), 1);
	want("CR4 bit 24 (reserved)", ahv_cr4_write_faults(&lm, 0x10006a0, sup), 1);
	want("CR4 bit 63", ahv_cr4_write_faults(&lm, 0x80000000000006a0ull, sup), 1);
	want("CR4 PAE off in IA-32e", ahv_cr4_write_faults(&lm, 0x680, sup), 1);
	want("CR4 LA57 change in IA-32e", ahv_cr4_write_faults(&lm, 0x16a0, sup | CRC_CR4_LA57), 1);
	want("CR4 PCIDE on, CR3[11:0] = 0", ahv_cr4_write_faults(&lm, 0x206a0, sup), 0);
	const struct ahv_cr_ctx lm_pcid3 = {0x80050033, 0x1003, 0x6a0, 0x500, 1};
	want("CR4 PCIDE on, CR3[11:0] != 0", ahv_cr4_write_faults(&lm_pcid3, 0x206a0, sup), 1);
	want("CR4 PCIDE on outside IA-32e", ahv_cr4_write_faults(&pm, 0x20000, sup), 1);
	want("CR4 PAE off, 32-bit", ahv_cr4_write_faults(&pm, 0x0, sup), 0);
	printf("crcheck_test: %d cases, %d failed\n", count, fails);
	return fails != 0;
}
