/*
 * hypercall.c - the core's entry points: setup (ahv_core_init), the
 * hypercall dispatcher (function number -> handler, fail closed), the
 * hypervisor CPUID leaves, guest key enrollment.
 */
#include <string.h>

#include "engine.h"
#include "watch.h"


/* Services by function number (protocol.md §3.2). Anything not listed is
 * AHV_E_BAD_FUNCTION. */
static const struct {
	uint32_t fn;
	ahv_hc_handler handler;
} hypercalls[] = {
	{ AHV_HC_GET_INFO, ahv_hc_get_info },
	{ AHV_HC_ATTEST_GUEST_MEMORY, ahv_hc_attest },
};

static ahv_hc_handler lookup(uint64_t rax)
{
	if (rax >> 32) /* bits 63:32 must be zero (§3.1) */
		return NULL;
	for (size_t i = 0; i < sizeof(hypercalls) / sizeof(hypercalls[0]); i++)
		if (hypercalls[i].fn == (uint32_t)rax)
			return hypercalls[i].handler;
	return NULL;
}

/* §3.3: 64-bit mode (IA32_EFER.LMA = 1, CS.L = 1) with paging on, and CPL
 * 0 or 3 (3 only where the configuration serves user callers). */
static bool mode_ok(const struct ahv_core *core, const struct ahv_vcpu_exit *x)
{
	if (!(x->efer & EFER_LMA) || !x->cs_l || !(x->cr0 & CR0_PG) ||
	    !(x->cr4 & CR4_PAE))
		return false;
	if (x->cpl == 0)
		return true;
	return x->cpl == 3 && (core->plat->policy & AHV_POLICY_CPL3);
}

void ahv_hypercall(struct ahv_core *core, struct ahv_vcpu_exit *x)
{
	ahv_hypercall_quiesced(core, x, NULL);
}

void ahv_hypercall_quiesced(struct ahv_core *core, struct ahv_vcpu_exit *x,
			    const struct ahv_quiesce *q)
{
	struct ahv_hc_regs in = x->regs;
	struct ahv_fail f = { AHV_OK, AHV_OBJ_NONE, 0 };
	ahv_hc_handler h = lookup(in.rax);
	uint64_t rbx = 0;
	uint32_t st;

	if (!h) {
		st = ahv_fail_set(&f, AHV_E_BAD_FUNCTION, AHV_OBJ_NONE, 0);
	} else if (!mode_ok(core, x)) {
		st = ahv_fail_set(&f, AHV_E_BAD_MODE, AHV_OBJ_NONE, 0);
	} else {
		struct ahv_call c;

		ahv_call_setup(&c, core, x);
		c.quiesce = q;
		st = h(&c, &in, &f, &rbx);
	}
	x->regs.rax = st;
	x->regs.rbx = (st == AHV_OK || st == AHV_E_BUFFER_TOO_SMALL) ? rbx : 0;
	x->regs.rcx = st == AHV_OK ? 0 : f.addr;
	x->regs.rdx = st == AHV_OK ? AHV_OBJ_NONE : f.obj;
	/* RSI is preserved (§3.1): regs.rsi is left as the guest had it. */
}

bool ahv_core_cpuid(const struct ahv_core *core, uint32_t leaf, uint32_t r[4])
{
	if ((leaf & 0xffffff00u) != 0x40000000u)
		return false;
	r[0] = r[1] = r[2] = r[3] = 0;
	if (leaf == AHV_CPUID_LEAF_SIGNATURE) {
		r[0] = AHV_CPUID_MAX_LEAF;
		r[1] = AHV_CPUID_SIG_EBX;
		r[2] = AHV_CPUID_SIG_ECX;
		r[3] = AHV_CPUID_SIG_EDX;
	} else if (leaf == AHV_CPUID_LEAF_FEATURES) {
		r[0] = AHV_CPUID_WIRE_VERSION;
		r[1] = core->features;
		r[2] = core->plat->hv_version;
		r[3] = core->plat->backend;
	}
	return true;
}

int ahv_guest_key_enroll(struct ahv_guest_key *k, const ahv_ec_pub *pub)
{
	if (ahv_ec_pub_check(pub) != AHV_CRYPTO_OK)
		return -1;
	k->pub = *pub;
	return ahv_spki_key_id(pub, k->key_id) == AHV_CRYPTO_OK ? 0 : -1;
}

static bool platform_ok(const struct ahv_platform *p)
{
	const struct ahv_nested *n = &p->nested;

	if (!p->map_hpa || !p->monotonic_ns)
		return false;
	if (!ahv_ranges_valid(p->ram, p->ram_count) ||
	    !ahv_ranges_valid(p->hv_mem, p->hv_mem_count))
		return false;
	if (p->phys_addr_bits < 36 || p->phys_addr_bits > 52)
		return false;
	if ((n->format != AHV_NESTED_EPT && n->format != AHV_NESTED_NPT) ||
	    (n->levels != 4 && n->levels != 5) ||
	    (n->root & (AHV_PAGE_SIZE - 1)))
		return false;
	if (p->backend != AHV_BACKEND_VMX && p->backend != AHV_BACKEND_SVM)
		return false;
	if (p->guest_key_count && !p->guest_keys)
		return false;
	if (p->sign_key && !p->drbg)
		return false;
	return true;
}

int ahv_core_init(struct ahv_core *core, const struct ahv_platform *plat)
{
	size_t len = 0;

	memset(core, 0, sizeof(*core));
	if (!plat || !platform_ok(plat))
		return -1;
	core->plat = plat;
	core->features = AHV_FEAT_GET_INFO;
	if (plat->policy & AHV_POLICY_GPA_REGIONS)
		core->features |= AHV_FEAT_GPA_REGIONS;
	if (ahv_hash_size(AHV_HASH_SHA3_256) == 32)
		core->features |= AHV_FEAT_SHA3;
	if (plat->flags & AHV_PLAT_DEBUG)
		core->features |= AHV_FEAT_DEBUG;
	if (plat->sign_key) {
		const ahv_ec_pub *pub = &plat->sign_key->pub;

		if (ahv_spki_write_der(pub, core->hv_spki, sizeof(core->hv_spki),
				       &len) != AHV_CRYPTO_OK ||
		    ahv_spki_key_id(pub, core->hv_key_id) != AHV_CRYPTO_OK)
			return -1;
		core->spki_len = (uint16_t)len;
		core->sig_alg = (uint16_t)pub->curve;
		core->features |= AHV_FEAT_ATTEST;
		if (!(plat->flags & AHV_PLAT_DEV_KEY))
			core->features |= AHV_FEAT_SEALED_KEY;
		if (ahv_watch_init(plat))
			core->features |= AHV_FEAT_WATCH;
	}
	return 0;
}
