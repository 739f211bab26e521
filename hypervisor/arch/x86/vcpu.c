/*
 * vcpu.c - exit work that the VT-x and SVM back ends do the same way: exit
 * counters, the CPUID policy, the hypercall into the engine, the intercepted
 * I/O ports, the guest paging mode, and the nested tables (one builder in
 * pt.c for both formats, the format being the entry bits in struct ahv_pt).
 * A back end decodes its own exit information (VMCS fields / VMCB) and its
 * own RIP advance, then calls these.
 */
#include "attest/wire.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/fixup.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"

/* CPUID bits the policy touches. */
#define CPUID_1_ECX_VMX (1u << 5)          /* SDM Vol. 2A CPUID Table 3-10; Vol. 3C §24.6 */
#define CPUID_1_ECX_DTES64 (1u << 2)       /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_1_ECX_DSCPL (1u << 4)
#define CPUID_1_EDX_DS (1u << 21)          /* Table 3-11 */
#define CPUID_7_EBX_PT (1u << 25)          /* leaf 07H EBX: Intel Processor Trace */
#define CPUID_1_ECX_OSXSAVE (1u << 27)     /* SDM Vol. 2A CPUID Table 3-10 */
#define CPUID_7_ECX_OSPKE (1u << 4)        /* SDM Vol. 2A CPUID leaf 07H */
#define CPUID_D1_EAX_XSAVES (1u << 3)      /* SDM Vol. 2A CPUID leaf 0DH, sub-leaf 1 */
#define MSR_IA32_XSS 0xDA0u                /* SDM Vol. 4 Table 2-2 */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)  /* reserved for hypervisor use (APM Vol. 3 E.3.2) */
#define CPUID_8000_0001_ECX_SVM (1u << 2)  /* APM Vol. 2 §15.4 "Enabling SVM" */

void ahv_vcpu_count_exit(struct ahv_vcpu *v, uint64_t code)
{
	v->exits++;
	v->exit_count[code < 0x100 ? code : 0x100]++;
}

void ahv_vcpu_print_counters(const struct ahv_vcpu *v)
{
	ahv_log("AHV-HV-EXITS total %lu:", v->exits);
	for (unsigned i = 0; i < AHV_EXIT_COUNTERS; i++)
		if (v->exit_count[i])
			ahv_log(" %s%x=%lu", i == 0x100 ? "other/" : "", i, v->exit_count[i]);
	ahv_log("\n");
}

/* CPUID.(EAX=0DH,ECX=1):EBX, the size of an XSAVES area for the state
 * components enabled in XCR0 | IA32_XSS (SDM Vol. 1 §13.4.3 "Compacted
 * Form"): 576 bytes of legacy area and header, then each enabled component
 * i >= 2 with the size of CPUID.(0DH,i):EAX, 64-byte aligned when
 * CPUID.(0DH,i):ECX[1]. Computed, as KVM does, rather than passed through:
 * some CPUs (Bochs 2.7) answer the standard-form size, and Linux then turns
 * XSAVE off ("XSAVE consistency problem"). XCR0 and IA32_XSS are the
 * guest's (neither is switched on VM entry/exit); on_host: the CPU's own
 * answer, kept when they cannot be read. */
static uint32_t xsaves_size(uint32_t on_host)
{
	uint64_t xcr0, xss = 0, mask;
	uint32_t r[4], size = 576;
	if (ahv_safe_xgetbv(0, &xcr0) || ahv_safe_rdmsr(MSR_IA32_XSS, &xss))
		return on_host;
	mask = xcr0 | xss;
	for (uint32_t i = 2; i < 63; i++) {
		if (!(mask >> i & 1))
			continue;
		ahv_cpuid(0xD, i, r);
		if (r[2] & 2) /* ECX[1]: 64-byte aligned in the compacted form */
			size = (size + 63) & ~63u;
		size += r[0];
	}
	return size;
}

