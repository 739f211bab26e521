/*
 * boot/loader.c - attest-hv's UEFI loader (\EFI\BOOT\BOOTX64.EFI).
 *
 *  1. reads \attest-hv\attest-hv.conf and the enrolled guest keys from the
 *     partition it was loaded from, measures its own file and the config;
 *  2. loads (but does not start) the next stage, so that a missing kernel is
 *     reported before anything changes;
 *  3. reserves the hypervisor's memory as EfiRuntimeServicesData (pool) and
 *     EfiRuntimeServicesCode (a resident copy of this very image, relocated
 *     to its new address): the OS never reuses runtime memory, while this
 *     loader's own EfiLoaderCode pages are freed (docs/pitfalls.md 6);
 *  4. asks the resident copy to build the hypervisor (host page tables, GDT,
 *     IDT, TSS, stacks, VMCB, NPT) and enters the guest from here, so the CPU
 *     continues in this loader as the guest;
 *  5. starts the next stage, which runs as the guest.
 * Every failure before step 4 is printed in plain words on the console (which
 * OVMF mirrors to the serial port) and on the hypervisor log port, and the
 * loader returns to the firmware. Markers: "AHV-BOOT: ..." lines.
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/crypto.h"
#include "ahv/hex.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/handoff.h"
#include "ahv/x86/log.h"
#include "acpi_find.h"
#include "attest/wire.h"
#include "config.h"
#include "mp_services.h"
#include "tpm_boot.h"

static uint8_t loader_crypto_pool[128 * 1024] __attribute__((aligned(16)));
static EFI_HANDLE self;
static EFI_LOADED_IMAGE *self_li;
static uint16_t log_port = AHV_LOG_PORT_COM2;

void ahv_crypto_fatal(int status);

/* ---- messages ------------------------------------------------------------- */
void ahv_boot_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define say ahv_boot_say
void ahv_boot_say(const char *fmt, ...)
{
	char buf[400];
	CHAR16 wbuf[400];
	va_list ap;
	va_start(ap, fmt);
	ahv_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	size_t i;
	for (i = 0; buf[i] && i + 1 < 400; i++)
		wbuf[i] = (CHAR16)(uint8_t)buf[i];
	wbuf[i] = 0;
	Print(L"%s\r\n", wbuf);
}

