/*
 * apstart.c - start the application processors the way an operating system
 * does, after ExitBootServices: INIT, then SIPI twice, through the local
 * xAPIC's ICR (SDM Vol. 3A §9.4.4.1 "Typical BSP Initialization Sequence",
 * §11.6.1), each AP running trampoline.S in real mode. Under attest-hv with
 * smp = on the hypervisor emulates INIT and SIPI (docs/smp.md): each AP must
 * come up under it, which the AP's own CPUID 0x40000000 shows. Output on
 * COM1 by port I/O (the firmware's console is gone after
 * ExitBootServices):
 *   AHV-APSTART: ap APIC <id> started, CPUID 0x40000000 '<signature>'
 *   AHV-APSTART: PASS <n> APs | AHV-APSTART: FAIL <why>
 * then the machine powers off through the runtime services.
 */
#include <efi.h>
#include <efilib.h>
#include <stdint.h>
#include "mp_services.h"

extern const uint8_t ahv_ap_tramp_start[], ahv_ap_tramp_end[];

#define XAPIC_BASE 0xFEE00000ull /* SDM Vol. 3A §11.4.1 */
#define ICR_LO 0x300              /* §11.6.1 Figure 11-12 */
#define ICR_HI 0x310
#define ICR_INIT 0x00004500u      /* INIT, level assert, physical */
#define ICR_SIPI 0x00004600u      /* start-up, vector in 7:0 */
#define ICR_PENDING (1u << 12)    /* delivery status */
#define COM1 0x3f8                /* 16550: THR at +0, LSR at +5 (THRE bit 5) */
#define MAX_APS 8

struct tramp_data { uint32_t sig[3], apic, count; }; /* trampoline.S tail */

static void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void put(const char *s)
{
	for (; *s; s++) {
		for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
			__asm__ volatile("pause");
		outb(COM1, (uint8_t)*s);
	}
}

static void put_hex(uint64_t v)
{
	char b[19] = "0x";
	int n = 2;
	for (int sh = 60; sh >= 0; sh -= 4)
		if ((v >> sh) & 0xf || n > 2 || sh == 0)
			b[n++] = "0123456789abcdef"[(v >> sh) & 0xf];
	b[n] = 0;
	put(b);
}

static volatile uint32_t *icr(unsigned off) { return (volatile uint32_t *)(uintptr_t)(XAPIC_BASE + off); }

/* About us microseconds of spinning (the SDM's 10 ms / 200 us waits are
 * lower bounds; emulators run slower than the TSC says, never faster). */
static void delay(uint64_t us, uint64_t tsc_per_us)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t end = ((uint64_t)hi << 32 | lo) + us * tsc_per_us;
	for (;;) {
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		if (((uint64_t)hi << 32 | lo) >= end)
			return;
		__asm__ volatile("pause");
	}
}

static void send(uint32_t apic, uint32_t lo)
{
	while (*icr(ICR_LO) & ICR_PENDING)
		__asm__ volatile("pause");
	*icr(ICR_HI) = apic << 24;
	*icr(ICR_LO) = lo;
}