void ahv_vcpu_cpuid(struct ahv_hv *hv, struct ahv_vcpu *v, uint64_t guest_cr4)
{
	uint32_t leaf = (uint32_t)v->gprs.rax, sub = (uint32_t)v->gprs.rcx, r[4];
	if (leaf >= 0x40000000u && leaf <= 0x400000FFu) {
		/* Hypervisor leaves (protocol.md §2), answered by the core: our
		 * own signature, never the emulator's (docs/pitfalls.md 11). */
		if (!ahv_core_cpuid(hv->core, leaf, r))
			r[0] = r[1] = r[2] = r[3] = 0;
	} else {
		ahv_cpuid(leaf, sub, r);
		if (leaf == 1) {
			r[2] |= CPUID_1_ECX_HYPERVISOR;
			r[2] &= ~CPUID_1_ECX_VMX;          /* VT-x is not offered */
			/* Nor the DS save area (BTS/PEBS stores, msr_policy.c). */
			r[2] &= ~(CPUID_1_ECX_DTES64 | CPUID_1_ECX_DSCPL);
			r[3] &= ~CPUID_1_EDX_DS;
			/* OSXSAVE mirrors CR4.OSXSAVE (SDM Vol. 2A CPUID,
			 * Table 3-10 bit 27): the guest's, not the host's. */
			r[2] = (guest_cr4 & CR4_OSXSAVE) ? r[2] | CPUID_1_ECX_OSXSAVE : r[2] & ~CPUID_1_ECX_OSXSAVE;
			/* smp = on (docs/smp.md): no x2APIC, whose ICR is an MSR
			 * the INIT/SIPI emulation (initsipi.c) does not trap, nor
			 * MONITOR/MWAIT: parked CPUs then wait with HLT, which SVM
			 * sees (EDK2's AP loop picks MWAIT when offered). */
			if (hv->handoff->policy & AHV_HO_SMP)
				r[2] &= ~((1u << 21) | (1u << 3));
		} else if (leaf == 0xD && sub == 1 && (r[0] & CPUID_D1_EAX_XSAVES)) {
			r[1] = xsaves_size(r[1]);
		} else if (leaf == 7 && sub == 0) {
			/* OSPKE mirrors CR4.PKE (Vol. 2A CPUID leaf 07H ECX bit 4). */
			r[2] = (guest_cr4 & CR4_PKE) ? r[2] | CPUID_7_ECX_OSPKE : r[2] & ~CPUID_7_ECX_OSPKE;
			r[1] &= ~CPUID_7_EBX_PT; /* Intel PT writes to physical memory: hidden, its MSRs #GP */
		} else if (leaf == 0x14) {
			r[0] = r[1] = r[2] = r[3] = 0; /* no Intel PT (Vol. 2A CPUID leaf 14H) */
		} else if (leaf == 0x80000001u) {
			r[2] &= ~CPUID_8000_0001_ECX_SVM;  /* nor SVM */
		} else if (leaf == 0x8000000Au) {
			r[0] = r[1] = r[2] = r[3] = 0;     /* no SVM features (APM Vol. 3 E.4.9) */
		}
	}
	v->gprs.rax = r[0];
	v->gprs.rbx = r[1];
	v->gprs.rcx = r[2];
	v->gprs.rdx = r[3];
}

/* ---- smp = on: stop the other vCPUs while the engine hashes ------------------ */
/* Snapshot consistency (docs/smp.md): an attestation runs while every other
 * vCPU waits in its host, so no guest write lands in a region while it is
 * hashed. The caller sends an NMI to each other CPU that runs guest code
 * (SVM: intercepted, #VMEXIT, absorbed in the host; VT-x: NMI exiting, or
 * taken in the host, whose next VM entry then turns back: vmx_run.S) and
 * waits until each of them checked in; vCPUs already in their host (parked
 * for SIPI, waiting for this lock) check in from their wait loops. A VT-x
 * CPU in wait-for-SIPI runs nothing and is not kicked: it checks in on its
 * way out of that state if the stop is still on (Dekker pair: its
 * in_wait_for_sipi store then the stop flag load, against the owner's stop
 * flag store then in_wait_for_sipi load). */
uint32_t ahv_smp_stop_active;
static uint32_t stop_lock, stop_arrived;

int ahv_smp_stop_pending(void)
{
	return __atomic_load_n(&ahv_smp_stop_active, __ATOMIC_SEQ_CST) != 0;
}