static EFI_STATUS fail(EFI_STATUS st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static EFI_STATUS fail(EFI_STATUS st, const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	ahv_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The sealed key stays locked and wiped whatever boots next. */
	ahv_tpmb_lock();
	ahv_tpmb_wipe();
	say("AHV-BOOT: ERROR: %s", buf);
	if (log_port) /* the firmware may not mirror its console there */
		ahv_log("AHV-BOOT: ERROR: %s\n", buf);
	say("AHV-BOOT: the hypervisor was not started; returning to the firmware.");
	/* Let a person read it before the boot manager moves on. */
	uefi_call_wrapper(BS->Stall, 1, 3 * 1000 * 1000);
	return st;
}

/* ---- files on the boot partition ---------------------------------------- */
static void to_wide(CHAR16 *dst, size_t cap, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = (CHAR16)(uint8_t)src[i];
	dst[i] = 0;
}

static EFI_STATUS read_file(const char *path, void **data, UINTN *size)
{
	CHAR16 wpath[AHV_CFG_MAX_PATH];
	EFI_FILE_HANDLE root, fh;
	EFI_STATUS st;
	to_wide(wpath, AHV_CFG_MAX_PATH, path);
	root = LibOpenRoot(self_li->DeviceHandle);
	if (!root)
		return EFI_NOT_FOUND;
	st = uefi_call_wrapper(root->Open, 5, root, &fh, wpath, EFI_FILE_MODE_READ, 0);
	uefi_call_wrapper(root->Close, 1, root);
	if (EFI_ERROR(st))
		return st;
	EFI_FILE_INFO *info = LibFileInfo(fh);
	if (!info) {
		uefi_call_wrapper(fh->Close, 1, fh);
		return EFI_DEVICE_ERROR;
	}
	UINTN n = info->FileSize;
	FreePool(info);
	void *buf = AllocatePool(n + 1);
	if (!buf) {
		uefi_call_wrapper(fh->Close, 1, fh);
		return EFI_OUT_OF_RESOURCES;
	}
	UINTN got = n;
	st = uefi_call_wrapper(fh->Read, 3, fh, &got, buf);
	uefi_call_wrapper(fh->Close, 1, fh);
	if (EFI_ERROR(st) || got != n) {
		FreePool(buf);
		return EFI_ERROR(st) ? st : EFI_DEVICE_ERROR;
	}
	((char *)buf)[n] = 0;
	*data = buf;
	*size = n;
	return EFI_SUCCESS;
}

/* The path of this image's own file, from its device path's file nodes. */
static int own_path(char *out, size_t cap)
{
	EFI_DEVICE_PATH *dp = self_li->FilePath;
	size_t n = 0;
	while (dp && !IsDevicePathEnd(dp)) {
		if (DevicePathType(dp) == MEDIA_DEVICE_PATH && DevicePathSubType(dp) == MEDIA_FILEPATH_DP) {
			FILEPATH_DEVICE_PATH *f = (FILEPATH_DEVICE_PATH *)dp;
			UINTN chars = (DevicePathNodeLength(dp) - 4) / 2;
			for (UINTN i = 0; i < chars && f->PathName[i]; i++) {
				char c = (char)f->PathName[i];
				if (n && out[n - 1] == '\\' && c == '\\')
					continue;
				if (!n && c != '\\')
					out[n++] = '\\';
				if (n + 1 >= cap)
					return -1;
				out[n++] = c;
			}
		}
		dp = NextDevicePathNode(dp);
	}
	out[n] = 0;
	return n ? 0 : -1;
}

/* ---- the resident copy ------------------------------------------------------- */
/* gnu-efi links a PIC ELF whose R_X86_64_RELATIVE relocations crt0 applies at
 * start (_relocate). A byte copy at another address is made valid by applying
 * them again for the new base. */
typedef struct { int64_t d_tag; uint64_t d_val; } elf64_dyn;
typedef struct { uint64_t r_offset, r_info; int64_t r_addend; } elf64_rela;
#define DT_NULL 0
#define DT_RELA 7
#define DT_RELASZ 8
#define DT_RELAENT 9
#define R_X86_64_RELATIVE 8
extern elf64_dyn _DYNAMIC[];

static int relocate_copy(uint64_t old_base, uint64_t new_base, uint64_t size)
{
	uint64_t rela = 0, relasz = 0, relaent = sizeof(elf64_rela);
	for (elf64_dyn *d = _DYNAMIC; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_RELA)
			rela = d->d_val;
		else if (d->d_tag == DT_RELASZ)
			relasz = d->d_val;
		else if (d->d_tag == DT_RELAENT)
			relaent = d->d_val;
	}
	if (!rela || relaent < sizeof(elf64_rela))
		return relasz ? -1 : 0;
	for (uint64_t off = 0; off + relaent <= relasz; off += relaent) {
		elf64_rela *r = (elf64_rela *)(uintptr_t)(old_base + rela + off);
		if ((r->r_info & 0xffffffff) != R_X86_64_RELATIVE)
			return -1;
		if (r->r_offset + 8 > size)
			return -1;
		*(uint64_t *)(uintptr_t)(new_base + r->r_offset) = new_base + (uint64_t)r->r_addend;
	}
	return 0;
}

static inline void *in_copy(uint64_t old_base, uint64_t new_base, const void *p)
{
	return (void *)((uintptr_t)p - old_base + new_base);
}

