/*
 * info.c - AHV_HC_GET_INFO (protocol.md §3.2, §6.3) and the time a report
 * carries (§9.1).
 */
#include <string.h>

#include "engine.h"

uint64_t ahv_timestamp_ns(const struct ahv_platform *p, uint32_t *flags)
{
	if (p->flags & AHV_PLAT_DEV_KEY)
		*flags |= AHV_REPORT_F_DEV_KEY;
	if (p->flags & AHV_PLAT_DEBUG)
		*flags |= AHV_REPORT_F_DEBUG;
	if (p->flags & AHV_PLAT_DMA_UNPROTECTED)
		*flags |= AHV_REPORT_F_DMA_UNPROTECTED;
	if (!(p->flags & AHV_PLAT_TIME_VALID)) {
		*flags |= AHV_REPORT_F_TIME_INVALID;
		return 0;
	}
	return p->rtc_boot_ns + p->monotonic_ns(p->ctx);
}

void ahv_info_build(const struct ahv_core *core, struct ahv_hv_info *info)
{
	const struct ahv_platform *p = core->plat;
	uint32_t flags = 0;

	memset(info, 0, sizeof(*info));
	info->magic = AHV_INFO_MAGIC;
	info->version_major = AHV_WIRE_VERSION_MAJOR;
	info->version_minor = AHV_WIRE_VERSION_MINOR;
	info->size = AHV_HV_INFO_SIZE;
	info->timestamp_ns = ahv_timestamp_ns(p, &flags);
	info->flags = flags;
	info->hv_version = p->hv_version;
	info->features = core->features;
	info->sig_alg = core->sig_alg;
	info->spki_len = core->spki_len;
	/* bit i <=> hash id i: 1..3 always, 4..6 with SHA-3 */
	info->hash_alg_mask = (core->features & AHV_FEAT_SHA3) ? 0x7eu : 0x0eu;
	info->max_regions = AHV_MAX_REGIONS;
	info->max_request_size = AHV_REQUEST_MAX_SIZE;
	info->max_total_bytes = AHV_MAX_TOTAL_BYTES;
	info->max_report_size = AHV_REPORT_MAX_SIZE;
	info->max_time_ms = AHV_MAX_REQUEST_TIME_MS;
	memcpy(info->boot_id, p->boot_id, sizeof(info->boot_id));
	memcpy(info->hv_key_id, core->hv_key_id, sizeof(info->hv_key_id));
	memcpy(info->build_id, p->build_id, sizeof(info->build_id));
	memcpy(info->hv_image_digest, p->hv_image_digest,
	       sizeof(info->hv_image_digest));
	memcpy(info->hv_config_digest, p->hv_config_digest,
	       sizeof(info->hv_config_digest));
	memcpy(info->hv_spki, core->hv_spki, sizeof(info->hv_spki));
	info->guest_key_count = p->guest_key_count;
	info->backend = p->backend;
	info->vcpu_count = p->vcpu_count ? __atomic_load_n(p->vcpu_count, __ATOMIC_ACQUIRE) : 1;
	info->report_counter = __atomic_load_n(&core->counter, __ATOMIC_SEQ_CST);
}

uint32_t ahv_hc_get_info(struct ahv_call *c, const struct ahv_hc_regs *in,
			 struct ahv_fail *f, uint64_t *rbx)
{
	struct ahv_hv_info info;
	struct ahv_out_buf ob;
	uint32_t st;

	if (in->rcx < AHV_HV_INFO_SIZE) {
		*rbx = AHV_HV_INFO_SIZE;
		return ahv_fail_set(f, AHV_E_BUFFER_TOO_SMALL,
				    AHV_OBJ_OUTPUT_BUFFER, 0);
	}
	st = ahv_buf_resolve_out(c, in->rbx, AHV_HV_INFO_SIZE, &ob, f);
	if (st != AHV_OK)
		return st;
	ahv_info_build(c->core, &info);
	if (!ahv_buf_write_out(c, &ob, (const uint8_t *)&info))
		return ahv_fail_set(f, AHV_E_INTERNAL, AHV_OBJ_NONE, 0);
	*rbx = AHV_HV_INFO_SIZE;
	return AHV_OK;
}
