/*
 * dma.c - the e2e-dma payload (docs/iommu.md): a CPL0 UEFI guest that
 * drives QEMU's `edu` PCI device (1234:11e8; docs/qemu.md: BAR0 DMA source
 * 0x80, destination 0x88, count 0x90, command 0x98, device buffer at device
 * address 0x40000) to copy
 *   (a) from a hypervisor page into guest RAM: the hypervisor's pool starts
 *       with the loader's handoff (magic "AHVHOFF"), its image with "MZ";
 *       neither may arrive;
 *   (b) from guest RAM into a hypervisor page: the handoff's magic, which
 *       the hypervisor checks at every hypercall (vtd.c) and logs if changed;
 *   (c) between two guest pages: must work;
 *   (d) into a watched guest page (dma_watch.c): blocked and recorded;
 *   (e) the IOMMU's own PCI configuration space (dma_iommu_cfg.c): its
 *       register window and enables cannot be changed, DMA stays blocked.
 * A DMA goes RAM -> device buffer -> RAM (two commands, each polled). The
 * hypervisor's pages are found as the first page of the memory map's
 * runtime-services ranges whose load faults with #GP (its nested tables),
 * as the hostile payload does (../trap). Then it starts the e2e payload
 * (\attest-hv\e2e-payload.efi), whose good attestation the host checks.
 * Markers: "AHV-DMA: case NAME ok|FAIL ...", "AHV-DMA: PASS|FAIL".
 */
#include <efi.h>
#include <efilib.h>
#include <string.h>
#include "ahv/x86/cpu.h"
#include "attest/wire.h"
#include "guest_call.h"
#include "trap.h"
#include "dma_iommu_cfg.h"
#include "pio.h"
#include "dma_watch.h"

#define EDU_ID 0x11e81234u
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_BUF 0x40000ull
#define CMD_RUN 1u
#define CMD_TO_RAM 2u /* device buffer -> RAM; clear: RAM -> device buffer */
#define HANDOFF_MAGIC 0x46464F48564841ull /* "AHVHOFF" (hv.h AHV_HANDOFF_MAGIC) */

static volatile uint8_t *edu;
static uint16_t edu_sid; /* PCI requester id: bus << 8 | device << 3 */

static int fails;

