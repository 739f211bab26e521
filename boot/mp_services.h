/*
 * mp_services.h - the part of EFI_MP_SERVICES_PROTOCOL (UEFI PI 1.7 Vol. 2
 * §13.4) that attest-hv uses: the loader starts the hypervisor on every
 * application processor with it (smp = on, docs/smp.md), and the e2e
 * payload uses it to check every CPU from inside the guest. gnu-efi does not
 * declare it. Needs <efi.h> and <efilib.h> first.
 */
#ifndef AHV_BOOT_MP_SERVICES_H
#define AHV_BOOT_MP_SERVICES_H

/* EFI_AP_PROCEDURE: runs on an AP; no UEFI calls may be made there. */
typedef void(__attribute__((ms_abi)) *ahv_ap_procedure)(void *arg);

/* Its first three members, in protocol order. */
typedef struct ahv_mp_services {
	EFI_STATUS(EFIAPI *GetNumberOfProcessors)(struct ahv_mp_services *self, UINTN *n, UINTN *enabled);
	EFI_STATUS(EFIAPI *GetProcessorInfo)(struct ahv_mp_services *self, UINTN n, void *info);
	EFI_STATUS(EFIAPI *StartupAllAPs)(struct ahv_mp_services *self, ahv_ap_procedure proc, BOOLEAN single,
					  EFI_EVENT wait, UINTN timeout_us, void *arg, UINTN **failed);
} ahv_mp_services;

/* The firmware's MP services and its count of enabled CPUs (*cpus = 1 and
 * NULL when it offers none). */
static inline ahv_mp_services *ahv_mp_locate(UINTN *cpus)
{
	EFI_GUID guid = {0x3fdda605, 0xa76e, 0x4f46, {0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08}};
	ahv_mp_services *mp;
	UINTN n = 0, enabled = 0;
	*cpus = 1;
	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &guid, NULL, (void **)&mp)))
		return NULL;
	if (!EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &n, &enabled)) && enabled)
		*cpus = enabled;
	return mp;
}

#endif
