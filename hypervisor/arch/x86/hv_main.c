/*
 * hv_main.c - the hypervisor's start on the boot CPU, running in the resident
 * copy of the image (runtime-services memory, docs/pitfalls.md 6), called once
 * by the loader while boot services are still up.
 */
#include <string.h>
#include "attest/wire.h"
#include "ahv/crypto.h"
#include "ahv/hex.h"
#include "ahv/x86/cpu.h"
#include "ahv/x86/exits.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/smp.h"
#include "ahv/x86/iommu.h"
#include "ahv/x86/log.h"

struct ahv_hv ahv_hv_g;
static struct ahv_core core_g; /* engine state + scratch, in hypervisor memory */

#define HOST_STACK_PAGES 16 /* 64 KiB */
#define IST_STACK_PAGES 4
#define CRYPTO_POOL_PAGES 64 /* 256 KiB for mbedTLS */

/* mbedTLS's exit hook in the freestanding build. */
void ahv_crypto_fatal(int status)
{
	ahv_panic("crypto heap corruption (%d)", status);
}

int ahv_hv_owns(const struct ahv_hv *hv, uint64_t pa, uint64_t len)
{
	for (uint32_t i = 0; i < hv->n_hidden; i++)
		if (pa < hv->hidden[i].end && pa + len > hv->hidden[i].start)
			return 1;
	return 0;
}

int ahv_hv_mem_type(const struct ahv_hv *hv, uint64_t pa)
{
	const struct ahv_handoff *h = hv->handoff;
	for (uint32_t i = 0; i < h->n_memmap; i++)
		if (pa >= h->memmap[i].start && pa < h->memmap[i].end)
			return (int)h->memmap[i].type;
	return -1;
}

static int fail(struct ahv_handoff *h, const char *msg)
{
	ahv_snprintf(h->error, sizeof(h->error), "%s", msg);
	ahv_log("ahv: start failed: %s\n", msg);
	return -1;
}

/* Last-resort entropy for a CPU without RDSEED/RDRAND (Sandy Bridge; Bochs
 * corei7_sandy_bridge_2600k): SHA-256 over TSC readings taken around port
 * reads. Weak: used only for the development key, which reports flag
 * (DEV_KEY) and the verifier rejects by default. */
static int tsc_entropy(void *arg, uint8_t *out, size_t len)
{
	(void)arg;
	for (size_t off = 0; off < len; off += 32) {
		uint64_t t[256];
		uint8_t d[32];
		for (unsigned i = 0; i < 256; i++) {
			(void)ahv_inb(0x61); /* port B: an I/O round trip of varying cost */
			t[i] = ahv_rdtsc();
		}
		ahv_hash(AHV_HASH_SHA256, t, sizeof(t), d);
		memcpy(out + off, d, len - off < 32 ? len - off : 32);
	}
	return 0;
}

/* Development signing key: fresh every boot from the DRBG (RDSEED/RDRAND),
 * flagged AHV_REPORT_F_DEV_KEY in reports (protocol.md §8.3). */
static int make_dev_key(struct ahv_hv *hv)
{
	struct ahv_handoff *h = hv->handoff;
	int rc = ahv_drbg_init(&hv->drbg, AHV_DRBG_HW, NULL, NULL, "attest-hv dev key", 17);
	if (rc && h->key_mode == AHV_HO_KEY_DEV) {
		ahv_log("AHV-HV: WARNING: no RDSEED/RDRAND: the development key is seeded from TSC jitter (weak, tests only)\n");
		rc = ahv_drbg_init(&hv->drbg, 0, tsc_entropy, NULL, "attest-hv dev key", 17);
	}
	if (rc || h->key_mode == AHV_HO_KEY_NONE)
		return rc;
	if (h->key_mode == AHV_HO_KEY_SEALED) /* unsealed by the loader (docs/tpm.md) */
		rc = ahv_ec_key_from_private(AHV_CURVE_P256, h->key_d, 32, &hv->drbg, &hv->hv_key);
	else
		rc = ahv_ec_keygen(AHV_CURVE_P256, &hv->drbg, &hv->hv_key);
	ahv_wipe(h->key_d, sizeof(h->key_d));
	if (rc)
		return rc;
	rc = ahv_spki_write_der(&hv->hv_key.pub, hv->hv_spki, sizeof(hv->hv_spki), &hv->hv_spki_len);
	if (rc)
		return rc;
	return ahv_spki_key_id(&hv->hv_key.pub, hv->hv_key_id);
}

