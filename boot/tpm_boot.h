/*
 * boot/tpm_boot.h - the loader's TPM flow (boot/tpm_boot.c): measure the
 * configuration, seal or unseal the hypervisor's signing key, export the
 * enrollment evidence, lock. See docs/tpm.md "The loader's flow".
 *
 * Order in the loader (every boot):
 *   ahv_tpmb_open()                 find EFI_TCG2_PROTOCOL
 *   ahv_tpmb_measure() ...          the config, then each enrolled guest key
 *   ahv_tpmb_key()                  seal (first boot) or unseal
 *   ahv_tpmb_lock()                 before the next stage is even loaded
 *   ahv_tpmb_take_key()             into the hypervisor's handoff, then wiped
 * fail paths call ahv_tpmb_lock() and ahv_tpmb_wipe().
 */
#ifndef AHV_BOOT_TPM_BOOT_H
#define AHV_BOOT_TPM_BOOT_H

#include <efi.h>
#include <stddef.h>
#include <stdint.h>

/* Where the loader keeps the key's files on the ESP. */
#define AHV_TPMB_DIR "\\attest-hv\\tpm"
#define AHV_TPMB_BLOB AHV_TPMB_DIR "\\hv-key.blob"     /* sealed private key */
#define AHV_TPMB_PEM AHV_TPMB_DIR "\\hv-key.pem"       /* its public key */
#define AHV_TPMB_AK AHV_TPMB_DIR "\\ak.pem"            /* attestation key */
#define AHV_TPMB_QUOTE AHV_TPMB_DIR "\\quote.msg"      /* TPMS_ATTEST */
#define AHV_TPMB_SIG AHV_TPMB_DIR "\\quote.sig"        /* TPMT_SIGNATURE */
#define AHV_TPMB_LOG AHV_TPMB_DIR "\\eventlog.bin"     /* TCG2 event log */
#define AHV_TPMB_AKPUB AHV_TPMB_DIR "\\ak.pub"        /* the AK's TPMT_PUBLIC */
#define AHV_TPMB_EKCRT AHV_TPMB_DIR "\\ek.crt"        /* EK certificate (DER) */
/* From the verifier: TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET (MakeCredential
 * for this TPM's EK and the AK's name); the loader answers with the secret. */
#define AHV_TPMB_CRED AHV_TPMB_DIR "\\credential.bin"
#define AHV_TPMB_ANSWER AHV_TPMB_DIR "\\credential.ans"

/* PCR and event type of the loader's measurements: PCR 8 (PC Client PFP
 * spec s3.3.4 Table 1: PCRs 8-15 are for the OS / its loader; PCR 8 is what
 * shim/GRUB use for their configuration and command lines), EV_IPL
 * (PFP spec s10.4.1, 0x0000000D: "events used by the OS loader"). */
#define AHV_TPMB_PCR 8u
#define AHV_TPMB_EV_IPL 0x0000000Du

/* Values of ahv_handoff.key_mode (hypervisor/arch/x86/include/ahv/x86/handoff.h). */
enum ahv_tpmb_key_mode { AHV_TPMB_KEY_DEV = 0, AHV_TPMB_KEY_SEALED = 1, AHV_TPMB_KEY_NONE = 2 };

typedef EFI_STATUS (*ahv_tpmb_read_fn)(const char *path, void **data, UINTN *size);

/* 1 when a TPM is there (EFI_TCG2_PROTOCOL, TPM present), else 0. */
int ahv_tpmb_open(ahv_tpmb_read_fn reader, EFI_HANDLE device);
int ahv_tpmb_present(void);
/* HashLogExtendEvent(PCR 8, EV_IPL, event data = desc) over data. 0, or -1
 * (also when no TPM). */
int ahv_tpmb_measure(const char *desc, const void *data, size_t len);
/* Seal or unseal; returns AHV_TPMB_KEY_SEALED (the key is held for
 * ahv_tpmb_take_key), else _NONE. A TPM that fails commands outright
 * (transport, unexpected response codes) while sealing or unsealing gives
 * _DEV when dev_key_allowed; a seal that does not open never does. why gets
 * one line. */
int ahv_tpmb_key(int dev_key_allowed, char *why, size_t cap);
/* Extend PCR 8 with AHV_TPM_LOCK_EVENT (logged, EV_IPL). Idempotent. Also
 * wipes the TPM command/response buffers. */
void ahv_tpmb_lock(void);
/* Copy the held private scalar (32 bytes) out, then wipe it here. */
void ahv_tpmb_take_key(uint8_t d[32]);
/* Wipe every secret this module holds. */
void ahv_tpmb_wipe(void);

#endif