/* ---- memory map ------------------------------------------------------------ */
static int capture_memmap(struct ahv_handoff *h)
{
	UINTN entries, key, dsize;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&entries, &key, &dsize, &dver);
	if (!map)
		return -1;
	h->n_memmap = 0;
	for (UINTN i = 0; i < entries; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((uint8_t *)map + i * dsize);
		uint64_t s = d->PhysicalStart, e = s + d->NumberOfPages * 4096;
		struct ahv_mem_range *last = h->n_memmap ? &h->memmap[h->n_memmap - 1] : 0;
		if (last && last->type == d->Type && last->end == s) {
			last->end = e;
			continue;
		}
		if (h->n_memmap == AHV_MAX_MEMMAP) {
			FreePool(map);
			return -1;
		}
		h->memmap[h->n_memmap++] = (struct ahv_mem_range){s, e, d->Type, 0};
	}
	FreePool(map);
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void read_time(struct ahv_handoff *h)
{
	EFI_TIME t;
	/* TSC frequency: 20 ms of the firmware's Stall() (a fixed timer). */
	uint64_t t0 = ahv_rdtsc();
	uefi_call_wrapper(BS->Stall, 1, 20000);
	h->tsc_hz = (ahv_rdtsc() - t0) * 50;
	if (EFI_ERROR(uefi_call_wrapper(RT->GetTime, 2, &t, NULL)) || t.Year < 1970) {
		h->rtc_unix_ns = 0;
		return;
	}
	int64_t s = days_from_civil(t.Year, t.Month, t.Day) * 86400 + t.Hour * 3600 + t.Minute * 60 + t.Second;
	if (t.TimeZone != EFI_UNSPECIFIED_TIMEZONE)
		s -= (int64_t)t.TimeZone * 60; /* local = UTC - TimeZone minutes (UEFI 2.10 §8.3) */
	h->tsc_at_rtc = ahv_rdtsc();
	h->rtc_unix_ns = (uint64_t)s * 1000000000ull + t.Nanosecond;
}

/* ---- ACPI: where the guest powers off (FADT PM1a_CNT_BLK) ---------------- */
static const uint8_t *find_acpi_table(const char *sig) { return ahv_efi_acpi_table(ST, sig); }

static uint16_t find_pm1a_cnt(void)
{
	/* FADT "FACP" (ACPI 6.4 §5.2.9): PM1a_CNT_BLK at offset 64,
	 * X_PM1a_CNT_BLK (GAS) at 172. */
	const uint8_t *f = find_acpi_table("FACP");
	if (!f)
		return 0;
	uint32_t flen, blk;
	memcpy(&flen, f + 4, 4);
	memcpy(&blk, f + 64, 4);
	if (blk && blk < 0x10000)
		return (uint16_t)blk;
	if (flen >= 184 && f[172] == 1) { /* GAS in system I/O space */
		uint64_t a;
		memcpy(&a, f + 176, 8);
		if (a && a < 0x10000)
			return (uint16_t)a;
	}
	return 0;
}

/* ---- CPUs: smp = on starts the hypervisor on every one (docs/smp.md) ------ */
/* smp = on (docs/smp.md): each application processor prepares its vCPU in
 * the resident copy and enters the guest from here; back in MP services as
 * a guest, it checks the hypervisor's CPUID signature. No UEFI calls. */
struct ap_ctx {
	int (*prepare_ap)(struct ahv_launch *out);
	uint32_t ok, failed;
};
static void __attribute__((ms_abi)) ap_proc(void *arg)
{
	struct ap_ctx *c = arg;
	struct ahv_launch l;
	if (c->prepare_ap(&l)) {
		__atomic_add_fetch(&c->failed, 1, __ATOMIC_SEQ_CST);
		return;
	}
	ahv_x86_launch(l.arg, l.entry, l.host_rsp);
	uint32_t r[4];
	ahv_cpuid(AHV_CPUID_LEAF_SIGNATURE, 0, r);
	if (!memcmp(&r[1], "Atte", 4))
		__atomic_add_fetch(&c->ok, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&c->failed, 1, __ATOMIC_SEQ_CST);
}

