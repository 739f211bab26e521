/*
 * hostile_init.c - INIT sent past the trapped ICR (docs/hostile.md "INIT",
 * issue 14 item 1): through an I/O APIC redirection entry with INIT
 * delivery, fired by the CMOS RTC's periodic interrupt, and as a CPU's
 * store into the interrupt-message range (on QEMU a store to FEEx_xxxx
 * outside the xAPIC registers is an MSI). While each case runs, the AP
 * loops on CPUID and counts: after it, the AP must still be counting and
 * still see the hypervisor's CPUID signature (an INIT that reached it would
 * have stopped it, or restarted it outside the hypervisor).
 */
#include <efi.h>
#include <efilib.h>
#include "ahv/crypto.h"
#include "ahv/x86/acpi_madt.h"
#include "ahv/x86/cpu.h"
#include "acpi_find.h"
#include "attest/wire.h"
#include "hostile.h"
#include "trap.h"

/* I/O APIC (82093AA datasheet §3.0-§3.2.4): IOREGSEL at 0, IOWIN at 0x10;
 * redirection entry i at registers 0x10 + 2i (low) and 0x11 + 2i (high:
 * destination in bits 63:56). Low half: vector 7:0, delivery mode 10:8
 * (000 fixed, 101 INIT), destination mode 11 (0 physical), polarity 13,
 * trigger 15 (0 edge), mask 16. At 0xFEC00000 on QEMU (its MADT) and
 * Bochs (no ACPI tables under Debian's OVMF: the PC default); the
 * init.madt-ioapics-* case takes every one the MADT lists. */
#define IOAPIC 0xFEC00000u
#define REDIR_LO(pin) (0x10u + 2u * (pin))
#define REDIR_HI(pin) (0x11u + 2u * (pin))
#define RED_MODE(lo) (((lo) >> 8) & 7u)
#define RED_INIT (5u << 8)
#define RED_MASKED (1u << 16)
/* The CMOS RTC raises ISA IRQ 8, I/O APIC input 8 on QEMU and Bochs (the
 * negative controls in docs/hostile.md saw the INIT arrive that way). Its
 * registers (MC146818A): index port 0x70, data
 * 0x71; A: rate select 3:0 (6 = 1024 Hz); B: bit 6 PIE, periodic
 * interrupt enable; C: read-to-clear flags, bit 7 IRQF. */
#define RTC_PIN 8u
#define RTC_A 0x0a
#define RTC_B 0x0b
#define RTC_C 0x0c
#define RTC_PIE 0x40
#define RTC_IRQF 0x80
/* The interrupt-message range: address FEE0_0000 | destination << 12
 * (SDM Vol. 3A §11.11.1), data: delivery mode in 10:8 (§11.11.2). */
#define MSI_BASE 0xFEE00000u

static uint32_t ioapic_read_at(uint32_t base, uint32_t reg)
{
	*(volatile uint32_t *)(uintptr_t)base = reg;
	return *(volatile uint32_t *)(uintptr_t)(base + 0x10);
}

static void ioapic_write_at(uint32_t base, uint32_t reg, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)base = reg;
	*(volatile uint32_t *)(uintptr_t)(base + 0x10) = val;
}
static uint32_t ioapic_read(uint32_t reg) { return ioapic_read_at(IOAPIC, reg); }
static void ioapic_write(uint32_t reg, uint32_t val) { ioapic_write_at(IOAPIC, reg, val); }

static void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static uint8_t rtc_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}
static void rtc_write(uint8_t reg, uint8_t v)
{
	outb(0x70, reg);
	outb(0x71, v);
}

/* ---- the AP: CPUID in a loop, counting ---------------------------------------- */
static volatile uint32_t w_run, w_done, w_apic, w_nosig;
static volatile uint64_t w_count;

static void __attribute__((ms_abi)) watch_ap(void *arg)
{
	(void)arg;
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	w_apic = r[1] >> 24;
	while (w_run) {
		ahv_cpuid(AHV_CPUID_LEAF_SIGNATURE, 0, r);
		if (r[1] != AHV_CPUID_SIG_EBX || r[2] != AHV_CPUID_SIG_ECX || r[3] != AHV_CPUID_SIG_EDX)
			w_nosig++;
		w_count++;
	}
	w_done = 1;
}

/* The AP counted on: it moves within a bounded wait. */
static int ap_counting(void)
{
	uint64_t c0 = w_count;
	for (unsigned i = 0; i < 50000000 && w_count < c0 + 100; i++)
		__asm__ volatile("pause");
	return w_count >= c0 + 100;
}

/* ---- the attacks ---------------------------------------------------------------- */
/* RTC periodic interrupts on I/O APIC input 8, whose entry the guest set to
 * INIT for the AP: refused (the entry reads back as it was). Returns the
 * number of RTC interrupts seen (IRQF), the entry's low half as read back
 * after the write in *rb. */