static void *map_hpa(void *ctx, uint64_t hpa, uint64_t len)
{
	(void)ctx;
	(void)len;
	return (void *)(uintptr_t)hpa; /* host virtual == host physical */
}

static uint64_t monotonic_ns(void *ctx)
{
	const struct ahv_handoff *h = ctx;
	uint64_t d = ahv_rdtsc() - h->tsc_at_rtc, hz = h->tsc_hz ? h->tsc_hz : 1000000000ull;
	return d / hz * 1000000000ull + d % hz * 1000000000ull / hz;
}

/* Watched regions (docs/watch.md): the pool share the core keeps its watch
 * table and page entries in (512 KiB: ~60000 pages, 230 MiB watched), and
 * the back end's nested-table hook, then the VT-d tables'. */
#define WATCH_POOL_PAGES 128
static struct ahv_hv *watch_hv;

static int watch_protect(void *ctx, uint64_t gpa, bool protect)
{
	(void)ctx;
	if (watch_hv->ops->nested_protect(watch_hv, gpa, protect))
		return -1;
	/* DMA too (vtd.c); a failed protect changes nothing in either. */
	if (ahv_iommu_protect(gpa, protect) && protect) {
		watch_hv->ops->nested_protect(watch_hv, gpa, 0);
		return -1;
	}
	return 0;
}

/* UEFI types that are RAM for protocol.md §4.3 rule 6 (UEFI 2.10 §7.2). */
static int is_ram_type(uint32_t t)
{
	return (t >= 1 && t <= 7) || t == 9 || t == 10;
}

static void sort_ranges(struct ahv_phys_range *r, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && r[j - 1].base > r[j].base; j--) {
			struct ahv_phys_range t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
}

static int setup_core(struct ahv_hv *hv)
{
	struct ahv_handoff *h = hv->handoff;
	struct ahv_platform *p = &hv->plat;
	uint32_t n = 0;
	for (uint32_t i = 0; i < h->n_memmap; i++) {
		if (!is_ram_type(h->memmap[i].type))
			continue;
		if (n && hv->ram[n - 1].base + hv->ram[n - 1].size == h->memmap[i].start)
			hv->ram[n - 1].size += h->memmap[i].end - h->memmap[i].start;
		else
			hv->ram[n++] = (struct ahv_phys_range){h->memmap[i].start, h->memmap[i].end - h->memmap[i].start};
	}
	sort_ranges(hv->ram, n);
	p->ram = hv->ram;
	p->ram_count = n;
	for (uint32_t i = 0; i < hv->n_hidden; i++)
		hv->hv_mem[i] = (struct ahv_phys_range){hv->hidden[i].start, hv->hidden[i].end - hv->hidden[i].start};
	sort_ranges(hv->hv_mem, hv->n_hidden);
	p->hv_mem = hv->hv_mem;
	p->hv_mem_count = hv->n_hidden;
	p->ctx = h;
	p->map_hpa = map_hpa;
	p->monotonic_ns = monotonic_ns;
	p->phys_addr_bits = (uint8_t)ahv_maxphyaddr();
	p->guest_page_1g = ahv_has_1g_pages();
	hv->ops->nested_info(hv->vcpu, &p->nested);
	if (h->rtc_unix_ns) {
		p->rtc_boot_ns = h->rtc_unix_ns;
		p->flags |= AHV_PLAT_TIME_VALID;
	}
	if (h->key_mode != AHV_HO_KEY_NONE)
		p->sign_key = &hv->hv_key;
	if (h->key_mode == AHV_HO_KEY_DEV)
		p->flags |= AHV_PLAT_DEV_KEY;
	p->drbg = &hv->drbg;
	for (uint32_t i = 0; i < h->n_guest_keys && i < AHV_MAX_GUEST_KEYS; i++)
		if (ahv_guest_key_enroll(&hv->guest_keys[i], &h->guest_keys[i]))
			return -1;
	p->guest_keys = hv->guest_keys;
	p->guest_key_count = h->n_guest_keys;
	p->backend = hv->ops->backend;
	p->vcpu_count = &hv->n_vcpus;
	p->hv_version = AHV_HV_VERSION(0, 1, 0);
	p->policy = ((h->policy & AHV_HO_ALLOW_CPL3) ? AHV_POLICY_CPL3 : 0) |
		    ((h->policy & AHV_HO_ALLOW_GPA) ? AHV_POLICY_GPA_REGIONS : 0);
	if (ahv_drbg_generate(&hv->drbg, p->boot_id, sizeof(p->boot_id)))
		return -1;
#ifdef AHV_BUILD_ID_HEX
	/* the source commit, zero padded (protocol.md §9.4) */
	(void)ahv_hex_decode(AHV_BUILD_ID_HEX, sizeof(AHV_BUILD_ID_HEX) - 1, p->build_id, sizeof(p->build_id));
#endif
	memcpy(p->hv_image_digest, h->image_digest, 32);
	memcpy(p->hv_config_digest, h->config_digest, 32);
	if (hv->ops->nested_protect && (p->watch_mem = ahv_pool_ptr(&hv->pool, WATCH_POOL_PAGES))) {
		watch_hv = hv;
		p->watch_mem_size = WATCH_POOL_PAGES * 4096;
		p->watch_protect = watch_protect;
	}
	hv->core = &core_g;
	return ahv_core_init(&core_g, p);
}

