/*
 * amdvi.c - DMA protection with AMD-Vi (docs/iommu.md): every IOMMU the IVRS
 * table reports translates every device's DMA through one host I/O page
 * table the hypervisor owns, built by the nested-table builder (pt.c) in
 * the AMD-Vi format (ahv/x86/amdvi.h). Called from ahv_iommu_setup and
 * ahv_iommu_poll (vtd.c) when the platform has an IVRS table and no DMAR.
 * Section numbers: AMD I/O Virtualization Technology (IOMMU) Specification
 * 48882 rev 3.x.
 */
#include <string.h>
#include "ahv/x86/acpi_iommu.h"
#include "ahv/x86/amdvi.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"

#define AMDVI_SPIN 50000000u /* polls before an IOMMU counts as dead */

struct amdvi_unit {
	uint64_t base, efr, ctl;
	uint8_t *cmd, *evt; /* command buffer, event log (4 KiB each) */
	uint32_t tail;      /* next command slot */
};
static struct {
	uint32_t n; /* IOMMUs enabled (polled from then on) */
	struct amdvi_unit u[AHV_IVRS_MAX_IVHD];
	struct ahv_pt io;
	volatile uint64_t *done; /* COMPLETION_WAIT store target */
	uint64_t seq;
} amdvi;
static struct ahv_ivrs ivrs_g;

static uint64_t rd64(const struct amdvi_unit *u, unsigned off) { return *(volatile uint64_t *)(uintptr_t)(u->base + off); }
static void wr64(const struct amdvi_unit *u, unsigned off, uint64_t v) { *(volatile uint64_t *)(uintptr_t)(u->base + off) = v; }

/* Queue one command (§2.4: the IOMMU runs the commands between head and
 * tail; the ring is full when tail + 16 would reach head). */
static int cmd_push(struct amdvi_unit *u, struct ahv_amdvi_cmd c)
{
	uint32_t next = (u->tail + 16) % AMDVI_RING_BYTES;
	for (uint32_t i = 0; (rd64(u, AMDVI_CMD_HEAD) & AMDVI_PTR_MASK) == next; i++) {
		if (i == AMDVI_SPIN)
			return -1;
		ahv_pause();
	}
	memcpy(u->cmd + u->tail, c.q, 16);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	u->tail = next;
	wr64(u, AMDVI_CMD_TAIL, u->tail);
	return 0;
}

/* COMPLETION_WAIT with a store (§2.4.1), then wait for the stored value:
 * every command queued before it has completed. */
static int cmd_sync(struct amdvi_unit *u)
{
	uint64_t want = ++amdvi.seq;
	if (cmd_push(u, ahv_amdvi_cmd_completion_wait((uint64_t)(uintptr_t)amdvi.done, want)))
		return -1;
	for (uint32_t i = 0; i < AMDVI_SPIN; i++) {
		if (*amdvi.done == want)
			return 0;
		ahv_pause();
	}
	return -1;
}

/* Drop every cached device-table entry and translation (§2.4.8, or
 * §2.4.2 for every DeviceID plus §2.4.3 for the domain without IASup). */
static int invalidate(struct amdvi_unit *u)
{
	if (u->efr & AMDVI_EFR_IASUP)
		return cmd_push(u, ahv_amdvi_cmd_inval_all()) || cmd_sync(u);
	for (uint32_t d = 0; d < 65536; d++)
		if (cmd_push(u, ahv_amdvi_cmd_inval_devtab((uint16_t)d)))
			return -1;
	return cmd_push(u, ahv_amdvi_cmd_inval_domain(AMDVI_DOMAIN)) || cmd_sync(u);
}

