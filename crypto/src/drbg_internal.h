/* drbg_internal.h - the DRBG as an mbedTLS f_rng callback (crypto/ only). */
#ifndef AHV_DRBG_INTERNAL_H
#define AHV_DRBG_INTERNAL_H
#include <stddef.h>
int ahv_drbg_rng(void *arg, unsigned char *out, size_t len);
#endif
