/* Freestanding <time.h>: types only (MBEDTLS_HAVE_TIME is off). */
#ifndef AHV_FS_TIME_H
#define AHV_FS_TIME_H
typedef long long time_t;
#endif