/* ---- main: the steps of the header comment, one function each ---------------- */
/* What the steps hand on to each other. */
struct boot {
	EFI_HANDLE image;
	struct ahv_config *cfg;
	struct ahv_handoff *hs; /* staging: guest keys, copied into h by fill_handoff */
	uint8_t config_digest[32], image_digest[32];
	int tpm, key_mode;
	EFI_HANDLE child; /* the next stage, loaded */
	ahv_mp_services *mp; /* smp = on with more than one CPU, else NULL */
	UINTN cpus;
	uint64_t old_base, img_size, pool_size;
	EFI_PHYSICAL_ADDRESS new_base, pool;
	struct ahv_handoff *h; /* the hand-off in hypervisor memory (start of the pool) */
	struct ahv_launch launch;
};

/* 0. UEFI library, log port, own loaded image, the loader's crypto heap. */
static EFI_STATUS loader_init(struct boot *b, EFI_SYSTEM_TABLE *systab)
{
	InitializeLib(b->image, systab);
	self = b->image;
	ahv_log_init(log_port);
	say("AHV-BOOT: attest-hv loader %u.%u.%u (wire %u.%u)", 0, 1, 0, AHV_WIRE_VERSION_MAJOR,
	    AHV_WIRE_VERSION_MINOR);
	EFI_STATUS st = uefi_call_wrapper(BS->HandleProtocol, 3, b->image, &LoadedImageProtocol, (void **)&self_li);
	if (EFI_ERROR(st))
		return fail(st, "cannot find my own loaded-image protocol (%lx)", (uint64_t)st);
	int rc = ahv_crypto_init(loader_crypto_pool, sizeof(loader_crypto_pool));
	if (rc)
		return fail(EFI_OUT_OF_RESOURCES, "crypto init failed: %s", ahv_crypto_strerror(rc));
	return EFI_SUCCESS;
}

/* 1. the configuration: parsed, hashed and (measured boot, docs/tpm.md)
 * measured into PCR 8 before anything is sealed or unsealed. */
static EFI_STATUS read_config(struct boot *b)
{
	char err[200];
	void *data;
	UINTN size;
	b->cfg = AllocateZeroPool(sizeof(*b->cfg));
	if (!b->cfg)
		return fail(EFI_OUT_OF_RESOURCES, "out of memory");
	EFI_STATUS st = read_file(AHV_CONFIG_PATH, &data, &size);
	if (EFI_ERROR(st))
		return fail(st, "cannot read the configuration file %s on the boot partition (%lx); "
				"scripts/mkesp.sh writes one", AHV_CONFIG_PATH, (uint64_t)st);
	if (ahv_config_parse(data, size, b->cfg, err, sizeof(err)))
		return fail(EFI_INVALID_PARAMETER, "%s: %s", AHV_CONFIG_PATH, err);
	ahv_hash(AHV_HASH_SHA256, data, size, b->config_digest);
	b->tpm = ahv_tpmb_open(read_file, self_li->DeviceHandle);
	if (b->tpm && ahv_tpmb_measure("attest-hv config " AHV_CONFIG_PATH, data, size))
		return fail(EFI_DEVICE_ERROR, "cannot measure the configuration into the TPM (HashLogExtendEvent)");
	FreePool(data);
	if (b->cfg->log_port != log_port) {
		log_port = b->cfg->log_port;
		ahv_log_init(log_port);
	}
	return EFI_SUCCESS;
}

/* 1. the enrolled guest keys: each must have the key id the configuration
 * pins; each is measured into PCR 8 after the configuration. */
