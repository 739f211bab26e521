/* check.h - the counting CHECK of the hosted unit tests that run without
 * cmocka (acpi_iommu_test.c, amdvi_test.c): a failed check prints its line
 * and message, and main returns fails != 0. */
#ifndef AHV_TESTS_UNIT_CHECK_H
#define AHV_TESTS_UNIT_CHECK_H

#include <stdio.h>

static int fails, count;
#define CHECK(c, ...)                                                                              \
	do {                                                                                       \
		count++;                                                                           \
		if (!(c)) {                                                                        \
			fails++;                                                                   \
			printf("FAIL line %d: ", __LINE__);                                        \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

#endif
