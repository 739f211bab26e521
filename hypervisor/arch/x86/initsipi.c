/*
 * initsipi.c - emulated INIT and SIPI, shared by both back ends with
 * smp = on (docs/smp.md). No INIT or SIPI sent by the guest ever reaches a
 * CPU under the hypervisor: a real INIT would take the CPU out of the
 * guest (SVM; QEMU 7.2 even resets a CPU whose INIT was intercepted), and
 * Bochs 2.7 mishandles the SIPI VM exit (docs/vmx.md). The guest's stores
 * to its xAPIC page exit (the page is write-protected in the NPT/EPT), are
 * decoded (store_decode.c) and done here; a store to the ICR that sends
 * INIT or SIPI is acted on in the hypervisor instead: INIT arms the
 * target's wait_sipi and stops it with an NMI (it parks in its host at
 * that NMI exit), the first SIPI after it releases the parked target at
 * vector << 12 (SDM Vol. 3A §9.4.4 "MP Initialization Example").
 *
 * The other ways a guest could send INIT are closed at their source where
 * the nested tables reach them (docs/hostile.md "INIT"): the register page
 * of every I/O APIC the loader found in the MADT (handoff.h; the PC
 * default where there is none) is write-protected too, and a redirection
 * entry programmed with INIT delivery is refused (the write is dropped);
 * a CPU's store into the rest of the interrupt-message range
 * FEE0_1000-FEEF_FFFF (an MSI on QEMU) and into reserved xAPIC registers
 * is dropped. An INIT that still arrives
 * (a device's MSI, without interrupt remapping) is, on SVM with
 * VM_CR.R_INIT, the exception #SX: ahv_init_signal and
 * ahv_host_init_exception treat it as an INIT through the ICR.
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/smp.h"
#include "ahv/x86/log.h"
#include "ahv/x86/guest_store.h"

/* ICR fields (SDM Vol. 3A §11.6.1, Figure 11-12). */
#define XAPIC_ICR_LO 0x300
#define XAPIC_ICR_HI 0x310
#define ICR_MODE(lo) (((lo) >> 8) & 7)   /* delivery mode */
#define ICR_MODE_INIT 5u
#define ICR_MODE_SIPI 6u
#define ICR_DEST_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_SHORTHAND(lo) (((lo) >> 18) & 3) /* 0 none, 1 self, 2 all, 3 all but self */

static volatile uint32_t *xapic_reg(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(AHV_XAPIC_BASE + off);
}

/* A write to the ICR's low half: anything but INIT and SIPI goes to the
 * APIC as written; INIT and SIPI are emulated for every CPU they name. */
static void icr_write(struct ahv_hv *hv, struct ahv_vcpu *self, uint32_t lo)
{
	unsigned mode = ICR_MODE(lo), sh = ICR_SHORTHAND(lo);
	if (mode != ICR_MODE_INIT && mode != ICR_MODE_SIPI) {
		*xapic_reg(XAPIC_ICR_LO) = lo;
		return;
	}
	if (mode == ICR_MODE_INIT && !(lo & ICR_LEVEL_ASSERT) && (lo & ICR_TRIGGER_LEVEL))
		return; /* INIT level de-assert: no effect (§11.6.1) */
	uint32_t dest = *xapic_reg(XAPIC_ICR_HI) >> 24;
	unsigned hits = 0;
	static uint32_t logged;
	if (logged++ < 64)
		ahv_log("AHV-HV-SMP: cpu %u sends %s (ICR %x, dest %u)\n", self->index,
			mode == ICR_MODE_INIT ? "INIT" : "SIPI", lo, dest);
	uint32_t n = __atomic_load_n(&hv->n_vcpus, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		struct ahv_vcpu *t = hv->vcpus[i];
		int hit = sh == 0 ? (!(lo & ICR_DEST_LOGICAL) && t->apic_id == dest) : sh == 1 ? t == self :
			  sh == 2 ? 1 : t != self;
		if (!hit)
			continue;
		hits++;
		if (t->index == 0)
			continue; /* INIT/SIPI to the boot CPU: ignored */
		if (mode == ICR_MODE_INIT) {
			__atomic_store_n(&t->wait_sipi, 1, __ATOMIC_RELEASE);
			/* A real INIT stops the CPU at once: a CPU that is not
			 * parked yet (running, or halted natively in its idle
			 * loop, or offline in Linux's play_dead) gets an NMI and
			 * parks at that NMI exit. */
			__atomic_store_n(&t->init_pending, 1, __ATOMIC_SEQ_CST);
			if (!__atomic_load_n(&t->parked, __ATOMIC_SEQ_CST))
				ahv_apic_send_nmi(t->apic_id);
		} else if (__atomic_exchange_n(&t->wait_sipi, 0, __ATOMIC_ACQ_REL)) {
			t->sipi_vector = lo & 0xff;
			__atomic_store_n(&t->sipi_go, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&t->parked, __ATOMIC_SEQ_CST))
				ahv_apic_send_nmi(t->apic_id); /* wake it from its host HLT */
		}
	}
	static uint32_t warned;
	if (!hits && sh == 0 && warned++ < 8)
		ahv_log("ahv: %s to APIC id %u (ICR %x): no such CPU under the hypervisor, dropped\n",
			mode == ICR_MODE_INIT ? "INIT" : "SIPI", dest, lo);
}