/* The back end for this CPU: VT-x on Intel, SVM on AMD (and Hygon), by the
 * CPUID vendor string (leaf 0, EBX-EDX-ECX) and then the back end's own
 * feature probe; an unknown vendor gets whichever probe succeeds. */
static const struct ahv_vmm_ops *pick_backend(char *why, size_t cap)
{
	static const struct ahv_vmm_ops *const all[] = {&ahv_vmx_ops, &ahv_svm_ops};
	uint32_t r[4];
	char vendor[13];
	ahv_cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	const struct ahv_vmm_ops *ops = NULL;
	if (!strcmp(vendor, "GenuineIntel"))
		ops = &ahv_vmx_ops;
	else if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine"))
		ops = &ahv_svm_ops;
	if (ops)
		return ops->probe(why, cap) ? NULL : ops;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!all[i]->probe(why, cap))
			return all[i];
	ahv_snprintf(why, cap, "CPU vendor \"%s\" offers neither Intel VT-x nor AMD SVM", vendor);
	return NULL;
}

int ahv_hv_prepare(struct ahv_handoff *h, struct ahv_launch *out)
{
	struct ahv_hv *hv = &ahv_hv_g;
	char why[160];

	if (h->magic != AHV_HANDOFF_MAGIC)
		return -1;
	memset(hv, 0, sizeof(*hv));
	hv->handoff = h;
	hv->pool.base = h->pool_base;
	hv->pool.size = h->pool_size;
	hv->pool.used = h->pool_used;
	ahv_log_init(h->log_port);
	ahv_log("\nAHV-HV: attest-hv %u.%u.%u starting (wire %u.%u), image %lx+%lx, pool %lx+%lx\n",
		0, 1, 0, AHV_WIRE_VERSION_MAJOR, AHV_WIRE_VERSION_MINOR, h->image_base,
		h->image_size, h->pool_base, h->pool_size);

	if (!(hv->ops = pick_backend(why, sizeof(why))))
		return fail(h, why);
	ahv_log("AHV-HV: back end: %s\n", hv->ops->name);

	/* Hypervisor memory, never mapped in the guest's nested tables. */
	hv->hidden[hv->n_hidden++] = (struct ahv_mem_range){h->pool_base, h->pool_base + h->pool_size, 0, 0};
	hv->hidden[hv->n_hidden++] = (struct ahv_mem_range){h->image_base, h->image_base + h->image_size, 0, 0};

	void *cpool = ahv_pool_ptr(&hv->pool, CRYPTO_POOL_PAGES);
	if (!cpool || ahv_crypto_init(cpool, CRYPTO_POOL_PAGES * 4096))
		return fail(h, "hypervisor memory pool too small for the crypto heap");
	/* Host code runs with the guest's vector registers live: keep SHA-256
	 * on general registers except inside the hypercall (which saves them). */
	int rc = make_dev_key(hv);
	if (rc) {
		ahv_snprintf(why, sizeof(why), "cannot create the signing key: %s", ahv_crypto_strerror(rc));
		return fail(h, why);
	}
	ahv_log("AHV-HV: signing key: %s\n", h->key_mode == AHV_HO_KEY_SEALED ? "TPM-sealed key, P-256" :
		h->key_mode == AHV_HO_KEY_NONE ? "none (attestation answers NO_KEY)" : "development key (no TPM), P-256");
	if (h->key_mode != AHV_HO_KEY_NONE) {
		ahv_log_hex("AHV-HV-KEY-SPKI", hv->hv_spki, hv->hv_spki_len);
		ahv_log_hex("AHV-HV-KEY-ID", hv->hv_key_id, 32);
	}

	/* Host page tables: all RAM one to one (the engine reads guest frames
	 * through them), with the page sizes the CPU advertises (docs/pitfalls.md 12). */
	uint64_t top = 4 * AHV_1G;
	for (uint32_t i = 0; i < h->n_memmap; i++)
		if (h->memmap[i].end > top)
			top = h->memmap[i].end;
	top = (top + AHV_1G - 1) & ~(AHV_1G - 1);
	hv->host_pt.pool = &hv->pool;
	hv->host_pt.table_bits = PTE_P | PTE_RW;
	hv->host_pt.leaf_bits = PTE_P | PTE_RW;
	hv->host_pt.max_leaf_level = ahv_has_1g_pages() ? 3 : 2;
	if (ahv_pt_identity(&hv->host_pt, top))
		return fail(h, "hypervisor memory pool too small for the host page tables");

	uint64_t stack = ahv_pool_pages(&hv->pool, HOST_STACK_PAGES);
	uint64_t ist = ahv_pool_pages(&hv->pool, IST_STACK_PAGES);
	hv->desc = ahv_pool_ptr(&hv->pool, (sizeof(struct ahv_host_desc) + 4095) / 4096);
	if (!stack || !ist || !hv->desc)
		return fail(h, "hypervisor memory pool too small for the host stacks");
	hv->host_stack_top = stack + HOST_STACK_PAGES * 4096 - 16;
	ahv_desc_build(hv->desc, ist + IST_STACK_PAGES * 4096 - 16);

	/* DMA protection (docs/iommu.md) before the nested tables: the IOMMU
	 * register pages join the hidden ranges. */
	rc = ahv_iommu_setup(hv, why, sizeof(why));
	if (rc < 0)
		return fail(h, why);
	if (rc == 0 && (h->policy & AHV_HO_DMA_REQUIRED))
		return fail(h, "no IOMMU this hypervisor can take (no DMAR/IVRS table, or protection compiled out): "
			       "devices could read and write hypervisor memory; set dma_protection = off to start "
			       "without DMA protection (docs/iommu.md)");
	if (rc == 0) /* every report says so (protocol.md §9, DMA_UNPROTECTED) */
		hv->plat.flags |= AHV_PLAT_DMA_UNPROTECTED;

	if ((h->policy & AHV_HO_SMP) && !hv->ops->prepare_ap)
		return fail(h, "smp = on, but this back end cannot start the other CPUs yet (docs/smp.md)");
	if (hv->ops->prepare(hv))
		return fail(h, h->error[0] ? h->error : "the back end could not start");
	hv->vcpu->desc = hv->desc;
	hv->vcpu->host_stack_top = hv->host_stack_top;
	hv->vcpu->ist_top = ist + IST_STACK_PAGES * 4096 - 16;
	hv->vcpus[0] = hv->vcpu;
	hv->n_vcpus = 1;
	if (setup_core(hv))
		return fail(h, "the attestation engine refused the platform description");
	ahv_log("AHV-HV: engine ready: %u RAM ranges, %u guest keys, policy%s%s, features %x\n",
		hv->plat.ram_count, hv->plat.guest_key_count,
		(hv->plat.policy & AHV_POLICY_CPL3) ? " cpl3" : "",
		(hv->plat.policy & AHV_POLICY_GPA_REGIONS) ? " gpa" : "", hv->core->features);
	out->arg = hv->vcpu;
	out->entry = hv->ops->host_entry;
	out->host_rsp = hv->host_stack_top;
	return 0;
}