static unsigned ioapic_init_attack(uint32_t *rb)
{
	uint32_t lo0 = ioapic_read(REDIR_LO(RTC_PIN)), hi0 = ioapic_read(REDIR_HI(RTC_PIN));
	ioapic_write(REDIR_HI(RTC_PIN), w_apic << 24);
	ioapic_write(REDIR_LO(RTC_PIN), RED_INIT); /* INIT, physical, edge, unmasked */
	*rb = ioapic_read(REDIR_LO(RTC_PIN));
	uint8_t a0 = rtc_read(RTC_A), b0 = rtc_read(RTC_B);
	unsigned irqs = 0;
	rtc_read(RTC_C);
	rtc_write(RTC_A, (uint8_t)((a0 & 0xf0) | 6));
	rtc_write(RTC_B, b0 | RTC_PIE);
	for (unsigned i = 0; i < 4000000 && irqs < 8; i++)
		if (rtc_read(RTC_C) & RTC_IRQF)
			irqs++;
	rtc_write(RTC_B, b0);
	rtc_write(RTC_A, a0);
	rtc_read(RTC_C);
	ioapic_write(REDIR_LO(RTC_PIN), lo0 | RED_MASKED);
	ioapic_write(REDIR_HI(RTC_PIN), hi0);
	ioapic_write(REDIR_LO(RTC_PIN), lo0);
	return irqs;
}

struct store {
	uint64_t addr;
	uint32_t val;
};
static void p_store32(void *x)
{
	struct store *s = x;
	*(volatile uint32_t *)(uintptr_t)s->addr = s->val;
}

/* Start the AP's loop: its MP-services event, or NULL (skipped, or no AP:
 * the case's line says so). */
static EFI_EVENT watch_begin(const char *name)
{
	if (start(name))
		return NULL;
	w_run = 1, w_done = 0, w_count = 0, w_nosig = 0, w_apic = 0xff;
	EFI_EVENT ev = ap_start(watch_ap, NULL);
	if (!ev && (!mp || n_cpus < 2)) {
		not_applicable(name, "one CPU (smp needs --smp 2)");
	} else if (!ev) {
		DET(L"MP services did not start the AP (lost by an earlier case?)");
		verdict(name, 0);
	}
	if (!ev)
		return NULL;
	for (unsigned i = 0; i < 100000000 && !w_count; i++)
		__asm__ volatile("pause");
	return ev;
}

/* After the attack: the AP still counts, under the hypervisor; then stop
 * it. 1 if so. */
static int watch_end(EFI_EVENT ev, uint64_t *counted)
{
	int alive = ap_counting();
	*counted = w_count;
	w_run = 0;
	for (unsigned i = 0; i < 50000000 && !w_done; i++)
		__asm__ volatile("pause");
	ap_end(ev);
	return alive && w_done && !w_nosig;
}

/* Every I/O APIC of the firmware's MADT, as the loader takes them (the
 * default address where there is no MADT or it lists none): each listed
 * on the console (AHV-HOSTILE-IOAPIC, which hostile-test.sh compares with
 * the hypervisor's log of the pages it guards), and on each a masked INIT
 * written to its last redirection entry (the I/O APIC version register,
 * 82093AA §3.2.2: bits 23:16 the highest entry): refused, the entry reads
 * back as it was. */
static void madt_ioapics_case(void)
{
	const char *name = "init.madt-ioapics-refuse-init";
	if (start(name))
		return;
	struct ahv_ioapics io;
	const char *why = "";
	if (ahv_ioapics_from_madt(ahv_efi_acpi_table(ST, "APIC"), &io, &why)) {
		DET(L"the firmware's MADT does not parse: %a", why);
		verdict(name, 0);
		return;
	}
	unsigned refused = 0;
	for (uint32_t i = 0; i < io.n; i++) {
		uint32_t base = io.io[i].base, pin = (ioapic_read_at(base, 1) >> 16) & 0xff;
		uint32_t lo0 = ioapic_read_at(base, REDIR_LO(pin));
		ioapic_write_at(base, REDIR_LO(pin), RED_MASKED | RED_INIT | 0x40);
		uint32_t rb = ioapic_read_at(base, REDIR_LO(pin));
		if (rb != lo0)
			ioapic_write_at(base, REDIR_LO(pin), lo0);
		refused += rb == lo0;
		Print(L"AHV-HOSTILE-IOAPIC %x %a entry %u %a\r\n", base,
		      io.source == AHV_IOAPICS_MADT ? "madt" : io.source == AHV_IOAPICS_NO_MADT ? "no-madt" : "madt-empty",
		      pin, rb == lo0 ? "refused" : "ACCEPTED");
	}
	DET(L"%u I/O APIC(s) (%a), a masked INIT entry refused on %u", io.n,
	    io.source == AHV_IOAPICS_MADT ? "the MADT's" : "no MADT word: the default address", refused);
	verdict(name, io.n && refused == io.n);
}

/* A register selected with a byte store to IOREGSEL (82093AA §3.0; EDK2's
 * IoApicLib), then IOWIN read and written as dwords: the select is done
 * (the entry reads as through a dword select), an INIT written through it
 * still refused. */
