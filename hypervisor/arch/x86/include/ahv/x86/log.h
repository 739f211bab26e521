/*
 * ahv/x86/log.h - the hypervisor's own log: a polled 16550 UART on a port the
 * guest does not use by default (COM2, 0x2F8; the guest's console is COM1).
 * Safe at VM-exit time: no firmware calls, no vector registers, no locks
 * beyond a spin flag (the boot CPU is the only one in version 1).
 */
#ifndef AHV_X86_LOG_H
#define AHV_X86_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define AHV_LOG_PORT_COM1 0x3F8u
#define AHV_LOG_PORT_COM2 0x2F8u

/* Program the UART (115200 8N1, FIFO on). port 0 disables the log. */
void ahv_log_init(uint16_t port);
uint16_t ahv_log_port(void);

/* printf subset: %s %c %d %i %u %x %X %p %%, flags '0' '-', width, and
 * the length modifiers l, ll, z. */
void ahv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ahv_vlog(const char *fmt, va_list ap);
int ahv_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int ahv_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Hex dump on one line per 32 bytes, each prefixed with `tag`. */
void ahv_log_hex(const char *tag, const void *buf, size_t len);

/* Panic: print the message, let the back end print guest and host state,
 * halt this CPU. Never returns. */
void ahv_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Hook called by ahv_panic to dump state (set by the back end). */
extern void (*ahv_panic_hook)(void);

#endif
