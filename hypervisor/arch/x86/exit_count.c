/*
 * exit_count.c - per-vCPU exit counters, both back ends: counted in each
 * exit loop, printed as the AHV-HV-EXITS line at power-off (port_io.c) and
 * in every state dump.
 */
#include "ahv/x86/exits.h"
#include "ahv/x86/log.h"

void ahv_vcpu_count_exit(struct ahv_vcpu *v, uint64_t code)
{
	v->exits++;
	v->exit_count[code < 0x100 ? code : 0x100]++;
}

void ahv_vcpu_print_counters(const struct ahv_vcpu *v)
{
	ahv_log("AHV-HV-EXITS total %lu:", v->exits);
	for (unsigned i = 0; i < AHV_EXIT_COUNTERS; i++)
		if (v->exit_count[i])
			ahv_log(" %s%x=%lu", i == 0x100 ? "other/" : "", i, v->exit_count[i]);
	ahv_log("\n");
}
