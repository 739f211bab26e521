/*
 * pcicfg.c - the IOMMU's PCI configuration space, guarded (docs/iommu.md
 * "The IOMMU's configuration space", issue 15). An AMD-Vi IOMMU is a PCI
 * function whose IOMMU capability block holds its register window's base
 * (AMD IOMMU spec 48882 §3.2); a guest kernel that rewrote it, or cleared
 * the function's Memory Space or Bus Master enable, could move or stop
 * the unit that keeps devices out of hypervisor memory on hardware that
 * lets it. Guest writes reach configuration space two ways; while a
 * function is guarded both are trapped:
 *  - mechanism #1, ports CF8h-CFFh (PCI 3.0 §3.2.2.3.2), through the I/O
 *    permission bitmaps of both back ends (port_io.c hands the exits to
 *    ahv_pcicfg_io): reads and the address latch pass through; a write to
 *    the data ports is checked against the latch as the chipset holds it,
 *    read back under the lock every access to these ports takes, so no
 *    other CPU can move the latch between the check and the write;
 *  - ECAM (PCIe Base 4.0 §7.2.2, the ACPI MCFG window): only the guarded
 *    function's 4 KiB page is write-protected in the nested tables; a store
 *    there exits, is decoded (guest_store.c) and done or dropped here.
 * pcicfg_guard.h decides (the Command register and the capability block
 * are refused); a refused write is dropped and logged (the first 32, then
 * the 2^k-th, each with its number). Reads are never refused.
 */
#include "ahv/x86/acpi_iommu.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/guest_store.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/pcicfg_guard.h"

/* Refusals logged: the first PCICFG_LOG_ALL, then the 2^k-th ones
 * (Linux's PCI enumeration alone refuses 16 Command writes of QEMU's
 * 00:02.0: its BAR sizing and INTx-mask probe). */
#define PCICFG_LOG_ALL 32

static struct {
	uint32_t n;
	struct ahv_pcicfg_fn fn[AHV_PCICFG_MAX_FN];
	uint64_t ecam[AHV_PCICFG_MAX_FN]; /* the function's ECAM page, 0: none */
	uint32_t lock, refusals, str_logged;
} guard;

static const char *const why_name[] = {"", "Command register", "IOMMU capability block",
				       "past the function's 4 KiB"};

int ahv_pcicfg_guard(uint16_t segment, uint16_t bdf, uint16_t cap)
{
#ifdef AHV_NO_PCICFG_GUARD
	/* -DAHV_PCICFG_GUARD=OFF: the negative control of e2e-dma-amdvi's
	 * configuration-space case (docs/iommu.md). */
	ahv_log("AHV-HV-IOMMU: IOMMU function %02x:%02x.%x NOT guarded (built with AHV_PCICFG_GUARD=OFF)\n", bdf >> 8,
		(bdf >> 3) & 31, bdf & 7);
	(void)segment, (void)cap;
	return 0;
#else
	if (ahv_pcicfg_find(guard.fn, guard.n, segment, bdf))
		return 0;
	if (guard.n == AHV_PCICFG_MAX_FN)
		return -1;
	guard.fn[guard.n] = (struct ahv_pcicfg_fn){segment, bdf, cap};
	guard.ecam[guard.n++] = 0;
	return 0;
#endif
}

int ahv_pcicfg_active(void) { return guard.n != 0; }

int ahv_pcicfg_ecam_setup(struct ahv_hv *hv, uint64_t mcfg, char *why, size_t cap)
{
	const uint8_t *t = (const uint8_t *)(uintptr_t)mcfg;
	uint32_t len = 0;
	if (t)
		__builtin_memcpy(&len, t + 4, 4);
	for (uint32_t i = 0; i < guard.n; i++) {
		const struct ahv_pcicfg_fn *f = &guard.fn[i];
		struct ahv_ecam e;
		for (uint32_t k = 0; t && len <= 1u << 20 && !ahv_mcfg_entry(t, len, k, &e) && !guard.ecam[i]; k++)
			guard.ecam[i] = ahv_ecam_page(&e, f->segment, f->bdf);
		int lvl;
		/* Never a page of the hypervisor's (protecting it would map it
		 * for the guest). The host reaches the page through its own
		 * tables (RAM is mapped to at least 4 GiB; an ECAM window may
		 * lie above). A page that cannot be guarded stops the start:
		 * the guest would write the function through it unchecked. */
		if (guard.ecam[i] && ahv_hv_owns(hv, guard.ecam[i], AHV_PAGE_SIZE)) {
			ahv_snprintf(why, cap, "ACPI MCFG: the ECAM page %lx of IOMMU function %02x:%02x.%x lies in "
				     "hypervisor memory", guard.ecam[i], f->bdf >> 8, (f->bdf >> 3) & 31, f->bdf & 7);
			return -1;
		}
		if (guard.ecam[i] && !ahv_pt_lookup(&hv->host_pt, guard.ecam[i], &lvl) &&
		    ahv_pt_map4k(&hv->host_pt, guard.ecam[i], guard.ecam[i] + AHV_PAGE_SIZE)) {
			ahv_snprintf(why, cap, "hypervisor memory pool too small to map the IOMMU's ECAM page");
			return -1;
		}
		ahv_log("AHV-HV-IOMMU: IOMMU function %02x:%02x.%x (segment %u) guarded: writes to its Command "
			"register and capability block at %x refused through CF8/CFC and %s %lx\n",
			f->bdf >> 8, (f->bdf >> 3) & 31, f->bdf & 7, f->segment, f->cap,
			guard.ecam[i] ? "its ECAM page" : "ECAM (none: no MCFG entry covers it)", guard.ecam[i]);
	}
	return 0;
}