void ahv_amdvi_poll_unit(uint32_t idx)
{
	struct amdvi_unit *u = &amdvi.u[idx];
	uint64_t head = rd64(u, AMDVI_EVT_HEAD) & AMDVI_PTR_MASK, tail = rd64(u, AMDVI_EVT_TAIL) & AMDVI_PTR_MASK;
	/* The entries between head and tail are new (§2.5; QEMU 7.2 never
	 * writes one, docs/iommu.md). */
	for (uint32_t n = 0; head != tail && head < AMDVI_RING_BYTES && n < AMDVI_RING_BYTES / 16; n++) {
		uint64_t e[2];
		memcpy(e, u->evt + head, 16);
		struct ahv_amdvi_event ev = ahv_amdvi_event_decode(e);
		if (ev.code == AMDVI_EVT_IO_PAGE_FAULT)
			ahv_log("AHV-HV-IOMMU: DMA fault: unit %u, device %02x:%02x.%x, %s at %lx, reason %x\n", idx,
				ev.devid >> 8, (ev.devid >> 3) & 31, ev.devid & 7,
				(ev.flags & AMDVI_EVT_F_I) ? "interrupt" : (ev.flags & AMDVI_EVT_F_RW) ? "write" : "read",
				ev.addr & ~(uint64_t)0xfff, ev.flags);
		else
			ahv_log("AHV-HV-IOMMU: AMD-Vi unit %u event %x: device %02x:%02x.%x, flags %x, address %lx "
				"(entry %lx %lx)\n", idx, ev.code, ev.devid >> 8, (ev.devid >> 3) & 31, ev.devid & 7, ev.flags,
				ev.addr, e[0], e[1]);
		head = (head + 16) % AMDVI_RING_BYTES;
		wr64(u, AMDVI_EVT_HEAD, head);
	}
	/* An overflowed log stops; restarted with EventLogEn 0 -> 1 (§3.4
	 * 2020h EventOverflow, 0018h EventLogEn). */
	if (rd64(u, AMDVI_STATUS) & AMDVI_STS_EVT_OVERFLOW) {
		ahv_log("AHV-HV-IOMMU: unit %u: event log overflowed (faults lost)\n", idx);
		wr64(u, AMDVI_CONTROL, u->ctl & ~AMDVI_CTL_EVTLOG_EN);
		wr64(u, AMDVI_STATUS, AMDVI_STS_EVT_OVERFLOW);
		wr64(u, AMDVI_EVT_HEAD, 0);
		wr64(u, AMDVI_EVT_TAIL, 0);
		wr64(u, AMDVI_CONTROL, u->ctl);
	}
}

uint32_t ahv_amdvi_units(void) { return __atomic_load_n(&amdvi.n, __ATOMIC_ACQUIRE); }

/* Program one IOMMU (§3.4): tables and rings, no exclusion range, then
 * command buffer, event log and translation on; its caches dropped. */
static int enable_unit(struct amdvi_unit *u, uint64_t devtab, int coherent, char *why, size_t cap)
{
	wr64(u, AMDVI_DEVTAB_BASE, ahv_amdvi_devtab_reg(devtab, AMDVI_DEVTAB_BYTES));
	wr64(u, AMDVI_CMDBUF_BASE, ahv_amdvi_ring_reg((uint64_t)(uintptr_t)u->cmd));
	wr64(u, AMDVI_EVTLOG_BASE, ahv_amdvi_ring_reg((uint64_t)(uintptr_t)u->evt));
	wr64(u, AMDVI_CMD_HEAD, 0);
	wr64(u, AMDVI_CMD_TAIL, 0);
	wr64(u, AMDVI_EVT_HEAD, 0);
	wr64(u, AMDVI_EVT_TAIL, 0);
	wr64(u, AMDVI_EXCL_BASE, 0); /* ExEn = 0: no device bypasses the tables */
	wr64(u, AMDVI_EXCL_LIMIT, 0);
	wr64(u, AMDVI_STATUS, AMDVI_STS_EVT_OVERFLOW);
	/* Interrupts off (faults are polled); the rest as the firmware left it. */
	u->ctl = (rd64(u, AMDVI_CONTROL) & ~(AMDVI_CTL_EVTINT_EN | AMDVI_CTL_COMWAITINT_EN | AMDVI_CTL_COHERENT)) |
		 (coherent ? AMDVI_CTL_COHERENT : 0) | AMDVI_CTL_CMDBUF_EN | AMDVI_CTL_EVTLOG_EN | AMDVI_CTL_IOMMU_EN;
	u->tail = 0;
	wr64(u, AMDVI_CONTROL, u->ctl);
	if (invalidate(u)) {
		ahv_snprintf(why, cap, "AMD-Vi IOMMU at %lx does not complete its commands (status %lx)", u->base,
			     rd64(u, AMDVI_STATUS));
		return -1;
	}
	return 0;
}

