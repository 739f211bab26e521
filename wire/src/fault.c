/* fault.c - recording why a check failed. */
#include <stdarg.h>
#include <stdio.h>

#include "fault.h"

enum ahv_wire_fault ahv_wire_fail(struct ahv_wire_error *err, enum ahv_wire_fault fault,
				  const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof err->text, fmt, ap);
		va_end(ap);
		err->fault = fault;
	}
	return fault;
}

bool ahv_wire_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}