void ahv_smp_check_in(struct ahv_vcpu *v)
{
	if (!ahv_smp_stop_pending())
		return;
	__atomic_add_fetch(&stop_arrived, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->checked_in, 1, __ATOMIC_SEQ_CST);
	while (ahv_smp_stop_pending())
		ahv_pause();
	__atomic_store_n(&v->checked_in, 0, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&stop_arrived, 1, __ATOMIC_SEQ_CST);
}

static void stop_release(void)
{
	__atomic_store_n(&ahv_smp_stop_active, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&stop_arrived, __ATOMIC_SEQ_CST))
		ahv_pause();
	__atomic_store_n(&stop_lock, 0, __ATOMIC_RELEASE);
}

static int stop_others(struct ahv_hv *hv, struct ahv_vcpu *self)
{
	while (__atomic_exchange_n(&stop_lock, 1, __ATOMIC_ACQUIRE)) {
		if (ahv_smp_stop_pending()) {
			/* Someone else stops us while we are in the host. SVM: the
			 * kick NMI stays pending (GIF=0) until our next entry:
			 * absorb it then. VT-x: the host took it already. */
			self->nmi_owed = 1;
			ahv_smp_check_in(self);
		}
		ahv_pause();
	}
	__atomic_store_n(&ahv_smp_stop_active, 1, __ATOMIC_SEQ_CST);
	uint32_t n = __atomic_load_n(&hv->n_vcpus, __ATOMIC_ACQUIRE);
	uint64_t kicked = 0; /* bit i: vcpus[i] must check in */
	uint32_t n_kicked = 0;
	for (uint32_t i = 0; i < n && i < AHV_MAX_CPUS; i++) {
		struct ahv_vcpu *t = hv->vcpus[i];
		if (t == self || __atomic_load_n(&t->in_wait_for_sipi, __ATOMIC_SEQ_CST))
			continue;
		ahv_apic_send_nmi(t->apic_id);
		kicked |= 1ull << i;
		n_kicked++;
	}
	uint64_t hz = hv->handoff->tsc_hz ? hv->handoff->tsc_hz : 1000000000ull, t0 = ahv_rdtsc();
	for (uint64_t left = kicked; left;) {
		for (uint32_t i = 0; i < n; i++)
			if ((left >> i & 1) && __atomic_load_n(&hv->vcpus[i]->checked_in, __ATOMIC_SEQ_CST))
				left &= ~(1ull << i);
		if (left && ahv_rdtsc() - t0 > hz) { /* 1 s: give up, the caller retries */
			static uint32_t warned;
			if (warned++ < 8)
				ahv_log("AHV-HV-SMP: stop timed out (CPUs %lx of %lx did not check in)\n", left,
					kicked);
			stop_release();
			return -1;
		}
		ahv_pause();
	}
	static uint32_t logged;
	if (logged++ < 3)
		ahv_log("AHV-HV-SMP: stop by cpu %u: %u other CPUs stopped in %lu us\n", self->index,
			n_kicked, (ahv_rdtsc() - t0) * 1000000 / hz);
	return 0;
}

/* The stop as the core's quiesce hooks (ahv/platform.h): the core calls
 * them around the measurement only, after every check that can refuse the
 * request, so a refused caller freezes no other vCPU. */
struct stop_ctx {
	struct ahv_hv *hv;
	struct ahv_vcpu *self;
};

static int quiesce_stop(void *arg)
{
	struct stop_ctx *s = arg;
	return stop_others(s->hv, s->self);
}

static void quiesce_resume(void *arg)
{
	(void)arg;
	stop_release();
}

/* The engine, on this vCPU's hypercall registers. No FXSAVE here: the
 * engine is general-registers-only, and SHA-NI saves and restores the SSE
 * state itself (crypto/src/sha256.c). */
void ahv_vcpu_hypercall(struct ahv_hv *hv, struct ahv_vcpu *v, struct ahv_vcpu_exit *x)
{
	struct stop_ctx sc = {.hv = hv, .self = v};
	const struct ahv_quiesce q = {.stop = quiesce_stop, .resume = quiesce_resume, .arg = &sc};
	int smp = (hv->handoff->policy & AHV_HO_SMP) && __atomic_load_n(&hv->n_vcpus, __ATOMIC_ACQUIRE) >= 2;

	ahv_iommu_poll(); /* DMA faults since the last hypercall (docs/iommu.md) */

	x->regs = (struct ahv_hc_regs){.rax = v->gprs.rax, .rbx = v->gprs.rbx, .rcx = v->gprs.rcx,
				       .rdx = v->gprs.rdx, .rsi = v->gprs.rsi};
	x->apic_id = v->apic_id;
	ahv_hypercall_quiesced(hv->core, x, smp ? &q : NULL);
	v->gprs.rax = x->regs.rax;
	v->gprs.rbx = x->regs.rbx;
	v->gprs.rcx = x->regs.rcx;
	v->gprs.rdx = x->regs.rdx;
}

