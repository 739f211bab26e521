/*
 * boot/config.h - the loader's configuration file on the ESP,
 * \attest-hv\attest-hv.conf (UTF-8/ASCII, one "key = value" per line, '#'
 * comments). Keys:
 *   next          = \path\to\next-stage.efi      (required)
 *   args          = command line for the next stage (optional)
 *   initrd        = \path\to\initrd              (optional; Linux EFI stub:
 *                   appended to args as "initrd=<path>")
 *   guest_key     = \path\key.pem <key-id-hex>   (0..16 lines; the key id,
 *                   SHA-256 of the SPKI DER, pins the file's content so the
 *                   measured config covers the keys)
 *   allow_cpl3    = yes|no   (default yes) user-mode callers may attest
 *   allow_gpa     = yes|no   (default yes) kernel callers may name GPAs
 *   log_port      = 0x2f8|0x3f8|none (default 0x2f8, COM2)
 *   hide_log_port = yes|no   (default yes) the guest sees no UART there
 *   pool_mib      = 4..256   (default 8) hypervisor memory
 *   hypervisor    = on|off   (default on) off: only chain-load (the
 *                   benchmark's bare reference boot uses it)
 *   smp           = on|off   (default off) on: every CPU under the
 *                   hypervisor (docs/smp.md): the loader starts it on each
 *                   application processor through EFI MP services, INIT/SIPI
 *                   are emulated (xAPIC ICR writes trapped), attestations
 *                   stop the other CPUs while they hash. AMD SVM only for
 *                   now: on VT-x the hypervisor refuses to start (fails
 *                   closed). off: the boot CPU only, with a warning when the
 *                   firmware reports more CPUs.
 *   dma_protection = on|off  (default on) on: the hypervisor must take
 *                   the platform's IOMMU (docs/iommu.md), else the loader
 *                   refuses to start; off: start without one (devices can
 *                   then reach hypervisor memory). scripts/mkesp.sh writes
 *                   off unless told, for machines and emulators without one.
 *   dev_key       = allow|deny (default deny) without a usable TPM, sign
 *                   with an ephemeral development key (every report carries
 *                   AHV_REPORT_F_DEV_KEY, which verifiers reject by
 *                   default); deny: no key, attestation answers AHV_E_NO_KEY.
 *                   Never used when a TPM is there but the sealed key does
 *                   not open (changed firmware/image/config): that is always
 *                   AHV_E_NO_KEY (docs/tpm.md).
 * Unknown keys, bad values and duplicates are errors (fail closed).
 * Pure C, no firmware calls: the unit tests run it hosted.
 */
#ifndef AHV_BOOT_CONFIG_H
#define AHV_BOOT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define AHV_CONFIG_PATH "\\attest-hv\\attest-hv.conf"
#define AHV_CFG_MAX_PATH 256
#define AHV_CFG_MAX_ARGS 1024
#define AHV_CFG_MAX_KEYS 16

struct ahv_config {
	char next[AHV_CFG_MAX_PATH];
	char args[AHV_CFG_MAX_ARGS];
	char initrd[AHV_CFG_MAX_PATH];
	unsigned n_keys;
	char key_path[AHV_CFG_MAX_KEYS][AHV_CFG_MAX_PATH];
	uint8_t key_id[AHV_CFG_MAX_KEYS][32];
	int allow_cpl3, allow_gpa, hide_log_port, hypervisor, dev_key;
	int smp; /* smp = on|off, default off (docs/smp.md) */
	int dma_protection; /* dma_protection = on|off, default on (docs/iommu.md) */
	uint16_t log_port;
	unsigned pool_mib;
};

/* 0, or -1 with a plain-words reason (with the line number) in err. */
int ahv_config_parse(const char *text, size_t len, struct ahv_config *cfg, char *err, size_t errcap);

#endif
