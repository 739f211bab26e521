/*
 * verifier_submit fuzz target: the submission parser of attest-verifierd
 * (JSON + strict base64) followed by the structural checks of the decoded
 * report and request - everything the service runs on untrusted bytes
 * before any key is involved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct v_submission sub;
	char detail[256];
	if (v_parse_submission((const char *)data, size, &sub, detail, sizeof detail) != V_OK)
		return 0;
	if (sub.has_names && sub.n_names > AHV_MAX_REGIONS)
		abort();
	enum v_err e = v_check_report(sub.report, sub.report_len, detail, sizeof detail);
	if (e == V_OK) {
		struct ahv_report_hdr h;
		ahv_wire_get_report_hdr(sub.report, &h);
		if (sub.report_len != AHV_REPORT_SIZE(h.region_count))
			abort();
	}
	e = v_check_request(sub.request, sub.request_len, detail, sizeof detail);
	if (e == V_OK) {
		struct ahv_request_hdr q;
		ahv_wire_get_request_hdr(sub.request, &q);
		if (sub.request_len != AHV_REQUEST_SIZE(q.region_count))
			abort();
	}
	(void)strlen(detail);
	return 0;
}
