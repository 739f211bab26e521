/*
 * vtd.c - DMA protection with Intel VT-d (docs/iommu.md): every DMA
 * remapping unit the DMAR table reports translates every device's DMA
 * through one second-level table the hypervisor owns, built by the
 * nested-table builder (pt.c) in the EPT-compatible format. Section numbers:
 * Intel Virtualization Technology for Directed I/O Architecture
 * Specification rev 5.10 (D51397-018); rev 3.x numbers the registers
 * §10.4.x, rev 4.x as here up to the §11.4.4-§11.4.7 regrouping.
 */
#include <string.h>
#include "ahv/x86/acpi_iommu.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"
#include "ahv/x86/nested.h"

/* Register offsets (§11.4, Table 11-3). */
#define VTD_CAP 0x08    /* §11.4.2 Capability */
#define VTD_ECAP 0x10   /* §11.4.3 Extended Capability */
#define VTD_GCMD 0x18   /* §11.4.4.1 Global Command (32-bit) */
#define VTD_GSTS 0x1c   /* §11.4.4.2 Global Status (32-bit) */
#define VTD_RTADDR 0x20 /* §11.4.5 Root Table Address */
#define VTD_CCMD 0x28   /* §11.4.6.1 Context Command */
#define VTD_FSTS 0x34   /* §11.4.7.1 Fault Status (32-bit) */
#define VTD_FECTL 0x38  /* §11.4.7.2 Fault Event Control (32-bit) */

/* CAP fields (§11.4.2). */
#define CAP_RWBF(c) (((c) >> 4) & 1)          /* write-buffer flush required */
#define CAP_SAGAW(c) (((c) >> 8) & 0x1f)      /* bit 1: 39-bit 3-level, bit 2: 48-bit 4-level */
#define CAP_MGAW(c) ((unsigned)(((c) >> 16) & 0x3f) + 1)
#define CAP_FRO(c) ((((c) >> 24) & 0x3ff) * 16) /* fault recording offset */
#define CAP_SLLPS(c) (((c) >> 34) & 0xf)      /* bit 0: 2 MiB, bit 1: 1 GiB leaves */
#define CAP_NFR(c) ((unsigned)(((c) >> 40) & 0xff) + 1)
#define CAP_DWD(c) (((c) >> 54) & 1)
#define CAP_DRD(c) (((c) >> 55) & 1)
/* ECAP fields (§11.4.3). */
#define ECAP_C(e) ((e) & 1)                   /* page walks snoop the caches */
#define ECAP_IRO(e) ((((e) >> 8) & 0x3ff) * 16) /* IOTLB register offset */
/* GCMD / GSTS bits (§11.4.4.1, §11.4.4.2): the same positions. */
#define GCMD_TE (1u << 31)   /* translation enable / TES */
#define GCMD_SRTP (1u << 30) /* set root table pointer / RTPS */
#define GCMD_WBF (1u << 27)  /* write buffer flush / WBFS */
#define GCMD_QIE (1u << 26)  /* queued invalidation enable / QIES */
/* One-shot commands (SRTP, SFL, WBF, SIRTP) masked out when the status is
 * written back as the next command (§11.4.4.1, "software must ... preserve"). */
#define GSTS_KEEP 0x96FFFFFFu
/* CCMD (§11.4.6.1): ICC bit 63, CIRG 62:61 = 01b global. IOTLB_REG
 * (§11.4.6.3) at ECAP.IRO + 8: IVT bit 63, IIRG 61:60 = 01b global, DR 49,
 * DW 48 (drain, when CAP.DRD / CAP.DWD). */
#define CCMD_ICC (1ull << 63)
#define CCMD_GLOBAL (1ull << 61)
#define IOTLB_IVT (1ull << 63)
#define IOTLB_GLOBAL (1ull << 60)
#define IOTLB_DR (1ull << 49)
#define IOTLB_DW (1ull << 48)
/* FSTS (§11.4.7.1): PFO bit 0 (RW1C), PPF bit 1. FECTL (§11.4.7.2): IM bit
 * 31. Fault recording register (§11.4.7.6), 128 bits: FI 63:12 (the page),
 * SID 79:64, T2 92, FR 103:96, T1 126, F 127 (RW1C). */