struct ahv_vcpu *ahv_vcpu_by_apic_id(struct ahv_hv *hv, uint32_t apic_id)
{
	uint32_t n = __atomic_load_n(&hv->n_vcpus, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n && i < AHV_MAX_CPUS; i++)
		if (hv->vcpus[i] && hv->vcpus[i]->apic_id == apic_id)
			return hv->vcpus[i];
	return NULL;
}

/* smp = on: one application processor, called by the loader's MP-services
 * procedure on that AP (no UEFI calls here: MP services forbid them on APs). */
int ahv_hv_prepare_ap(struct ahv_launch *out)
{
	struct ahv_hv *hv = &ahv_hv_g;
	if (!hv->ops || !hv->ops->prepare_ap || !(hv->handoff->policy & AHV_HO_SMP))
		return -1;
	struct ahv_vcpu *v = ahv_pool_ptr(&hv->pool, (sizeof(*v) + 4095) / 4096);
	uint64_t stack = ahv_pool_pages(&hv->pool, HOST_STACK_PAGES);
	uint64_t ist = ahv_pool_pages(&hv->pool, IST_STACK_PAGES);
	struct ahv_host_desc *desc = ahv_pool_ptr(&hv->pool, (sizeof(struct ahv_host_desc) + 4095) / 4096);
	if (!v || !stack || !ist || !desc) {
		ahv_log("AHV-HV: ERROR: pool too small for an application processor\n");
		return -1;
	}
	v->desc = desc;
	v->host_stack_top = stack + HOST_STACK_PAGES * 4096 - 16;
	v->ist_top = ist + IST_STACK_PAGES * 4096 - 16;
	ahv_desc_build(desc, v->ist_top);
	/* This CPU must offer what the boot CPU offered (each has its own
	 * feature-control and VM_CR MSRs). */
	char why[160];
	if (hv->ops->probe(why, sizeof(why))) {
		ahv_log("AHV-HV: ERROR: application processor: %s\n", why);
		return -1;
	}
	uint32_t r[4];
	ahv_cpuid(1, 0, r);
	v->apic_id = r[1] >> 24; /* initial APIC id, CPUID.1:EBX[31:24] */
	if (hv->ops->prepare_ap(hv, v))
		return -1;
	uint32_t i;
	/* Claim a slot: n_vcpus only grows after the slot is written. */
	static uint32_t slot_lock;
	while (__atomic_exchange_n(&slot_lock, 1, __ATOMIC_ACQUIRE))
		ahv_pause();
	i = hv->n_vcpus;
	if (i >= AHV_MAX_CPUS) {
		__atomic_store_n(&slot_lock, 0, __ATOMIC_RELEASE);
		ahv_log("AHV-HV: ERROR: more than %u CPUs\n", AHV_MAX_CPUS);
		return -1;
	}
	v->index = i;
	hv->vcpus[i] = v;
	__atomic_store_n(&hv->n_vcpus, i + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&slot_lock, 0, __ATOMIC_RELEASE);
	ahv_log("AHV-HV-CPU %u: APIC id %u prepared\n", i, v->apic_id);
	out->arg = v;
	out->entry = hv->ops->host_entry;
	out->host_rsp = v->host_stack_top;
	return 0;
}