/* Add the IOMMUs the IVRS names (one per register base: IVHD types 10h, 11h
 * and 40h may describe the same one, §5.2.2) to amdvi.u and their register
 * sets to the hidden ranges. */
static int find_units(struct ahv_hv *hv, char *why, size_t cap)
{
	for (uint32_t i = 0; i < ivrs_g.n_ivhd; i++) {
		const struct ahv_ivrs_ivhd *d = &ivrs_g.ivhd[i];
		uint32_t k = 0;
		while (k < amdvi.n && amdvi.u[k].base != d->base)
			k++;
		if (k < amdvi.n)
			continue;
		struct amdvi_unit *u = &amdvi.u[amdvi.n];
		u->base = d->base;
		u->efr = rd64(u, AMDVI_EFR);
		uint64_t size = (u->efr & AMDVI_EFR_PCSUP) ? AMDVI_MMIO_SIZE_PC : AMDVI_MMIO_SIZE;
		if (hv->n_hidden == AHV_MAX_HIDDEN) {
			ahv_snprintf(why, cap, "too many AMD-Vi IOMMUs (%u) to hide", ivrs_g.n_ivhd);
			return -1;
		}
		if (rd64(u, AMDVI_CONTROL) & AMDVI_CTL_IOMMU_EN) {
			ahv_snprintf(why, cap, "AMD-Vi IOMMU at %lx already enabled by the firmware (the IOMMU is in use)",
				     u->base);
			return -1;
		}
		hv->hidden[hv->n_hidden++] = (struct ahv_mem_range){u->base, u->base + size, 0, 0};
		/* Its PCI function's Command register and capability block
		 * (which holds this base, §3.2) refuse guest writes (pcicfg.c). */
		if (ahv_pcicfg_guard(d->segment, d->device_id, d->cap_offset)) {
			ahv_snprintf(why, cap, "too many AMD-Vi IOMMU functions (%u) to guard", ivrs_g.n_ivhd);
			return -1;
		}
		ahv_log("AHV-HV-IOMMU: AMD-Vi IOMMU %u at %lx (IVHD type %x, device %02x:%02x.%x, segment %u): efr %lx\n",
			amdvi.n, u->base, d->type, d->device_id >> 8, (d->device_id >> 3) & 31, d->device_id & 7,
			d->segment, u->efr);
		amdvi.n++;
	}
	return 0;
}