#define FSTS_PFO 1u
#define FSTS_PPF 2u
#define FECTL_IM (1u << 31)
/* Root entry (§9.1): P bit 0, context-table pointer 63:12. Context entry
 * (§9.3): P bit 0, TT 3:2 = 00b (untranslated requests through the
 * second-stage table), SLPTPTR 63:12; AW 66:64 (1: 39-bit 3-level, 2:
 * 48-bit 4-level), DID 87:72. Second-stage entries (§9.8): R bit 0, W bit 1,
 * PS bit 7 in a PDE/PDPE; the EPT layout, so pt.c builds them. */
#define VTD_DID 1 /* domain 0 is reserved when CAP.CM = 1 (§11.4.2) */
#define SL_R (1ull << 0)
#define SL_W (1ull << 1)

#define VTD_SPIN 50000000u /* status polls before a unit counts as dead */

struct vtd_unit {
	uint64_t base, cap, ecap;
};
static struct {
	uint32_t n;
	struct vtd_unit u[AHV_DMAR_MAX_DRHD];
	struct ahv_pt sl;
	uint32_t lock, inv_lock; /* the fault poll; register invalidation */
	uint64_t faults;
} vtd;
static struct ahv_dmar dmar_g;

static uint32_t rd32(const struct vtd_unit *u, unsigned off) { return *(volatile uint32_t *)(uintptr_t)(u->base + off); }
static uint64_t rd64(const struct vtd_unit *u, unsigned off) { return *(volatile uint64_t *)(uintptr_t)(u->base + off); }
static void wr32(const struct vtd_unit *u, unsigned off, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(u->base + off) = v; }
static void wr64(const struct vtd_unit *u, unsigned off, uint64_t v) { *(volatile uint64_t *)(uintptr_t)(u->base + off) = v; }

/* Issue a GCMD bit and wait until GSTS shows `want` for it. */
static int gcmd(const struct vtd_unit *u, uint32_t bit, int want)
{
	uint32_t s = rd32(u, VTD_GSTS) & GSTS_KEEP;
	wr32(u, VTD_GCMD, want ? s | bit : s & ~bit);
	for (uint32_t i = 0; i < VTD_SPIN; i++) {
		uint32_t g = rd32(u, VTD_GSTS);
		/* SRTP and WBF: RTPS sets when done, WBFS clears when done. */
		if (bit == GCMD_WBF ? !(g & bit) : !!(g & bit) == !!want)
			return 0;
		ahv_pause();
	}
	return -1;
}

static int wait_clear64(const struct vtd_unit *u, unsigned off, uint64_t bit)
{
	for (uint32_t i = 0; i < VTD_SPIN; i++) {
		if (!(rd64(u, off) & bit))
			return 0;
		ahv_pause();
	}
	return -1;
}

/* Global IOTLB invalidation through the IOTLB register (§6.5.1 register-
 * based invalidation, §11.4.6.3 IOTLB_REG): drops every cached translation
 * and the paging-structure caches of every domain (§6.5.2 "IOTLB
 * invalidation" flushes the PDE caches too), draining writes and reads
 * first where the unit can. Caller holds vtd.inv_lock or runs alone. */
static int iotlb_global(const struct vtd_unit *u)
{
	unsigned iotlb = (unsigned)ECAP_IRO(u->ecap) + 8;
	wr64(u, iotlb, IOTLB_IVT | IOTLB_GLOBAL | (CAP_DRD(u->cap) ? IOTLB_DR : 0) | (CAP_DWD(u->cap) ? IOTLB_DW : 0));
	return wait_clear64(u, iotlb, IOTLB_IVT);
}