struct bsel {
	uint32_t base, reg, val, write, rb;
};
static void p_byte_select(void *x)
{
	struct bsel *b = x;
	*(volatile uint8_t *)(uintptr_t)b->base = (uint8_t)b->reg;
	if (b->write)
		*(volatile uint32_t *)(uintptr_t)(b->base + 0x10) = b->val;
	b->rb = *(volatile uint32_t *)(uintptr_t)(b->base + 0x10);
}
static void byte_select_case(void)
{
	const char *name = "init.ioapic-byte-select";
	if (start(name))
		return;
	uint32_t pin = (ioapic_read(1) >> 16) & 0xff, lo0 = ioapic_read(REDIR_LO(pin));
	struct bsel b = {IOAPIC, REDIR_LO(pin), 0, 0, 0};
	uint64_t vec = 0, err = 0;
	int f1 = trap_call(p_byte_select, &b, &vec, &err), f2 = 0;
	uint32_t rd = b.rb;
	if (!f1) {
		b.write = 1, b.val = RED_MASKED | RED_INIT | 0x40;
		f2 = trap_call(p_byte_select, &b, &vec, &err);
	}
	uint32_t after = ioapic_read(REDIR_LO(pin));
	if (after != lo0)
		ioapic_write(REDIR_LO(pin), lo0);
	DET(L"entry %u: byte select %a %lu (IOWIN reads %x, %x through a dword select); INIT through it %a, "
	    L"entry reads %x (was %x)",
	    pin, f1 ? "faulted, vector" : "done", f1 ? vec : 0, rd, lo0, f1 ? "not tried" : f2 ? "faulted" : "stored",
	    after, lo0);
	verdict(name, !f1 && !f2 && rd == lo0 && after == lo0);
}

void cases_init(void)
{
	madt_ioapics_case();
	byte_select_case();
	uint64_t n;
	EFI_EVENT ev;
	/* A fixed-delivery entry, masked: the I/O APIC guard passes it on. */
	if ((ev = watch_begin("init.ioapic-fixed-entry-accepted"))) {
		uint32_t lo0 = ioapic_read(REDIR_LO(RTC_PIN));
		uint32_t want = RED_MASKED | 0x5e; /* fixed, vector 0x5e, masked */
		ioapic_write(REDIR_LO(RTC_PIN), want);
		uint32_t rb = ioapic_read(REDIR_LO(RTC_PIN));
		ioapic_write(REDIR_LO(RTC_PIN), lo0);
		int ok = watch_end(ev, &n);
		DET(L"entry %u: wrote %x, reads %x (was %x); AP %lu loops", RTC_PIN, want, rb & 0x1ffff, lo0, n);
		verdict("init.ioapic-fixed-entry-accepted", ok && (rb & 0x1ffff) == want);
	}
	/* INIT through the I/O APIC: the entry is refused, the RTC's
	 * interrupts reach nobody, the AP runs on. */
	if ((ev = watch_begin("init.ioapic-rtc-to-ap"))) {
		uint32_t rb = 0;
		__asm__ volatile("cli");
		unsigned irqs = ioapic_init_attack(&rb);
		__asm__ volatile("sti");
		int ok = watch_end(ev, &n);
		DET(L"AP APIC id %u: entry %u reads %x after the INIT write; %u RTC interrupts; AP %a, %lu loops, %u "
		    L"without the signature", w_apic, RTC_PIN, rb, irqs, ok ? "still running" : "STOPPED", n, w_nosig);
		verdict("init.ioapic-rtc-to-ap", ok && irqs >= 2 && RED_MODE(rb) != 5);
	}
	/* INIT as a CPU's store into the MSI range (an MSI on QEMU): dropped. */
	if ((ev = watch_begin("init.msi-store-to-ap"))) {
		struct store st = {MSI_BASE | (uint64_t)w_apic << 12, RED_INIT};
		uint64_t vec, err;
		int f = trap_call(p_store32, &st, &vec, &err);
		int ok = watch_end(ev, &n);
		DET(L"store %x to %lx: %a %lu; AP %a, %lu loops", st.val, st.addr, f ? "vector" : "completed",
		    f ? vec : 0, ok ? "still running" : "STOPPED", n);
		verdict("init.msi-store-to-ap", ok && !f);
	}
	/* INIT as MSI data stored to offset 0 of the xAPIC page (reserved; an
	 * MSI to APIC id 0, the boot CPU, on QEMU): dropped. */
	if ((ev = watch_begin("init.xapic-reserved-offset"))) {
		struct store st = {MSI_BASE, RED_INIT};
		uint64_t vec, err;
		int f = trap_call(p_store32, &st, &vec, &err);
		int ok = watch_end(ev, &n);
		DET(L"store %x to %lx: %a %lu; this CPU runs on; AP %a, %lu loops", st.val, st.addr,
		    f ? "vector" : "completed", f ? vec : 0, ok ? "still running" : "STOPPED", n);
		verdict("init.xapic-reserved-offset", ok && !f);
	}
}
