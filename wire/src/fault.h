/* fault.h - what the checks of the wire library share; not installed. */
#ifndef AHV_WIRE_FAULT_H
#define AHV_WIRE_FAULT_H

#include <stdbool.h>
#include <stddef.h>

#include <attest/wire_parse.h>

/* Record fault and its text in err (may be NULL); returns fault. */
enum ahv_wire_fault ahv_wire_fail(struct ahv_wire_error *err, enum ahv_wire_fault fault,
				  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* No nonzero byte in p[0..n). */
bool ahv_wire_zero(const uint8_t *p, size_t n);

#endif
