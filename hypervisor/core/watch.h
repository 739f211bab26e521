/*
 * watch.h - watched regions (docs/watch.md), the engine's side: the steps
 * of an ATTEST call that carries AHV_REQ_F_WATCH_* (protocol.md §6.4).
 * The fault side (ahv_watch_write_fault) is in ahv/platform.h.
 */
#ifndef AHV_CORE_WATCH_H
#define AHV_CORE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ahv/platform.h"

struct ahv_call;
struct ahv_fail;

/* ahv_call.watch_op */
enum ahv_watch_op { AHV_WOP_NONE = 0, AHV_WOP_START, AHV_WOP_CHECK };

/* ahv_core_init: set up the table in the platform's pool share; true if
 * watches are available (AHV_FEAT_WATCH). */
bool ahv_watch_init(const struct ahv_platform *p);
/* Step 6: are these header flags a valid combination for this core? */
bool ahv_watch_flags_ok(const struct ahv_core *core, uint32_t flags);
/* Step 9a (before anything is stopped): START: the lifetime; CHECK: the
 * watch exists for the request's guest key and the request names its
 * regions, in order, with its hash. Sets c->watch_op and c->watch. */
uint32_t ahv_watch_prepare(struct ahv_call *c, const uint8_t *req,
			   struct ahv_fail *f);
/* Step 11, CHECK: measure in the address space of the START caller
 * (start_caller true: its CR3, paging mode and CPL; false: back to this
 * caller's), so that `attest-hv watch status` from another process checks
 * and re-measures the watched mapping. */
void ahv_watch_tables(struct ahv_call *c, bool start_caller);
/* Step 11, CHECK, with the START caller's tables: the watch's word on region i: res->flags, the record in
 * the digest tail and, for an unmodified region, the digest watched since
 * START. *measure: the digest must be measured now (region written). */
void ahv_watch_result(struct ahv_call *c, uint32_t i,
		      struct ahv_region_result *res, bool *measure);
/* Step 11, START: after the regions were measured into `report`: take a
 * slot, translate every page of every region, protect their frames. A
 * frame that `ob` (the report's own write) lands in is modified at once. */
struct ahv_out_buf;
uint32_t ahv_watch_start(struct ahv_call *c, const uint8_t *req,
			 const uint8_t *report, const struct ahv_out_buf *ob,
			 struct ahv_fail *f);
/* Step 12, after the counter and timestamp: the header's watch fields. */
void ahv_watch_header(struct ahv_call *c, struct ahv_report_hdr *h);
/* After step 12: ok: END and EXPIRED free the slot; not ok: a START is
 * undone (frames given back, slot freed). */
void ahv_watch_finish(struct ahv_call *c, bool ok);

#endif
