/*
 * port_io.c - the I/O ports the hypervisor intercepts, both back ends:
 * its log UART when hidden from the guest, the ACPI PM1a control block
 * (power-off logs the exit counters first), and PCI configuration
 * mechanism #1 (CF8h-CFFh) while an IOMMU's PCI function is guarded
 * (pcicfg.c).
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/pcicfg_guard.h"

int ahv_io_intercepts(const struct ahv_hv *hv, uint8_t *bitmap)
{
	int any = 0;
	const struct ahv_handoff *h = hv->handoff;
	if ((h->policy & AHV_HO_HIDE_LOG_PORT) && h->log_port) {
		for (unsigned p = h->log_port; p < h->log_port + 8u; p++)
			bitmap[p / 8] |= (uint8_t)(1u << (p % 8));
		any = 1;
	}
	/* ACPI sleep control (FADT PM1a_CNT_BLK, ACPI 6.4 §4.8.3.2.1): a write
	 * with SLP_EN is the guest powering off or sleeping; the exit counters
	 * go to the log first. Two exits per power-off, none otherwise. */
	if (h->pm1a_cnt_port) {
		for (unsigned p = h->pm1a_cnt_port; p < h->pm1a_cnt_port + 2u; p++)
			bitmap[p / 8] |= (uint8_t)(1u << (p % 8));
		any = 1;
	}
	/* PCI configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): the address
	 * latch CF8h and the data ports CFCh-CFFh, while an IOMMU function is
	 * guarded (pcicfg.c; CF9h-CFBh come along, passed through). */
	if (ahv_pcicfg_active()) {
		for (unsigned p = AHV_PCI_CF8; p < AHV_PCI_CFC + 4u; p++)
			bitmap[p / 8] |= (uint8_t)(1u << (p % 8));
		any = 1;
	}
	return any;
}

uint32_t ahv_port_in(uint16_t port, unsigned size)
{
	uint32_t val;
	if (size == 1)
		val = ahv_inb(port);
	else if (size == 2)
		__asm__ volatile("inw %1, %w0" : "=a"(val) : "Nd"(port));
	else
		__asm__ volatile("inl %1, %0" : "=a"(val) : "Nd"(port));
	return val;
}

void ahv_port_out(uint16_t port, unsigned size, uint32_t val)
{
	if (size == 1)
		ahv_outb(port, (uint8_t)val);
	else if (size == 2)
		__asm__ volatile("outw %w0, %1" ::"a"(val), "Nd"(port));
	else
		__asm__ volatile("outl %0, %1" ::"a"(val), "Nd"(port));
}

void ahv_vcpu_io(struct ahv_hv *hv, struct ahv_vcpu *v, uint16_t port, unsigned size, int in, int str,
		 int rep)
{
	if (ahv_pcicfg_io(v, port, size, in, str, rep))
		return;
	uint16_t pm = hv->handoff->pm1a_cnt_port;
	uint64_t mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
	if (pm && port >= pm && port < pm + 2 && !str) {
		/* ACPI PM1a control: pass through, logging the counters first
		 * when SLP_EN (bit 13) is written. A 32-bit IN/OUT zero-extends
		 * into RAX; 8/16-bit ones keep the upper bits. */
		if (in) {
			uint32_t val = ahv_port_in(port, size);
			v->gprs.rax = size == 4 ? (val & mask) : ((v->gprs.rax & ~mask) | (val & mask));
			return;
		}
		uint32_t val = (uint32_t)(v->gprs.rax & mask);
		if (port == pm && size >= 2 && (val & (1u << 13))) {
			ahv_log("AHV-HV: guest power-off/sleep (PM1a_CNT %x)\n", val);
			ahv_vcpu_print_counters(v);
		}
		ahv_port_out(port, size, val);
		return;
	}
	/* The log port: the guest sees an idle 16550 that never receives
	 * anything (IIR 0xC1: no interrupt pending; LSR 0x60: transmitter
	 * empty, no data ready) and whose output goes nowhere. */
	unsigned reg = (unsigned)(port - hv->handoff->log_port);
	if (str) {
		if (rep)
			v->gprs.rcx = 0;
	} else if (in) {
		uint64_t val = reg == 2 ? 0xC1 : reg == 5 ? 0x60 : 0;
		v->gprs.rax = (size == 4) ? val : ((v->gprs.rax & ~mask) | val);
	}
}