/* The I/O APICs: one lock, for all of them, around select-and-write, so
 * that another CPU cannot change IOREGSEL between the check and the write
 * (all guest writes to the guarded pages come here). */
static volatile uint32_t *ioapic_reg(uint32_t base, unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(base + off);
}

/* A store of width bytes (4, or 1 to IOREGSEL: ahv_trapped_store_width_ok). */
static uint32_t ioapic_write(struct ahv_vcpu *v, uint32_t base, unsigned off, uint32_t val, unsigned width,
			     int xchg)
{
	static uint32_t lock, refused;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		ahv_pause();
	uint32_t old = xchg ? *ioapic_reg(base, off) : 0;
	uint32_t sel = *ioapic_reg(base, AHV_IOAPIC_IOREGSEL) & 0xff;
	if (width == 1) {
		*(volatile uint8_t *)(uintptr_t)(base + off) = (uint8_t)val; /* a register select */
	} else if (ahv_ioapic_refused(sel, off, val)) {
		if (refused++ < 16)
			ahv_log("AHV-HV-SMP: cpu %u: I/O APIC at %x entry %u with %s delivery refused (%x): dropped\n",
				v->index, base, (sel - 0x10) / 2, ICR_MODE(val) == ICR_MODE_INIT ? "INIT" : "start-up",
				val);
	} else {
		*ioapic_reg(base, off) = val;
	}
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	return old;
}

static const char *const ioapic_source[] = {
	[AHV_IOAPICS_NO_MADT] = "no MADT: the default address",
	[AHV_IOAPICS_MADT] = "from the MADT",
	[AHV_IOAPICS_MADT_EMPTY] = "the MADT lists none: the default address",
};

int ahv_smp_protect(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t write_bit, char *err, size_t cap)
{
	const struct ahv_ioapics *io = &hv->handoff->ioapics;
	for (uint64_t a = AHV_XAPIC_BASE; a < AHV_XAPIC_BASE + AHV_MSI_RANGE_SIZE; a += 4096)
		if (ahv_pt_protect4k(pt, a, write_bit))
			goto pool;
	if (!io->n || io->n > AHV_MAX_IOAPICS || io->source > AHV_IOAPICS_MADT_EMPTY) {
		ahv_snprintf(err, cap, "smp = on: the loader handed over no usable I/O APIC list");
		return -1;
	}
	for (uint32_t i = 0; i < io->n; i++) {
		uint32_t base = io->io[i].base;
		/* Mapping the page (read-only) must never open hypervisor
		 * memory to the guest. */
		if (ahv_hv_owns(hv, base, 4096)) {
			ahv_snprintf(err, cap, "smp = on: I/O APIC at %x lies in hypervisor memory", base);
			return -1;
		}
		if (ahv_pt_protect4k(pt, base, write_bit))
			goto pool;
		ahv_log("AHV-HV-SMP: I/O APIC %u of %u guarded at %x (id %u, GSI base %u; %s)\n", i + 1, io->n, base,
			io->io[i].id, io->io[i].gsi_base, ioapic_source[io->source]);
	}
	return 0;
pool:
	ahv_snprintf(err, cap, "hypervisor memory pool too small for the nested page tables");
	return -1;
}