int ahv_pcicfg_protect(struct ahv_pt *pt, uint64_t write_bit)
{
	for (uint32_t i = 0; i < guard.n; i++)
		if (guard.ecam[i] && ahv_pt_protect4k(pt, guard.ecam[i], write_bit))
			return -1;
	return 0;
}

int ahv_pcicfg_unmap(struct ahv_pt *pt)
{
	for (uint32_t i = 0; i < guard.n; i++)
		if (guard.ecam[i] && ahv_pt_unmap(pt, guard.ecam[i], guard.ecam[i] + AHV_PAGE_SIZE))
			return -1;
	return 0;
}

int ahv_pcicfg_ecam_trapped(uint64_t gpa)
{
	for (uint32_t i = 0; i < guard.n; i++)
		if (guard.ecam[i] && guard.ecam[i] == (gpa & ~0xfffull))
			return 1;
	return 0;
}

static void refused(const struct ahv_vcpu *v, const struct ahv_pcicfg_fn *f, uint32_t off, unsigned width,
		    uint32_t val, enum ahv_pcicfg_why w, const char *way)
{
	uint32_t n = __atomic_add_fetch(&guard.refusals, 1, __ATOMIC_RELAXED);
	if (n <= PCICFG_LOG_ALL || !(n & (n - 1)))
		ahv_log("AHV-HV-IOMMU: cpu %u: config write to IOMMU function %02x:%02x.%x offset %x (%u bytes, "
			"value %x) through %s refused (%s): dropped (refusal %u)\n",
			v->index, f->bdf >> 8, (f->bdf >> 3) & 31, f->bdf & 7, off, width, val, way, why_name[w], n);
}

static void lock(void)
{
	while (__atomic_exchange_n(&guard.lock, 1, __ATOMIC_ACQUIRE))
		ahv_pause();
}
static void unlock(void) { __atomic_store_n(&guard.lock, 0, __ATOMIC_RELEASE); }

int ahv_pcicfg_io(struct ahv_vcpu *v, uint16_t port, unsigned size, int in, int str, int rep)
{
	if (!guard.n || port + size <= AHV_PCI_CF8 || port >= AHV_PCI_CFC + 4)
		return 0;
	if (str) {
		/* INS/OUTS on the configuration ports: not emulated (no OS
		 * uses them); dropped, a REP's count consumed. */
		if (__atomic_fetch_add(&guard.str_logged, 1, __ATOMIC_RELAXED) < 8)
			ahv_log("AHV-HV-IOMMU: cpu %u: string I/O to port %x dropped (configuration ports guarded)\n",
				v->index, port);
		if (rep)
			v->gprs.rcx = 0;
		return 1;
	}
	uint64_t mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
	lock();
	if (in) {
		/* A 32-bit IN zero-extends into RAX; 8/16-bit ones keep the rest. */
		uint32_t val = ahv_port_in(port, size);
		v->gprs.rax = size == 4 ? (val & mask) : ((v->gprs.rax & ~mask) | (val & mask));
	} else {
		uint32_t val = (uint32_t)(v->gprs.rax & mask), off = 0;
		const struct ahv_pcicfg_fn *f;
		enum ahv_pcicfg_why w = ahv_pcicfg_cf8_write(guard.fn, guard.n, ahv_port_in(AHV_PCI_CF8, 4), port, size,
							     &off, &f);
		if (w != AHV_PCICFG_PASS)
			refused(v, f, off, size, val, w, "CF8/CFC");
		else
			ahv_port_out(port, size, val);
	}
	unlock();
	return 1;
}

int ahv_pcicfg_store(struct ahv_hv *hv, struct ahv_vcpu *v, const struct ahv_vcpu_exit *x, uint64_t lin,
		     uint64_t gpa, unsigned *len)
{
	struct ahv_guest_store st;
	if (ahv_guest_store_decode(hv, v, x, lin, gpa, "ECAM", &st))
		return -1;
	const struct ahv_pcicfg_fn *f = NULL;
	for (uint32_t i = 0; i < guard.n && !f; i++)
		if (guard.ecam[i] == (gpa & ~0xfffull))
			f = &guard.fn[i];
	if (!f)
		return -1;
	uint32_t off = (uint32_t)(gpa & 0xfff), old = 0;
	enum ahv_pcicfg_why w = ahv_pcicfg_fn_write(f, off, st.width);
	uintptr_t a = (uintptr_t)gpa;
	if (st.xreg >= 0 && w != AHV_PCICFG_OUTSIDE)
		old = *(volatile uint32_t *)a; /* XCHG: dword only */
	if (w != AHV_PCICFG_PASS)
		refused(v, f, off, st.width, st.val, w, "ECAM");
	else if (st.width == 1)
		*(volatile uint8_t *)a = (uint8_t)st.val;
	else if (st.width == 2)
		*(volatile uint16_t *)a = (uint16_t)st.val;
	else
		*(volatile uint32_t *)a = st.val;
	ahv_guest_store_xchg(v, &st, old);
	*len = st.len;
	return 0;
}