static EFI_STATUS enroll_keys(struct boot *b)
{
	const struct ahv_config *cfg = b->cfg;
	char err[200], hex[65];
	void *data;
	UINTN size;
	int rc;
	struct ahv_handoff *hs = b->hs = AllocateZeroPool(sizeof(*hs));
	if (!hs)
		return fail(EFI_OUT_OF_RESOURCES, "out of memory");
	for (unsigned i = 0; i < cfg->n_keys; i++) {
		EFI_STATUS st = read_file(cfg->key_path[i], &data, &size);
		if (EFI_ERROR(st))
			return fail(st, "cannot read guest key %s (%lx)", cfg->key_path[i], (uint64_t)st);
		rc = ahv_spki_read_pem(data, size, &hs->guest_keys[i]);
		FreePool(data);
		if (rc)
			return fail(EFI_INVALID_PARAMETER, "guest key %s is not a P-256/P-384 public key PEM: %s",
				    cfg->key_path[i], ahv_crypto_strerror(rc));
		ahv_spki_key_id(&hs->guest_keys[i], hs->guest_key_ids[i]);
		ahv_hex_encode(hex, hs->guest_key_ids[i], 32);
		if (memcmp(hs->guest_key_ids[i], cfg->key_id[i], 32))
			return fail(EFI_SECURITY_VIOLATION, "guest key %s has key id %s, not the one the configuration pins",
				    cfg->key_path[i], hex);
		say("AHV-BOOT: enrolled guest key %s id %s", cfg->key_path[i], hex);
		if (b->tpm) {
			uint8_t der[AHV_SPKI_MAX_DER];
			size_t der_len = 0;
			ahv_snprintf(err, sizeof(err), "attest-hv guest key %s %s", cfg->key_path[i], hex);
			if (ahv_spki_write_der(&hs->guest_keys[i], der, sizeof(der), &der_len) ||
			    ahv_tpmb_measure(err, der, der_len))
				return fail(EFI_DEVICE_ERROR, "cannot measure guest key %s into the TPM", cfg->key_path[i]);
		}
	}
	hs->n_guest_keys = cfg->n_keys;
	return EFI_SUCCESS;
}

/* 1. this loader's own file, hashed (the report's hv_image_digest). */
static EFI_STATUS measure_image(struct boot *b)
{
	char path[AHV_CFG_MAX_PATH], hex[65];
	void *data;
	UINTN size;
	if (own_path(path, sizeof(path)) || EFI_ERROR(read_file(path, &data, &size)))
		return fail(EFI_NOT_FOUND, "cannot read my own image file to measure it");
	ahv_hash(AHV_HASH_SHA256, data, size, b->image_digest);
	FreePool(data);
	ahv_hex_encode(hex, b->image_digest, 32);
	say("AHV-BOOT: image %s sha256 %s", path, hex);
	ahv_hex_encode(hex, b->config_digest, 32);
	say("AHV-BOOT: config sha256 %s", hex);
	return EFI_SUCCESS;
}

/* 1b. the signing key: unsealed (or sealed on the first boot), then
 * locked before the next stage is even loaded (LoadImage measures it
 * into PCR 4), so nothing after this point can unseal it. */
static void choose_signing_key(struct boot *b)
{
	char err[200];
	b->key_mode = AHV_TPMB_KEY_NONE;
	if (b->tpm)
		say("AHV-BOOT: TPM: present; measured the configuration and %u guest keys into PCR 8 (EV_IPL)",
		    b->cfg->n_keys);
	if (b->cfg->hypervisor) {
		b->key_mode = ahv_tpmb_key(b->cfg->dev_key, err, sizeof(err));
		if (b->key_mode != AHV_TPMB_KEY_SEALED)
			say("AHV-BOOT: %s%s", b->tpm ? "TPM: " : "", err);
	}
	ahv_tpmb_lock();
	if (b->cfg->hypervisor)
		say("AHV-BOOT: signing key: %s", b->key_mode == AHV_TPMB_KEY_SEALED ? "TPM-sealed" :
			b->key_mode == AHV_TPMB_KEY_DEV ? "development key (dev_key = allow; reports carry DEV_KEY)" :
			"none (attestation answers NO_KEY)");
}

/* 2. the next stage, loaded now so that errors come before any change,
 * with its command line (args, initrd=). */
