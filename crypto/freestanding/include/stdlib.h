/* Freestanding <stdlib.h>: types only. mbedTLS allocates through its
 * platform layer (MBEDTLS_PLATFORM_MEMORY + memory_buffer_alloc). */
#ifndef AHV_FS_STDLIB_H
#define AHV_FS_STDLIB_H
#include <stddef.h>
#endif
