/*
 * boot/tcg2_efi.h - the part of EFI_TCG2_PROTOCOL attest-hv uses (gnu-efi
 * 3.0.15 has no definition), and a TPM transport for boot/tpm/ over its
 * SubmitCommand. Used by the loader (boot/tpm_boot.c) and by the e2e-tpm
 * guest payload (tests/e2e/tpm/), which tries the same TPM from the guest.
 *
 * TCG EFI Protocol Specification, Family "2.0", Level 00 rev 00.13, s6
 * (EFI_TCG2_PROTOCOL: GetCapability, GetEventLog, HashLogExtendEvent,
 * SubmitCommand; EFI_TCG2_EVENT; EFI_TCG2_EVENT_LOG_FORMAT_TCG_2 is the
 * crypto-agile log of the PC Client PFP spec s10).
 */
#ifndef AHV_BOOT_TCG2_EFI_H
#define AHV_BOOT_TCG2_EFI_H

#include <efi.h>
#include <efilib.h>
#include <stdint.h>
#include <string.h>

#define AHV_TCG2_PROTOCOL_GUID \
	{0x607f766c, 0x7455, 0x42be, {0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f}}
#define AHV_TCG2_EVENT_LOG_FORMAT_TCG_2 0x00000002u
#define AHV_TCG2_EVENT_HEADER_SIZE 14u /* UINT32 HeaderSize, UINT16 HeaderVersion,
                                        * UINT32 PCRIndex, UINT32 EventType (packed) */

/* Naturally aligned, 36 bytes (a packed definition reads garbage:
 * docs/qemu.md). */
typedef struct {
	uint8_t Size;
	uint8_t StructureVersion[2];
	uint8_t ProtocolVersion[2];
	uint32_t HashAlgorithmBitmap;
	uint32_t SupportedEventLogs;
	uint8_t TPMPresentFlag;
	uint16_t MaxCommandSize;
	uint16_t MaxResponseSize;
	uint32_t ManufacturerID;
	uint32_t NumberOfPCRBanks;
	uint32_t ActivePcrBanks;
} ahv_tcg2_capability;

typedef struct ahv_tcg2 ahv_tcg2;
struct ahv_tcg2 {
	EFI_STATUS(EFIAPI *GetCapability)(ahv_tcg2 *self, ahv_tcg2_capability *cap);
	EFI_STATUS(EFIAPI *GetEventLog)(ahv_tcg2 *self, UINT32 format, EFI_PHYSICAL_ADDRESS *location,
					EFI_PHYSICAL_ADDRESS *last_entry, BOOLEAN *truncated);
	EFI_STATUS(EFIAPI *HashLogExtendEvent)(ahv_tcg2 *self, UINT64 flags, EFI_PHYSICAL_ADDRESS data,
					       UINT64 data_len, void *event);
	EFI_STATUS(EFIAPI *SubmitCommand)(ahv_tcg2 *self, UINT32 in_size, UINT8 *in, UINT32 out_size,
					  UINT8 *out);
	/* GetActivePcrBanks, SetActivePcrBanks, GetResultOfSetActivePcrBanks:
	 * not used. */
};

/* The TCG2 protocol if the firmware has one with a TPM present, else NULL. */
static inline ahv_tcg2 *ahv_tcg2_locate(void)
{
	EFI_GUID g = AHV_TCG2_PROTOCOL_GUID;
	ahv_tcg2 *p = NULL;
	ahv_tcg2_capability cap;
	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &g, NULL, (void **)&p)) || !p)
		return NULL;
	memset(&cap, 0, sizeof(cap));
	cap.Size = (uint8_t)sizeof(cap);
	if (EFI_ERROR(uefi_call_wrapper(p->GetCapability, 2, p, &cap)) || !cap.TPMPresentFlag)
		return NULL;
	return p;
}

/* ahv_tpm_submit_fn over SubmitCommand. SubmitCommand does not return the
 * response length: take responseSize from the header (bytes 2..5) and refuse
 * anything under the 10-byte header or over the buffer (boot/tpm then checks
 * the response against the command table). */
static inline int ahv_tcg2_submit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
				  size_t rsp_cap, size_t *rsp_len)
{
	ahv_tcg2 *p = ctx;
	if (!p || cmd_len > 0xffffffffu || rsp_cap < 10 || rsp_cap > 0xffffffffu)
		return -1;
	memset(rsp, 0, 10);
	EFI_STATUS st = uefi_call_wrapper(p->SubmitCommand, 5, p, (UINT32)cmd_len, (UINT8 *)cmd,
					  (UINT32)rsp_cap, rsp);
	if (EFI_ERROR(st))
		return -1;
	uint32_t n = (uint32_t)rsp[2] << 24 | (uint32_t)rsp[3] << 16 | (uint32_t)rsp[4] << 8 | rsp[5];
	if (n < 10 || n > rsp_cap)
		return -1;
	*rsp_len = n;
	return 0;
}

#endif