static EFI_STATUS load_next_stage(struct boot *b)
{
	const struct ahv_config *cfg = b->cfg;
	CHAR16 wpath[AHV_CFG_MAX_PATH];
	to_wide(wpath, AHV_CFG_MAX_PATH, cfg->next);
	EFI_DEVICE_PATH *dp = FileDevicePath(self_li->DeviceHandle, wpath);
	if (!dp)
		return fail(EFI_OUT_OF_RESOURCES, "out of memory");
	EFI_STATUS st = uefi_call_wrapper(BS->LoadImage, 6, FALSE, b->image, dp, NULL, 0, &b->child);
	if (EFI_ERROR(st))
		return fail(st, "cannot load the next stage %s (%lx): is the file on the boot partition?",
			    cfg->next, (uint64_t)st);
	char *args = AllocateZeroPool(AHV_CFG_MAX_ARGS + AHV_CFG_MAX_PATH + 16);
	if (!args)
		return fail(EFI_OUT_OF_RESOURCES, "out of memory");
	ahv_snprintf(args, AHV_CFG_MAX_ARGS + AHV_CFG_MAX_PATH + 16, "%s%s%s%s", cfg->args,
		     cfg->initrd[0] && cfg->args[0] ? " " : "", cfg->initrd[0] ? "initrd=" : "", cfg->initrd);
	if (args[0]) {
		EFI_LOADED_IMAGE *cli;
		size_t n = strlen(args);
		CHAR16 *w = AllocatePool((n + 1) * 2);
		if (!w)
			return fail(EFI_OUT_OF_RESOURCES, "out of memory");
		to_wide(w, n + 1, args);
		uefi_call_wrapper(BS->HandleProtocol, 3, b->child, &LoadedImageProtocol, (void **)&cli);
		cli->LoadOptions = w;
		cli->LoadOptionsSize = (UINT32)((n + 1) * 2);
	}
	say("AHV-BOOT: next stage %s loaded, args '%s'", cfg->next, args);
	return EFI_SUCCESS;
}

/* The I/O APICs the hypervisor guards with smp = on (docs/hostile.md "INIT
 * that does not come through the ICR"): the MADT's (ACPI 6.4 §5.2.12.3),
 * the PC default where there is no MADT or it lists none. 0, or -1 with
 * h->error when smp = on and the MADT is refused (acpi_madt.h says what
 * is): I/O APICs that cannot all be guarded are no base to start on. */
static int find_ioapics(struct ahv_handoff *h, int smp)
{
	const char *why = "";
	if (!ahv_ioapics_from_madt(find_acpi_table("APIC"), &h->ioapics, &why) || !smp)
		return 0; /* nothing is guarded without smp = on */
	ahv_snprintf(h->error, sizeof(h->error), "smp = on: the ACPI MADT is refused (%s): its I/O APICs cannot be guarded",
		     why);
	return -1;
}

/* The CPUs: MP services for smp = on (docs/smp.md), a warning where
 * other CPUs would run outside the hypervisor. */
static void find_cpus(struct boot *b)
{
	b->mp = ahv_mp_locate(&b->cpus);
	if (b->cfg->smp && !b->mp)
		say("AHV-BOOT: WARNING: smp = on, but the firmware offers no MP services: other CPUs, if there are "
		    "any, cannot be started under the hypervisor.");
	if (!b->cfg->smp || b->cpus < 2)
		b->mp = NULL;
	if (b->cpus > 1 && !b->cfg->smp)
		say("AHV-BOOT: WARNING: %lu CPUs enabled, but this version virtualizes only the boot CPU: "
		    "the others would run outside the hypervisor and could reach its memory. Boot the guest "
		    "with one CPU (e.g. Linux 'nosmp' or 'maxcpus=1'), or set smp = on (docs/smp.md).",
		    (uint64_t)b->cpus);
}

/* 3. hypervisor memory: runtime services code (the resident copy) and
 * data (the pool) (docs/pitfalls.md 6). */