static void poll_unit(uint32_t idx)
{
	const struct vtd_unit *u = &vtd.u[idx];
	uint32_t fsts = rd32(u, VTD_FSTS);
	if (!(fsts & (FSTS_PFO | FSTS_PPF)))
		return;
	unsigned fro = (unsigned)CAP_FRO(u->cap), nfr = CAP_NFR(u->cap);
	for (unsigned i = 0; i < nfr; i++) {
		uint64_t hi = rd64(u, fro + i * 16 + 8);
		if (!(hi & (1ull << 63)))
			continue;
		uint64_t lo = rd64(u, fro + i * 16);
		uint16_t sid = (uint16_t)hi;
		unsigned t = (unsigned)((hi >> 62) & 1) | (unsigned)((hi >> 28) & 1) << 1; /* T2:T1 */
		vtd.faults++;
		ahv_log("AHV-HV-IOMMU: DMA fault: unit %u, device %02x:%02x.%x, %s at %lx, reason %x\n", idx,
			sid >> 8, (sid >> 3) & 31, sid & 7,
			t == 0 ? "write" : t == 1 ? "read" : t == 2 ? "page request" : "atomic",
			lo & ~(uint64_t)0xfff, (unsigned)(hi >> 32) & 0xff);
		/* A DMA write the W = 0 of a watched frame blocked: the watch's
		 * first write, by a device (docs/watch.md); the frame is given
		 * back in the nested and these tables, as for a CPU write. */
		if (t == 0 && ahv_hv_g.core &&
		    ahv_watch_write_fault(ahv_hv_g.core, lo & ~(uint64_t)0xfff, sid, AHV_WATCH_APIC_DEVICE))
			ahv_log("AHV-HV-IOMMU: DMA write at %lx by %02x:%02x.%x recorded for a watched region\n",
				lo & ~(uint64_t)0xfff, sid >> 8, (sid >> 3) & 31, sid & 7);
		wr64(u, fro + i * 16 + 8, 1ull << 63); /* F is RW1C */
	}
	if (fsts & FSTS_PFO) {
		ahv_log("AHV-HV-IOMMU: unit %u: fault records overflowed (faults lost)\n", idx);
		wr32(u, VTD_FSTS, FSTS_PFO);
	}
}

void ahv_iommu_poll(void)
{
	/* A canary the e2e-dma test aims a device write at (docs/iommu.md):
	 * the handoff's magic at the start of the pool, never rewritten. */
	static uint32_t canary_told;
	const struct ahv_handoff *h = ahv_hv_g.handoff;
	if (h && h->magic != AHV_HANDOFF_MAGIC && !__atomic_exchange_n(&canary_told, 1, __ATOMIC_RELAXED))
		ahv_log("AHV-HV-IOMMU: hypervisor memory overwritten: the handoff at %lx holds %lx\n",
			(uint64_t)(uintptr_t)h, h->magic);
	uint32_t n = __atomic_load_n(&vtd.n, __ATOMIC_ACQUIRE), namd = ahv_amdvi_units();
	if ((!n && !namd) || __atomic_exchange_n(&vtd.lock, 1, __ATOMIC_ACQUIRE))
		return;
	for (uint32_t i = 0; i < n; i++)
		poll_unit(i);
	for (uint32_t i = 0; i < namd; i++) /* AMD-Vi (amdvi.c) */
		ahv_amdvi_poll_unit(i);
	__atomic_store_n(&vtd.lock, 0, __ATOMIC_RELEASE);
}

int ahv_iommu_protect(uint64_t gpa, int protect)
{
	uint32_t n = __atomic_load_n(&vtd.n, __ATOMIC_ACQUIRE);
	int rc = 0;

	/* Absent for devices (the hypervisor's): nothing to take away. */
	if (!n || !ahv_pt_lookup(&vtd.sl, gpa, NULL))
		return 0;
	while (__atomic_exchange_n(&vtd.inv_lock, 1, __ATOMIC_ACQUIRE))
		ahv_pause();
	/* W is bit 1 here as in EPT (§9.8): the nested tables' helper. */
	if (ahv_nested_wp(&vtd.sl, gpa, protect, SL_W))
		rc = -1;
	for (uint32_t i = 0; i < n && !rc; i++)
		if (!ECAP_C(vtd.u[i].ecap)) { /* walks do not snoop (§11.4.3 C) */
			__asm__ volatile("wbinvd" ::: "memory");
			break;
		}
	for (uint32_t i = 0; i < n && !rc; i++)
		if ((CAP_RWBF(vtd.u[i].cap) && gcmd(&vtd.u[i], GCMD_WBF, 1)) || iotlb_global(&vtd.u[i]))
			ahv_log("AHV-HV-IOMMU: VT-d unit %u does not complete an IOTLB invalidation\n", i);
	__atomic_store_n(&vtd.inv_lock, 0, __ATOMIC_RELEASE);
	return rc;
}

/* Program one unit: faults masked and drained, root table, global
 * context-cache and IOTLB invalidation, translation on (§6.5 / §11.4). */
