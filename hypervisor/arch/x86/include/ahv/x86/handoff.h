/*
 * ahv/x86/handoff.h - the loader/hypervisor hand-off ABI, and all that
 * boot/ sees of the hypervisor: what the loader fills in (struct
 * ahv_handoff), the two entry points it calls at the resident copy's
 * address (ahv_hv_prepare on the boot CPU, ahv_hv_prepare_ap on each
 * application processor), and ahv_x86_launch, which enters the guest
 * from the loader's own image (docs/architecture.md "Boot").
 */
#ifndef AHV_X86_HANDOFF_H
#define AHV_X86_HANDOFF_H

#include <stdint.h>
#include "ahv/crypto.h"
#include "ahv/x86/acpi_madt.h"

/* ---- loader -> hypervisor handoff ---------------------------------------- */
#define AHV_HANDOFF_MAGIC 0x46464F48564841ull /* "AHVHOFF" */
#define AHV_MAX_MEMMAP 512
#define AHV_MAX_GUEST_KEYS 16
#define AHV_MAX_HIDDEN 8

/* One UEFI memory-map range at hypervisor start (type: EFI_MEMORY_TYPE). */
struct ahv_mem_range {
	uint64_t start, end; /* [start, end) */
	uint32_t type, pad;
};

/* Policy bits from the ESP configuration (ahv_handoff.policy). */
#define AHV_HO_ALLOW_CPL3 (1u << 0)     /* CPL3 callers may attest (GVA only) */
#define AHV_HO_ALLOW_GPA (1u << 1)      /* CPL0 callers may name GPA ranges */
#define AHV_HO_HIDE_LOG_PORT (1u << 2)  /* guest sees no UART at log port */
#define AHV_HO_SMP (1u << 3)            /* smp = on: every CPU (docs/smp.md) */
#define AHV_HO_DMA_REQUIRED (1u << 4)   /* dma_protection = on (docs/iommu.md) */


struct ahv_handoff {
	uint64_t magic;
	uint64_t pool_base, pool_size, pool_used; /* runtime-services-data pool */
	uint64_t image_base, image_size;          /* resident copy of the image */
	uint16_t log_port;
	uint16_t pad0;
	uint32_t policy;
	uint32_t n_memmap;
	uint32_t n_guest_keys;
	struct ahv_mem_range memmap[AHV_MAX_MEMMAP];
	ahv_ec_pub guest_keys[AHV_MAX_GUEST_KEYS];
	uint8_t guest_key_ids[AHV_MAX_GUEST_KEYS][32];
	uint8_t image_digest[32];  /* SHA-256 of the loader/hypervisor file */
	uint8_t config_digest[32]; /* SHA-256 of the configuration file */
	uint64_t rtc_unix_ns;      /* RTC at boot (UTC), 0 if unreadable */
	uint64_t tsc_at_rtc;
	uint64_t tsc_hz;           /* calibrated by the loader against Stall() */
	uint16_t pm1a_cnt_port;    /* ACPI FADT PM1a_CNT_BLK (I/O), 0 if none */
	uint16_t pad1[3];
	char error[160];           /* why ahv_hv_main failed, for the loader */
	/* Signing key chosen by the loader (boot/tpm_boot.c, docs/tpm.md). */
	uint32_t key_mode;         /* AHV_HO_KEY_* */
	uint32_t pad2;
	uint8_t key_d[32];         /* AHV_HO_KEY_SEALED: the unsealed P-256
	                            * scalar; wiped by ahv_hv_prepare */
	/* ACPI tables that describe IOMMUs, found by the loader through the
	 * XSDT (0: none); the hypervisor takes the units (docs/iommu.md). */
	uint64_t acpi_dmar, acpi_ivrs;
	/* The MCFG table (PCI Firmware 3.0 §4.1.2; 0: none): where the IOMMU
	 * functions' ECAM pages are, to guard them (pcicfg.c). */
	uint64_t acpi_mcfg;
	/* The I/O APICs, from the MADT (acpi_madt.h; the PC default address
	 * where there is none): with smp = on each one's register page is
	 * guarded (docs/hostile.md "INIT that does not come through the ICR"). */
	struct ahv_ioapics ioapics;
};
#define AHV_HO_KEY_DEV 0u    /* ephemeral development key (AHV_PLAT_DEV_KEY) */
#define AHV_HO_KEY_SEALED 1u /* key_d, unsealed from the TPM */
#define AHV_HO_KEY_NONE 2u   /* no key: attestation answers AHV_E_NO_KEY */

/* What the loader needs to enter the guest: it calls
 * ahv_x86_launch(arg, entry, host_rsp) from ITS OWN image, so that the guest
 * resumes in loader code, not in the hidden resident copy. */
struct ahv_launch {
	void *arg;
	void (*entry)(void *arg, uint64_t guest_rsp, uint64_t guest_rip);
	uint64_t host_rsp;
};

/* Entry from the loader (called at the resident copy's address): set up
 * everything for the boot CPU. 0 and *out filled, or -1 with h->error. */
int ahv_hv_prepare(struct ahv_handoff *h, struct ahv_launch *out);

/* smp = on: called on each application processor (in the resident copy,
 * after ahv_hv_prepare on the boot CPU, concurrently): its vCPU, host stack
 * and TSS; *out to enter the guest with ahv_x86_launch. 0 or -1. */
int ahv_hv_prepare_ap(struct ahv_launch *out);
/* launch.S: push callee-saved registers, switch to host_rsp and call
 * host_entry(arg, guest_rsp, guest_rip); the guest later resumes at
 * guest_rip with guest_rsp, pops them and returns 0 to the caller. */
int ahv_x86_launch(void *arg, void (*host_entry)(void *arg, uint64_t guest_rsp, uint64_t guest_rip),
		   uint64_t host_rsp);

#endif