static EFI_STATUS reserve_memory(struct boot *b)
{
	b->old_base = (uint64_t)(uintptr_t)self_li->ImageBase;
	b->img_size = (self_li->ImageSize + 4095) & ~4095ull;
	b->pool_size = (uint64_t)b->cfg->pool_mib << 20;
	EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiRuntimeServicesCode,
					  b->img_size / 4096, &b->new_base);
	if (!EFI_ERROR(st)) {
		st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiRuntimeServicesData,
				       b->pool_size / 4096, &b->pool);
		if (EFI_ERROR(st))
			uefi_call_wrapper(BS->FreePages, 2, b->new_base, b->img_size / 4096);
	}
	if (EFI_ERROR(st))
		return fail(EFI_OUT_OF_RESOURCES, "cannot reserve %u MiB of runtime memory for the hypervisor",
			    b->cfg->pool_mib);
	memset((void *)(uintptr_t)b->pool, 0, b->pool_size);
	b->h = (struct ahv_handoff *)(uintptr_t)b->pool;
	return EFI_SUCCESS;
}

/* 3. the hand-off (handoff.h) at the start of the pool: what the loader
 * found and decided. 0, or -1 with h->error. */
static int fill_handoff(struct boot *b)
{
	const struct ahv_config *cfg = b->cfg;
	struct ahv_handoff *h = b->h;
	memcpy(h, b->hs, sizeof(*h));
	h->magic = AHV_HANDOFF_MAGIC;
	h->pool_base = b->pool;
	h->pool_size = b->pool_size;
	h->pool_used = (sizeof(*h) + 4095) & ~4095ull;
	h->image_base = b->new_base;
	h->image_size = b->img_size;
	h->log_port = log_port;
	h->key_mode = (uint32_t)b->key_mode;
	if (b->key_mode == AHV_TPMB_KEY_SEALED)
		ahv_tpmb_take_key(h->key_d); /* hypervisor memory; wiped here */
	h->policy = (cfg->allow_cpl3 ? AHV_HO_ALLOW_CPL3 : 0) | (cfg->allow_gpa ? AHV_HO_ALLOW_GPA : 0) |
		    (cfg->hide_log_port ? AHV_HO_HIDE_LOG_PORT : 0) | (cfg->smp ? AHV_HO_SMP : 0) |
		    (cfg->dma_protection ? AHV_HO_DMA_REQUIRED : 0);
	memcpy(h->image_digest, b->image_digest, 32);
	memcpy(h->config_digest, b->config_digest, 32);
	read_time(h);
	h->pm1a_cnt_port = find_pm1a_cnt();
	/* IOMMUs (docs/iommu.md): the hypervisor parses and takes them. */
	h->acpi_dmar = (uint64_t)(uintptr_t)find_acpi_table("DMAR");
	h->acpi_ivrs = (uint64_t)(uintptr_t)find_acpi_table("IVRS");
	h->acpi_mcfg = (uint64_t)(uintptr_t)find_acpi_table("MCFG");
	if (find_ioapics(h, cfg->smp))
		return -1;
	if (capture_memmap(h)) {
		ahv_snprintf(h->error, sizeof(h->error), "the UEFI memory map has more than %u ranges", AHV_MAX_MEMMAP);
		return -1;
	}
	return 0;
}

/* 4. the resident copy builds the hypervisor (ahv_hv_prepare, then
 * ahv_hv_prepare_ap on every application processor). 0, or -1 with
 * h->error; a partial start on the APs halts (nothing can be released). */
