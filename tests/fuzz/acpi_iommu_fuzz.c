/* acpi_iommu_fuzz.c - libFuzzer target for the DMAR and IVRS parsers
 * (hypervisor/arch/x86/acpi_iommu.c, docs/iommu.md). Each input is tried
 * as a DMAR and as an IVRS table, as given and with its signature, Length
 * and checksum made right (so that mutations reach the structures behind
 * the header checks). The buffer is an exact-size heap copy: ASan sees any
 * read past it. A parse that succeeds must describe what it claims: units
 * with aligned, non-overlapping register sets, RMRRs with base <= limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ahv/x86/acpi_iommu.h"
#include "../unit/acpi_build.h"

static void check_dmar(const struct ahv_dmar *d)
{
	for (uint32_t i = 0; i < d->n_drhd; i++) {
		if ((d->drhd[i].reg_base & 4095) || !d->drhd[i].reg_base || d->drhd[i].n_scopes > AHV_DMAR_MAX_SCOPES)
			abort();
		for (uint32_t j = 0; j < i; j++)
			if (d->drhd[j].reg_base < d->drhd[i].reg_base + d->drhd[i].reg_size &&
			    d->drhd[i].reg_base < d->drhd[j].reg_base + d->drhd[j].reg_size)
				abort();
	}
	for (uint32_t i = 0; i < d->n_rmrr; i++)
		if (d->rmrr[i].base > d->rmrr[i].limit || !d->rmrr[i].n_scopes)
			abort();
	if (!d->n_drhd || d->n_drhd > AHV_DMAR_MAX_DRHD || d->n_rmrr > AHV_DMAR_MAX_RMRR)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ahv_dmar d;
	static struct ahv_ivrs r;
	const char *why;
	uint8_t *t = malloc(size ? size : 1);
	if (!t)
		return 0;
	memcpy(t, data, size);
	if (ahv_dmar_parse(t, size, &d, &why) == 0)
		check_dmar(&d);
	(void)ahv_ivrs_parse(t, size, &r, &why);
	if (size >= AHV_ACPI_HDR_LEN) {
		acpi_fix(t, size, "DMAR");
		if (ahv_dmar_parse(t, size, &d, &why) == 0) {
			check_dmar(&d);
			if (ahv_acpi_rename(t, size, "AHVD") || ahv_acpi_sum(t, size))
				abort();
		}
		acpi_fix(t, size, "IVRS");
		if (ahv_ivrs_parse(t, size, &r, &why) == 0 && (!r.n_ivhd || r.n_ivhd > AHV_IVRS_MAX_IVHD))
			abort();
	}
	free(t);
	return 0;
}