/* ---- intercepted I/O ports --------------------------------------------------- */
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
	return any;
}

static uint32_t port_in(uint16_t port, unsigned size)
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

static void port_out(uint16_t port, unsigned size, uint32_t val)
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
	uint16_t pm = hv->handoff->pm1a_cnt_port;
	uint64_t mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
	if (pm && port >= pm && port < pm + 2 && !str) {
		/* ACPI PM1a control: pass through, logging the counters first
		 * when SLP_EN (bit 13) is written. A 32-bit IN/OUT zero-extends
		 * into RAX; 8/16-bit ones keep the upper bits. */
		if (in) {
			uint32_t val = port_in(port, size);
			v->gprs.rax = size == 4 ? (val & mask) : ((v->gprs.rax & ~mask) | (val & mask));
			return;
		}
		uint32_t val = (uint32_t)(v->gprs.rax & mask);
		if (port == pm && size >= 2 && (val & (1u << 13))) {
			ahv_log("AHV-HV: guest power-off/sleep (PM1a_CNT %x)\n", val);
			ahv_vcpu_print_counters(v);
		}
		port_out(port, size, val);
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

/* ---- nested tables ------------------------------------------------------------- */
int ahv_nested_build(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top_out)
{
	unsigned pa_bits = ahv_maxphyaddr();
	if (pa_bits > 46)
		pa_bits = 46;
	uint64_t top = 4 * AHV_1G;
	for (uint32_t i = 0; i < hv->handoff->n_memmap; i++)
		if (hv->handoff->memmap[i].end > top)
			top = hv->handoff->memmap[i].end;
	top = (top + AHV_1G - 1) & ~(AHV_1G - 1);
	if (pt->max_leaf_level == 3)
		top = 1ull << pa_bits; /* cheap with 1 GiB pages: all of it */
	else {
		/* 2 MiB leaves: RAM plus room for 64-bit PCI windows, and at
		 * least the first 512 GiB (or all of MAXPHYADDR) so that the
		 * engine's nested walk sees the same identity map the guest
		 * does (2 MiB of tables at most); faults map more. */
		uint64_t floor = pa_bits < 39 ? 1ull << pa_bits : 512 * AHV_1G;
		top += 16 * AHV_1G;
		if (top < floor)
			top = floor;
	}
	*top_out = top;
	if (ahv_pt_identity(pt, top))
		return -1;
	for (uint32_t i = 0; i < hv->n_hidden; i++)
		if (ahv_pt_unmap(pt, hv->hidden[i].start, hv->hidden[i].end))
			return -1;
	return 0;
}

enum ahv_nested_fault ahv_nested_fault(struct ahv_hv *hv, struct ahv_pt *pt, uint64_t *top, uint64_t gpa,
				       uint64_t rip, uint64_t info, uint64_t *faults)
{
	if (ahv_hv_owns(hv, gpa & ~0xfffull, 4096)) {
		if ((*faults)++ < 16)
			ahv_log("ahv: guest touched hypervisor memory at gpa %lx (rip %lx, info %lx): #GP\n",
				gpa, rip, info);
		return AHV_NF_HV_MEMORY;
	}
	if (gpa >= *top && gpa < (1ull << ahv_maxphyaddr())) {
		/* Beyond the pre-built window (CPU without 1 GiB nested pages):
		 * map the 2 MiB around it, one to one. */
		uint64_t base = gpa & ~(AHV_2M - 1);
		if (ahv_pt_map4k(pt, base, base + AHV_2M) == 0)
			return AHV_NF_MAPPED;
	}
	ahv_log("ahv: unexpected nested page fault at gpa %lx (rip %lx, info %lx): #GP\n", gpa, rip, info);
	return AHV_NF_UNEXPECTED;
}