static int start_hypervisor(struct boot *b)
{
	struct ahv_handoff *h = b->h;
	memcpy((void *)(uintptr_t)b->new_base, (void *)(uintptr_t)b->old_base, self_li->ImageSize);
	if (relocate_copy(b->old_base, b->new_base, b->img_size)) {
		ahv_snprintf(h->error, sizeof(h->error), "cannot relocate the resident copy (unexpected relocation type)");
		return -1;
	}
	int (*prepare)(struct ahv_handoff *, struct ahv_launch *) =
		in_copy(b->old_base, b->new_base, (void *)ahv_hv_prepare);
	say("AHV-BOOT: starting the hypervisor (resident copy at %lx, %lu KiB; pool at %lx, %lu MiB)",
	    (uint64_t)b->new_base, b->img_size / 1024, (uint64_t)b->pool, b->pool_size >> 20);
	if (prepare(h, &b->launch))
		return -1;
	if (!b->mp)
		return 0;
	struct ap_ctx c = {.prepare_ap = in_copy(b->old_base, b->new_base, (void *)ahv_hv_prepare_ap)};
	say("AHV-BOOT: smp = on: starting the hypervisor on %lu application processors", (uint64_t)(b->cpus - 1));
	EFI_STATUS st = uefi_call_wrapper(b->mp->StartupAllAPs, 7, b->mp, ap_proc, FALSE, NULL, (UINTN)20000000, &c, NULL);
	uint32_t ok = __atomic_load_n(&c.ok, __ATOMIC_SEQ_CST);
	if (EFI_ERROR(st) || ok != b->cpus - 1) {
		if (ok == 0 && !__atomic_load_n(&c.failed, __ATOMIC_SEQ_CST)) {
			ahv_snprintf(h->error, sizeof(h->error), "smp = on: MP services could not run the application processors (status %lx)", (uint64_t)st);
			return -1;
		}
		/* Some CPUs may already run under the hypervisor in its
		 * memory: nothing can be released or booted safely. */
		say("AHV-BOOT: ERROR: smp = on: only %u of %lu application processors are under the hypervisor; system halted",
		    ok, (uint64_t)(b->cpus - 1));
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	say("AHV-BOOT: smp = on: %u application processors under the hypervisor", ok);
	return 0;
}

/* 4 failed: the hypervisor's reason, its memory and the next stage
 * released, back to the firmware. */
static EFI_STATUS start_failed(struct boot *b)
{
	char err[200];
	ahv_snprintf(err, sizeof(err), "%s", b->h->error[0] ? b->h->error : "hypervisor start failed");
	ahv_wipe(b->h->key_d, sizeof(b->h->key_d));
	uefi_call_wrapper(BS->UnloadImage, 1, b->child);
	uefi_call_wrapper(BS->FreePages, 2, b->pool, b->pool_size / 4096);
	uefi_call_wrapper(BS->FreePages, 2, b->new_base, b->img_size / 4096);
	return fail(EFI_UNSUPPORTED, "%s", err);
}

/* 4-5. enter the guest here (this CPU continues in this loader as the
 * hypervisor's guest), check the hypervisor's CPUID signature, start the
 * next stage. */
static EFI_STATUS enter_guest(struct boot *b)
{
	ahv_x86_launch(b->launch.arg, b->launch.entry, b->launch.host_rsp);
	/* From here on this CPU is a guest of the hypervisor. */
	uint32_t r[4];
	ahv_cpuid(AHV_CPUID_LEAF_SIGNATURE, 0, r);
	char sig[13];
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	say("AHV-BOOT: hypervisor running (CPUID 0x40000000: '%s'); starting %s as its guest", sig, b->cfg->next);
	if (b->cfg->smp)
		say("AHV-BOOT: smp = on: all %lu CPUs under the hypervisor", (uint64_t)b->cpus);
	EFI_STATUS st = uefi_call_wrapper(BS->StartImage, 3, b->child, NULL, NULL);
	say("AHV-BOOT: next stage returned (%lx); the hypervisor keeps running", (uint64_t)st);
	return st;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	struct boot b = {.image = image};
	EFI_STATUS st;

	if ((st = loader_init(&b, systab)) || (st = read_config(&b)) || (st = enroll_keys(&b)) ||
	    (st = measure_image(&b)))
		return st;
	choose_signing_key(&b);
	if ((st = load_next_stage(&b)))
		return st;
	if (!b.cfg->hypervisor) {
		say("AHV-BOOT: hypervisor = off in the configuration: starting %s without it", b.cfg->next);
		return uefi_call_wrapper(BS->StartImage, 3, b.child, NULL, NULL);
	}
	find_cpus(&b);
	if ((st = reserve_memory(&b)))
		return st;
	if (fill_handoff(&b) || start_hypervisor(&b))
		return start_failed(&b);
	return enter_guest(&b);
}