static uint32_t pci_read(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(0xCF8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	return inl(0xCFC);
}
static void pci_write(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
	outl(0xCF8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	outl(0xCFC, v);
}

static int find_edu(void)
{
	for (unsigned bus = 0; bus < 4; bus++)
		for (unsigned dev = 0; dev < 32; dev++) {
			if (pci_read(bus, dev, 0, 0) != EDU_ID)
				continue;
			uint32_t bar = pci_read(bus, dev, 0, 0x10) & ~0xfu;
			/* memory space (bit 1) and bus master (bit 2) on */
			pci_write(bus, dev, 0, 0x04, (pci_read(bus, dev, 0, 0x04) & 0xffff) | 6);
			edu = (volatile uint8_t *)(uintptr_t)bar;
			edu_sid = (uint16_t)(bus << 8 | dev << 3);
			Print(L"AHV-DMA: edu at %02x:%02x.0, BAR0 %lx\r\n", bus, dev, (uint64_t)bar);
			return 0;
		}
	return -1;
}

static void wr64(unsigned off, uint64_t v) { *(volatile uint64_t *)(edu + off) = v; }
static uint64_t rd64(unsigned off) { return *(volatile uint64_t *)(edu + off); }

/* One edu command: cnt bytes, at most 2 KiB (docs/qemu.md). */
static int edu_dma(uint64_t src, uint64_t dst, uint64_t cnt, uint32_t cmd)
{
	wr64(EDU_DMA_SRC, src);
	wr64(EDU_DMA_DST, dst);
	wr64(EDU_DMA_CNT, cnt);
	wr64(EDU_DMA_CMD, cmd | CMD_RUN);
	for (unsigned i = 0; i < 5000; i++) {
		if (!(rd64(EDU_DMA_CMD) & CMD_RUN))
			return 0;
		uefi_call_wrapper(BS->Stall, 1, 1000);
	}
	return -1;
}
/* RAM src -> device buffer -> RAM dst. */
static int copy(uint64_t src, uint64_t dst, uint64_t cnt)
{
	return edu_dma(src, EDU_BUF, cnt, 0) || edu_dma(EDU_BUF, dst, cnt, CMD_TO_RAM);
}

/* Any hypercall: the hypervisor logs the IOMMU's fault records first
 * (vtd.c polls; QEMU's unit has one record, so each blocked DMA is
 * followed by one). GET_INFO with no buffer answers an error: fine. */
static void hypercall(void)
{
	uint32_t r[4];
	ahv_cpuid(0, 0, r);
	struct hc h = {.rax = AHV_HC_GET_INFO};
	guest_hypercall(&h, r[1] == 0x756e6547); /* "Genu" */
}

static void verdict(const char *name, int ok, const char *detail, uint64_t a, uint64_t b)
{
	hypercall();
	Print(L"AHV-DMA: case %a %a (%a %lx %lx)\r\n", name, ok ? "ok" : "FAIL", detail, a, b);
	fails += !ok;
}

/* ---- hypervisor pages: a load that faults with #GP ------------------------- */
struct probe {
	uint64_t a, out;
};
static void p_load(void *x)
{
	struct probe *p = x;
	p->out = *(volatile uint64_t *)(uintptr_t)p->a;
}
static uint64_t first_hv_page(UINT32 type)
{
	UINTN n = 0, key, dsz;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &dsz, &dver);
	uint64_t found = 0;
	for (UINTN i = 0; map && i < n && !found; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((uint8_t *)map + i * dsz);
		if (d->Type != type)
			continue;
		for (uint64_t a = d->PhysicalStart; a < d->PhysicalStart + d->NumberOfPages * 4096; a += 4096) {
			struct probe p = {a, 0};
			uint64_t vec, err;
			if (trap_call(p_load, &p, &vec, &err) && vec == 13) {
				found = a;
				break;
			}
		}
	}
	__asm__ volatile("sti");
	if (map)
		FreePool(map);
	return found;
}

static uint8_t *page(void)
{
	EFI_PHYSICAL_ADDRESS a = 0;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 1, &a)))
		return NULL;
	return (uint8_t *)(uintptr_t)a;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	InitializeLib(image, st);
	Print(L"AHV-DMA: start\r\n");
	trap_idt_init();
	uint8_t *a = page(), *b = page();
	uint64_t pool = first_hv_page(EfiRuntimeServicesData), img = first_hv_page(EfiRuntimeServicesCode);
	Print(L"AHV-DMA: hypervisor pages: data %lx, code %lx\r\n", pool, img);
	if (!a || !b || !pool || !img || find_edu()) {
		Print(L"AHV-DMA: FAIL setup (pages %lx %lx, hypervisor %lx %lx, edu %a)\r\n", (uint64_t)(uintptr_t)a,
		      (uint64_t)(uintptr_t)b, pool, img, edu ? "found" : "missing");
		return EFI_NOT_FOUND;
	}

	/* (c) guest to guest: must arrive. */
	for (unsigned i = 0; i < 2048; i++)
		a[i] = (uint8_t)(i * 7 + 1);
	memset(b, 0xA5, 4096);
	int rc = copy((uintptr_t)a, (uintptr_t)b, 2048);
	verdict("guest-to-guest", !rc && !memcmp(a, b, 2048) && b[2048] == 0xA5, "rc/first byte", (uint64_t)rc, b[0]);

	/* (a) hypervisor to guest: nothing of it may arrive. */
	uint64_t got;
	memset(b, 0xA5, 4096);
	rc = copy(pool, (uintptr_t)b, 64);
	memcpy(&got, b, 8);
	verdict("hv-data-to-guest", !rc && got != HANDOFF_MAGIC, "first 8 bytes/source", got, pool);
	memset(b, 0xA5, 4096);
	rc = copy(img, (uintptr_t)b, 64);
	memcpy(&got, b, 8);
	verdict("hv-code-to-guest", !rc && !(b[0] == 'M' && b[1] == 'Z'), "first 8 bytes/source", got, img);

	/* (b) guest to hypervisor: the handoff's magic must survive (the
	 * hypervisor logs "handoff ... overwritten" otherwise; checked by
	 * dma-test.sh on its log). */
	memcpy(a, "DMAWROTE", 8);
	rc = copy((uintptr_t)a, pool, 8);
	verdict("guest-to-hv-data", !rc, "rc/target", (uint64_t)rc, pool);

	/* (c) again after the faults: the unit still translates. */
	memset(b, 0, 4096);
	rc = copy((uintptr_t)a, (uintptr_t)b, 2048);
	verdict("guest-to-guest-after", !rc && !memcmp(a, b, 2048), "rc/first byte", (uint64_t)rc, b[0]);

	/* (e) the IOMMU's PCI configuration space (dma_iommu_cfg.c): its
	 * window cannot be moved nor the function switched off; DMA to the
	 * hypervisor page stays blocked after the attempts. */
	const struct dma_cfg_env ce = {.hv_page = pool, .guest = (uintptr_t)b, .magic = HANDOFF_MAGIC, .copy = copy,
				       .hypercall = hypercall};
	fails += !dma_iommu_cfg_case(&ce);

	/* (d) into a watched guest page: blocked, recorded (dma_watch.c). */
	uint32_t v[4];
	ahv_cpuid(0, 0, v);
	const struct dma_watch_env we = {.intel = v[1] == 0x756e6547, .sid = edu_sid, .src = (uintptr_t)a, .copy = copy};
	fails += !dma_watch_case(image, &we);

	Print(L"AHV-DMA: %a\r\n", fails ? "FAIL" : "PASS");

	/* A good attestation: the e2e payload, checked on the host. */
	EFI_LOADED_IMAGE *li;
	EFI_HANDLE child;
	uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
	EFI_DEVICE_PATH *dp = FileDevicePath(li->DeviceHandle, L"\\attest-hv\\e2e-payload.efi");
	EFI_STATUS s = uefi_call_wrapper(BS->LoadImage, 6, FALSE, image, dp, NULL, 0, &child);
	if (EFI_ERROR(s)) {
		Print(L"AHV-DMA: FAIL cannot load the e2e payload (%lx)\r\n", (uint64_t)s);
		return s;
	}
	return uefi_call_wrapper(BS->StartImage, 3, child, NULL, NULL);
}