int ahv_xapic_store(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
		    uint64_t gpa, unsigned *len)
{
	struct ahv_guest_store st;
	int io = ahv_ioapic_at(&hv->handoff->ioapics, gpa);
	if (ahv_guest_store_decode(hv, v, x, lin, gpa, "xAPIC", &st))
		return -1;
	if (!ahv_trapped_store_width_ok(io >= 0, (unsigned)(gpa & 0xfff), st.width)) {
		static uint32_t logged;
		if (logged++ < 16)
			ahv_log("ahv: %u-byte store to the xAPIC/I/O APIC at %lx (gpa %lx): #GP\n", st.width, lin, gpa);
		return -1;
	}
	uint32_t val = st.val;
	unsigned width = st.width;
	int xreg = st.xreg;
	*len = st.len;
	unsigned off = (unsigned)(gpa & 0xffc);
	uint64_t page = gpa & ~0xfffull;
	uint32_t old = 0;
	static uint32_t dropped;
	if (io >= 0) {
		old = ioapic_write(v, hv->handoff->ioapics.io[io].base, off, val, width, xreg >= 0);
	} else if (page != AHV_XAPIC_BASE || !ahv_xapic_writable(off)) {
		if (dropped++ < 16) /* an XCHG reads 0: nothing was there to read */
			ahv_log("AHV-HV-SMP: cpu %u: store of %x to %lx (%s) dropped\n", v->index, val, gpa,
				page == AHV_XAPIC_BASE ? "reserved xAPIC register" : "interrupt-message range");
	} else {
		old = xreg >= 0 ? *xapic_reg(off) : 0;
		if (off == XAPIC_ICR_LO)
			icr_write(hv, v, val);
		else
			*xapic_reg(off) = val;
	}
	ahv_guest_store_xchg(v, &st, old);
	return 0;
}

uint32_t ahv_sipi_wait(struct ahv_vcpu *v)
{
	v->hlt_parks++;
	__atomic_store_n(&v->init_pending, 0, __ATOMIC_SEQ_CST);
	/* Halt in the host (IF=0): an NMI - the sender's wake-up after a
	 * SIPI, or a stop's kick - ends the HLT (isr.S: an NMI between the
	 * checks and the HLT skips it); nothing spins while the CPU waits. */
	__atomic_store_n(&v->parked, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&v->sipi_go, __ATOMIC_SEQ_CST)) {
		if (ahv_smp_stop_pending()) {
			ahv_smp_check_in(v);
			continue;
		}
		ahv_park_wait(&v->sipi_go, &ahv_smp_stop_active);
	}
	__atomic_store_n(&v->parked, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->sipi_go, 0, __ATOMIC_RELEASE);
	/* The INIT that came with this SIPI, if any, is done with (an INIT
	 * sent while parked was never acted on by an NMI exit). */
	__atomic_store_n(&v->init_pending, 0, __ATOMIC_SEQ_CST);
	if (v->hlt_parks < 8)
		ahv_log("AHV-HV-SMP: cpu %u starts at %x:0000 (SIPI)\n", v->index, v->sipi_vector << 8);
	return v->sipi_vector;
}

uint32_t ahv_init_redirected;

int ahv_init_signal(struct ahv_vcpu *v)
{
	static uint32_t logged;
	if (logged++ < 16)
		ahv_log("AHV-HV-SMP: cpu %u: INIT arrived as #SX (VM_CR.R_INIT)%s\n", v->index,
			v->index ? ": waiting for SIPI" : ": the boot CPU's is refused");
	if (!v->index)
		return 0; /* as an INIT to the boot CPU through the ICR */
	__atomic_store_n(&v->wait_sipi, 1, __ATOMIC_RELEASE);
	return 1;
}

/* #SX error code 1: an INIT redirected (APM Vol. 2 §15.30.1 VM_CR.R_INIT,
 * §8.2.21 "#SX"). In the host that is a CPU parked for its SIPI (the INIT
 * re-arms wait_sipi, as a real INIT to a CPU waiting for SIPI does) or in
 * the NMI window of its exit loop (init_pending: it parks next). */
int ahv_host_init_exception(uint64_t error)
{
	if (error != 1 || !__atomic_load_n(&ahv_init_redirected, __ATOMIC_ACQUIRE))
		return 0;
	uint32_t r[4];
	ahv_cpuid(1, 0, r); /* EBX[31:24]: this CPU's initial APIC id */
	struct ahv_vcpu *v = ahv_vcpu_by_apic_id(&ahv_hv_g, r[1] >> 24);
	if (!v)
		return 0;
	if (ahv_init_signal(v))
		__atomic_store_n(&v->init_pending, 1, __ATOMIC_SEQ_CST);
	return 1;
}

int ahv_smp_xapic_usable(char *why, size_t cap)
{
	uint64_t base = ahv_rdmsr(MSR_IA32_APIC_BASE);
	/* x2APIC mode would send INIT/SIPI by WRMSR, past the trap (§11.12). */
	if (base & APIC_BASE_EXTD) {
		ahv_snprintf(why, cap, "smp = on needs the local APIC in xAPIC mode (x2APIC is enabled)");
		return -1;
	}
	if ((base & ~0xfffull & ((1ull << ahv_maxphyaddr()) - 1)) != AHV_XAPIC_BASE) {
		ahv_snprintf(why, cap, "smp = on needs the xAPIC at its default address");
		return -1;
	}
	return 0;
}