int ahv_amdvi_setup(struct ahv_hv *hv, uint64_t top, char *why, size_t cap)
{
	struct ahv_handoff *h = hv->handoff;
	const char *perr = NULL;
	uint8_t *t = (uint8_t *)(uintptr_t)h->acpi_ivrs;
	uint32_t len;
	memcpy(&len, t + 4, 4);
	if (len > 1u << 20 || ahv_ivrs_parse(t, len, &ivrs_g, &perr)) {
		ahv_snprintf(why, cap, "ACPI IVRS table at %lx: %s", h->acpi_ivrs, perr ? perr : "longer than 1 MiB");
		return -1;
	}
	/* An IVMD is memory a device keeps using (§5.2.3): it stays mapped (it
	 * is in the identity map), so it must not be the hypervisor's. */
	for (uint32_t i = 0; i < ivrs_g.n_ivmd; i++)
		if (ahv_hv_owns(hv, ivrs_g.ivmd[i].start, ivrs_g.ivmd[i].length)) {
			ahv_snprintf(why, cap, "ACPI IVRS: memory definition %lx+%lx overlaps hypervisor memory",
				     ivrs_g.ivmd[i].start, ivrs_g.ivmd[i].length);
			return -1;
		}
	amdvi.n = 0;
	if (find_units(hv, why, cap))
		return -1;
	/* Their PCI functions' ECAM pages (pcicfg.c), guarded from CPUs in
	 * the nested tables and from devices below. */
	if (ahv_pcicfg_ecam_setup(hv, h->acpi_mcfg, why, cap))
		return -1;
	uint32_t n = amdvi.n;
	amdvi.n = 0;
	/* 4-level tables (DTE Mode 4: 48-bit DMA addresses, which every
	 * EFR.HATS value allows, §3.4 0030h). */
	if (top > 1ull << 48) {
		ahv_snprintf(why, cap, "RAM ends at %lx, above the 48-bit DMA address space of the AMD-Vi tables", top);
		return -1;
	}
	amdvi.io = ahv_amdvi_pt_format(&hv->pool);
	uint64_t devtab = ahv_pool_pages(&hv->pool, AMDVI_DEVTAB_BYTES / AHV_PAGE_SIZE);
	uint64_t done = ahv_pool_pages(&hv->pool, 1);
	if (!devtab || !done || ahv_pt_identity(&amdvi.io, top))
		goto nomem;
	for (uint32_t i = 0; i < hv->n_hidden; i++)
		if (ahv_pt_unmap(&amdvi.io, hv->hidden[i].start, hv->hidden[i].end))
			goto nomem;
	if (ahv_pcicfg_unmap(&amdvi.io))
		goto nomem;
	/* Every DeviceID the one domain: the guest's devices see guest RAM. */
	uint64_t *dte = (uint64_t *)(uintptr_t)devtab;
	for (uint32_t d = 0; d < 65536; d++)
		ahv_amdvi_dte(dte + 4 * d, amdvi.io.root, 4, AMDVI_DOMAIN);
	amdvi.done = (volatile uint64_t *)(uintptr_t)done;
	int coherent = 1;
	for (uint32_t i = 0; i < n; i++) {
		struct amdvi_unit *u = &amdvi.u[i];
		u->cmd = ahv_pool_ptr(&hv->pool, 1);
		u->evt = ahv_pool_ptr(&hv->pool, 1);
		if (!u->cmd || !u->evt)
			goto nomem;
	}
	for (uint32_t i = 0; i < ivrs_g.n_ivhd; i++)
		if (!(ivrs_g.ivhd[i].flags & AMDVI_IVHD_F_COHERENT))
			coherent = 0;
	/* IOMMUs whose accesses do not snoop read the tables from memory:
	 * written back first (IVHD Coherent flag, §5.2.2). */
	if (!coherent)
		__asm__ volatile("wbinvd" ::: "memory");
	for (uint32_t i = 0; i < n; i++)
		if (enable_unit(&amdvi.u[i], devtab, coherent, why, cap))
			return -1;
	__atomic_store_n(&amdvi.n, n, __ATOMIC_RELEASE);
	/* Hide the table from the guest, like DMAR (vtd.c). */
	ahv_acpi_rename(t, len, "AHVI");
	ahv_log("AHV-HV-IOMMU: DMA protection on: %u AMD-Vi IOMMU(s), 4-level host I/O page table, "
		"[0, %lx) identity-mapped less %u hypervisor ranges, 1 GiB leaves, 64K-entry device table; "
		"IVRS table renamed AHVI\n",
		n, top, hv->n_hidden);
	return 1;
nomem:
	ahv_snprintf(why, cap, "hypervisor memory pool too small for the AMD-Vi tables");
	return -1;
}