static void finish(const char *verdict)
{
	put(verdict);
	RT->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	for (;;)
		__asm__ volatile("cli; hlt");
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	InitializeLib(image, st);
	UINTN cpus;
	ahv_mp_services *mp = ahv_mp_locate(&cpus);
	uint32_t bsp_apic, r[4], aps[MAX_APS], n_aps = 0;
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(1), "c"(0));
	bsp_apic = r[1] >> 24;
	/* The APs' APIC ids from MP services (EFI_PROCESSOR_INFORMATION starts
	 * with its 64-bit ProcessorId, PI Vol. 2 §13.4.3). */
	for (UINTN i = 0; mp && i < cpus && n_aps < MAX_APS; i++) {
		uint64_t info[8];
		if (!EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, info)) && (uint32_t)info[0] != bsp_apic)
			aps[n_aps++] = (uint32_t)info[0];
	}
	Print(L"AHV-APSTART: %lu CPUs, %u APs to start after ExitBootServices\r\n", (uint64_t)cpus, n_aps);
	if (!n_aps)
		finish("AHV-APSTART: FAIL no application processor\r\n");
	/* A page below 1 MiB for the trampoline: the SIPI vector is its page
	 * number (§9.4.4.1). */
	EFI_PHYSICAL_ADDRESS page = 0x9F000;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderData, 1, &page)))
		finish("AHV-APSTART: FAIL no page below 1 MiB\r\n");
	uint8_t *code = (uint8_t *)(uintptr_t)page;
	UINTN len = (UINTN)(ahv_ap_tramp_end - ahv_ap_tramp_start);
	for (UINTN i = 0; i < len; i++)
		code[i] = ahv_ap_tramp_start[i];
	volatile struct tramp_data *d = (volatile void *)(code + len - sizeof(struct tramp_data));
	/* TSC ticks per microsecond, roughly, from the firmware's Stall. */
	uint32_t lo, hi, lo2, hi2;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uefi_call_wrapper(BS->Stall, 1, 10000);
	__asm__ volatile("rdtsc" : "=a"(lo2), "=d"(hi2));
	uint64_t tpu = (((uint64_t)hi2 << 32 | lo2) - ((uint64_t)hi << 32 | lo)) / 10000;
	if (!tpu)
		tpu = 1;
	/* ExitBootServices: the firmware is gone, as for an OS. */
	UINTN map_size = 0, key = 0, desc_size = 0;
	UINT32 desc_ver;
	EFI_MEMORY_DESCRIPTOR *map = NULL;
	EFI_STATUS s = EFI_BUFFER_TOO_SMALL;
	for (int tries = 0; tries < 4; tries++) {
		s = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &key, &desc_size, &desc_ver);
		if (s == EFI_BUFFER_TOO_SMALL) {
			map_size += 4096;
			if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, map_size, (void **)&map)))
				break;
			continue;
		}
		if (EFI_ERROR(s))
			break;
		s = uefi_call_wrapper(BS->ExitBootServices, 2, image, key);
		if (!EFI_ERROR(s))
			break;
	}
	if (EFI_ERROR(s))
		finish("AHV-APSTART: FAIL ExitBootServices\r\n");
	put("AHV-APSTART: ExitBootServices done; INIT, SIPI, SIPI to each AP\r\n");
	for (uint32_t i = 0; i < n_aps; i++) {
		send(aps[i], ICR_INIT);
		delay(10000, tpu);
		for (int k = 0; k < 2; k++) {
			send(aps[i], ICR_SIPI | (uint32_t)(page >> 12));
			delay(200, tpu);
		}
	}
	/* Wait for every AP to count itself in (up to about 5 s). */
	for (uint32_t t = 0; t < 5000 && d->count < n_aps; t++)
		delay(1000, tpu);
	char sig[13];
	for (int i = 0; i < 12; i++)
		sig[i] = (char)(d->sig[i / 4] >> (8 * (i % 4)));
	sig[12] = 0;
	if (d->count) {
		put("AHV-APSTART: ap APIC ");
		put_hex(d->apic);
		put(" started, CPUID 0x40000000 '");
		put(sig);
		put("'\r\n");
	}
	int ok = d->count == n_aps;
	for (int i = 0; i < 12; i++)
		ok &= sig[i] == "AttestHVisor"[i];
	put("AHV-APSTART: ");
	put_hex(d->count);
	put(" of ");
	put_hex(n_aps);
	put(" APs counted in\r\n");
	finish(ok ? "AHV-APSTART: PASS every AP started by INIT-SIPI-SIPI, under the hypervisor\r\n"
		  : "AHV-APSTART: FAIL an AP did not start, or not under the hypervisor\r\n");
	return EFI_SUCCESS;
}