static int enable_unit(struct vtd_unit *u, uint32_t idx, uint64_t root, char *why, size_t cap)
{
	uint32_t gsts = rd32(u, VTD_GSTS);
	if (gsts & GCMD_QIE) {
		ahv_snprintf(why, cap, "VT-d unit at %lx: queued invalidation already enabled by the firmware "
			     "(the unit is in use)", u->base);
		return -1;
	}
	wr32(u, VTD_FECTL, FECTL_IM); /* no fault interrupt: polled */
	poll_unit(idx);               /* faults left by the firmware, logged */
	if (CAP_RWBF(u->cap) && gcmd(u, GCMD_WBF, 1))
		goto dead;
	wr64(u, VTD_RTADDR, root); /* TTM (11:10) = 00b: legacy mode */
	if (gcmd(u, GCMD_SRTP, 1))
		goto dead;
	wr64(u, VTD_CCMD, CCMD_ICC | CCMD_GLOBAL);
	if (wait_clear64(u, VTD_CCMD, CCMD_ICC))
		goto dead;
	if (iotlb_global(u))
		goto dead;
	if (gcmd(u, GCMD_TE, 1))
		goto dead;
	return 0;
dead:
	ahv_snprintf(why, cap, "VT-d unit at %lx does not complete its commands (GSTS %x)", u->base,
		     rd32(u, VTD_GSTS));
	return -1;
}

/* The end of the identity map the DMA tables give the devices: the top of
 * RAM (and the holes below it) rounded up to 1 GiB, at least 4 GiB. */
static uint64_t dma_top(const struct ahv_handoff *h)
{
	uint64_t top = 4 * AHV_1G;
	for (uint32_t i = 0; i < h->n_memmap; i++)
		if (h->memmap[i].end > top)
			top = h->memmap[i].end;
	return (top + AHV_1G - 1) & ~(AHV_1G - 1);
}

