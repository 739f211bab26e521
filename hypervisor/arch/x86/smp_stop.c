/*
 * smp_stop.c - smp = on: stop the other vCPUs while the engine hashes.
 */
#include "ahv/x86/cpu.h"
#include "ahv/x86/hv.h"
#include "ahv/x86/log.h"
#include "ahv/x86/smp.h"

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
static int quiesce_stop(void *arg)
{
	struct ahv_smp_stop_ctx *s = arg;
	return stop_others(s->hv, s->self);
}

static void quiesce_resume(void *arg)
{
	(void)arg;
	stop_release();
}

const struct ahv_quiesce *ahv_smp_quiesce(struct ahv_hv *hv, struct ahv_vcpu *self, struct ahv_smp_stop_ctx *ctx,
					  struct ahv_quiesce *q)
{
	if (!(hv->handoff->policy & AHV_HO_SMP) || __atomic_load_n(&hv->n_vcpus, __ATOMIC_ACQUIRE) < 2)
		return NULL;
	*ctx = (struct ahv_smp_stop_ctx){.hv = hv, .self = self};
	*q = (struct ahv_quiesce){.stop = quiesce_stop, .resume = quiesce_resume, .arg = ctx};
	return q;
}
