/*
 * log.c - polled 16550 UART log and a small printf for host code.
 * UART registers: PC16550D datasheet (THR/RBR +0, IER +1, FCR +2, LCR +3,
 * MCR +4, LSR +5; DLAB=LCR[7] maps the divisor latch at +0/+1).
 */
#include "ahv/x86/log.h"
#include "ahv/x86/cpu.h"

static uint16_t log_port;
void (*ahv_panic_hook)(void);

void ahv_log_init(uint16_t port)
{
	log_port = port;
	if (!port)
		return;
	ahv_outb(port + 1, 0x00); /* IER: no interrupts */
	ahv_outb(port + 3, 0x80); /* LCR: DLAB */
	ahv_outb(port + 0, 0x01); /* divisor 1: 115200 baud */
	ahv_outb(port + 1, 0x00);
	ahv_outb(port + 3, 0x03); /* 8N1 */
	ahv_outb(port + 2, 0xC7); /* FIFO on, cleared, 14-byte threshold */
	ahv_outb(port + 4, 0x03); /* DTR, RTS */
}

uint16_t ahv_log_port(void) { return log_port; }

static void uart_putc(char c)
{
	/* LSR bit 5: THR empty. Bounded wait: a missing UART must not hang us. */
	for (unsigned i = 0; i < 100000; i++) {
		if (ahv_inb(log_port + 5) & 0x20)
			break;
		ahv_pause();
	}
	ahv_outb(log_port, (uint8_t)c);
}

static void uart_puts(const char *s, size_t n)
{
	if (!log_port)
		return;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int upper, int neg,
		    int width, int zero, int left)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + neg;
	if (!left && !zero)
		for (; width > len; width--)
			put(o, ' ');
	if (neg)
		put(o, '-');
	if (!left && zero)
		for (; width > len; width--)
			put(o, '0');
	while (n)
		put(o, tmp[--n]);
	if (left)
		for (; width > len; width--)
			put(o, ' ');
}

int ahv_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = {buf, cap, 0};
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		int zero = 0, left = 0, width = 0, lng = 0;
		for (;; p++) {
			if (*p == '0')
				zero = 1;
			else if (*p == '-')
				left = 1;
			else
				break;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l' || *p == 'z') {
			lng++;
			p++;
		}
		switch (*p) {
		case 'd': case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&o, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 10, 0, v < 0, width, zero, left);
			break;
		}
		case 'u': case 'x': case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(&o, v, *p == 'u' ? 10 : 16, *p == 'X', 0, width, zero, left);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, 0, width, zero, left);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = 0;
			while (s[n])
				n++;
			if (!left)
				for (; width > n; width--)
					put(&o, ' ');
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			if (left)
				for (; width > n; width--)
					put(&o, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case 0:
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = 0;
	return (int)o.len;
}

int ahv_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = ahv_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void ahv_vlog(const char *fmt, va_list ap)
{
	char buf[256];
	int n = ahv_vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One line at a time when several CPUs log (smp = on, docs/smp.md).
	 * Bounded: a CPU that died holding it (panic) cannot silence the rest. */
	static uint32_t lock;
	unsigned spins = 0;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE) && ++spins < 10000000u)
		__asm__ volatile("pause" ::: "memory");
	uart_puts(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

void ahv_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ahv_vlog(fmt, ap);
	va_end(ap);
}

void ahv_log_hex(const char *tag, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	static const char hx[] = "0123456789abcdef";
	for (size_t off = 0; off < len; off += 32) {
		char line[80];
		size_t n = 0;
		for (size_t i = off; i < len && i < off + 32; i++) {
			line[n++] = hx[b[i] >> 4];
			line[n++] = hx[b[i] & 15];
		}
		line[n] = 0;
		ahv_log("%s %s\n", tag, line);
	}
}

void ahv_panic(const char *fmt, ...)
{
	static int in_panic;
	va_list ap;
	ahv_log("\nAHV-PANIC: ");
	va_start(ap, fmt);
	ahv_vlog(fmt, ap);
	va_end(ap);
	ahv_log("\n");
	if (!in_panic++ && ahv_panic_hook)
		ahv_panic_hook();
	ahv_log("AHV-PANIC: CPU halted\n");
	ahv_halt_forever();
}