int ahv_iommu_setup(struct ahv_hv *hv, char *why, size_t cap)
{
	struct ahv_handoff *h = hv->handoff;
#ifdef AHV_NO_DMA_PROTECTION
	(void)enable_unit, (void)&dmar_g, (void)dma_top;
	ahv_log("AHV-HV-IOMMU: DMA protection compiled out (AHV_NO_DMA_PROTECTION): IOMMUs left alone\n");
	(void)h, (void)why, (void)cap;
	return 0;
#else
	const char *perr = NULL;
	if (!h->acpi_dmar) {
		if (h->acpi_ivrs)
			return ahv_amdvi_setup(hv, dma_top(h), why, cap);
		ahv_log("AHV-HV-IOMMU: no DMAR or IVRS table: DMA is not protected\n");
		return 0;
	}
	uint8_t *t = (uint8_t *)(uintptr_t)h->acpi_dmar;
	uint32_t len;
	memcpy(&len, t + 4, 4);
	if (len > 1u << 20 || ahv_dmar_parse(t, len, &dmar_g, &perr)) {
		ahv_snprintf(why, cap, "ACPI DMAR table at %lx: %s", h->acpi_dmar, perr ? perr : "longer than 1 MiB");
		return -1;
	}
	/* An RMRR is memory a device keeps using (§8.4): it stays mapped, so it
	 * must not be the hypervisor's (checked before the registers join). */
	for (uint32_t i = 0; i < dmar_g.n_rmrr; i++)
		if (ahv_hv_owns(hv, dmar_g.rmrr[i].base, dmar_g.rmrr[i].limit + 1 - dmar_g.rmrr[i].base)) {
			ahv_snprintf(why, cap, "ACPI DMAR: reserved region %lx-%lx overlaps hypervisor memory",
				     dmar_g.rmrr[i].base, dmar_g.rmrr[i].limit);
			return -1;
		}
	/* One second-stage format for every unit: 4-level if all offer it,
	 * else 3-level (the PML4's first table: 512 GiB), §11.4.2 SAGAW. */
	unsigned sagaw = 0x1f, sllps = 0xf, mgaw = 64;
	for (uint32_t i = 0; i < dmar_g.n_drhd; i++) {
		struct vtd_unit *u = &vtd.u[i];
		u->base = dmar_g.drhd[i].reg_base;
		if (hv->n_hidden == AHV_MAX_HIDDEN) {
			ahv_snprintf(why, cap, "too many VT-d units (%u) to hide", dmar_g.n_drhd);
			return -1;
		}
		hv->hidden[hv->n_hidden++] = (struct ahv_mem_range){u->base, u->base + dmar_g.drhd[i].reg_size, 0, 0};
		u->cap = rd64(u, VTD_CAP);
		u->ecap = rd64(u, VTD_ECAP);
		sagaw &= (unsigned)CAP_SAGAW(u->cap);
		sllps &= (unsigned)CAP_SLLPS(u->cap);
		if (CAP_MGAW(u->cap) < mgaw)
			mgaw = CAP_MGAW(u->cap);
		ahv_log("AHV-HV-IOMMU: VT-d unit %u at %lx (segment %u%s): cap %lx ecap %lx\n", i, u->base,
			dmar_g.drhd[i].segment,
			(dmar_g.drhd[i].flags & AHV_DRHD_F_INCLUDE_PCI_ALL) ? ", all PCI devices" : "", u->cap,
			u->ecap);
	}
	int levels = (sagaw & 4) ? 4 : (sagaw & 2) ? 3 : 0;
	if (!levels) {
		ahv_snprintf(why, cap, "VT-d units offer neither 4- nor 3-level second-stage tables (SAGAW %x)", sagaw);
		return -1;
	}
	unsigned aw = levels == 4 ? 48 : 39;
	if (mgaw < aw)
		aw = mgaw;
	/* Guest RAM (and the holes below it) identity-mapped, as in the nested
	 * tables; the hypervisor's frames absent. */
	uint64_t top = dma_top(h);
	if (aw < 64 && top > 1ull << aw) {
		ahv_snprintf(why, cap, "RAM ends at %lx, above the %u-bit DMA address width of the VT-d units", top, aw);
		return -1;
	}
	vtd.sl = (struct ahv_pt){.pool = &hv->pool, .table_bits = SL_R | SL_W, .leaf_bits = SL_R | SL_W,
				 .max_leaf_level = (sllps & 2) ? 3 : (sllps & 1) ? 2 : 1};
	uint64_t root = ahv_pool_pages(&hv->pool, 1), ctx = ahv_pool_pages(&hv->pool, 1);
	if (!root || !ctx || ahv_pt_identity(&vtd.sl, top))
		goto nomem;
	for (uint32_t i = 0; i < hv->n_hidden; i++)
		if (ahv_pt_unmap(&vtd.sl, hv->hidden[i].start, hv->hidden[i].end))
			goto nomem;
	uint64_t slptr = levels == 4 ? vtd.sl.root : ((uint64_t *)(uintptr_t)vtd.sl.root)[0] & PTE_ADDR_MASK;
	/* Every bus of every unit shares one context table; every devfn the
	 * one domain. */
	uint64_t *re = (uint64_t *)(uintptr_t)root, *ce = (uint64_t *)(uintptr_t)ctx;
	for (unsigned i = 0; i < 256; i++) {
		re[2 * i] = ctx | 1;
		ce[2 * i] = slptr | 1;
		ce[2 * i + 1] = (levels == 4 ? 2u : 1u) | (uint64_t)VTD_DID << 8;
	}
	/* Units whose page walks do not snoop (ECAP.C = 0) read the tables
	 * from memory: write them back first (§6.5.5 / §11.4.3 C). */
	for (uint32_t i = 0; i < dmar_g.n_drhd; i++)
		if (!ECAP_C(vtd.u[i].ecap)) {
			__asm__ volatile("wbinvd" ::: "memory");
			break;
		}
	for (uint32_t i = 0; i < dmar_g.n_drhd; i++)
		if (enable_unit(&vtd.u[i], i, root, why, cap))
			return -1;
	__atomic_store_n(&vtd.n, dmar_g.n_drhd, __ATOMIC_RELEASE);
	/* Hide the table from the guest: renamed in place, checksum fixed, so
	 * no OS driver takes the units (its RSDT/XSDT entry stays). */
	ahv_acpi_rename(t, len, "AHVD");
	ahv_log("AHV-HV-IOMMU: DMA protection on: %u VT-d unit(s), %d-level second-stage table, "
		"[0, %lx) identity-mapped less %u hypervisor ranges, %s leaves; DMAR table renamed AHVD\n",
		dmar_g.n_drhd, levels, top, hv->n_hidden,
		vtd.sl.max_leaf_level == 3 ? "1 GiB" : vtd.sl.max_leaf_level == 2 ? "2 MiB" : "4 KiB");
	return 1;
nomem:
	ahv_snprintf(why, cap, "hypervisor memory pool too small for the VT-d tables");
	return -1;
#endif
}
