/* Freestanding <stdio.h>: empty; nothing here prints through a C library. */
#ifndef AHV_FS_STDIO_H
#define AHV_FS_STDIO_H
#include <stddef.h>
#endif
