/* tests/e2e/linux/ahv-vtime.c - the boot benchmark's clock (bench/boot.sh,
 * docs/benchmarks.md): prints the guest's time-stamp counter as
 *
 *   AHV-VTIME <label> tsc=<decimal> [kernel_tsc="<the kernel's last tsc: line>"]
 *
 * on stdout. Under QEMU -icount and under Bochs with `clock: sync=none` the
 * TSC advances with executed instructions (and idle time skipped to the next
 * timer) from machine reset, so its value is the virtual time since reset,
 * firmware and hypervisor included, and does not depend on the host's load.
 * The host converts it: QEMU's icount TSC counts virtual nanoseconds, Bochs's
 * counts ticks of its `ips` setting. The kernel's own TSC calibration line
 * (from the kernel log, if readable) is printed as a cross-check.
 *
 * Freestanding and static (no libc): the initramfs init runs it first thing
 * and again just before power-off. Usage: ahv-vtime LABEL
 */
typedef unsigned long u64;
typedef long s64;

static s64 sys3(s64 nr, s64 a, s64 b, s64 c)
{
	s64 ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

#define SYS_WRITE 1
#define SYS_IOCTL 16
#define TCSBRK 0x5409 /* with argument 1: tcdrain() */
#define SYS_EXIT 60
#define SYS_SYSLOG 103
#define SYSLOG_ACTION_READ_ALL 3

static char klog[1 << 18];
static char line[512];
static unsigned int pos;

static void put(const char *s)
{
	while (*s && pos < sizeof line - 2)
		line[pos++] = *s++;
}

static void put_u64(u64 v)
{
	char d[24];
	int n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && pos < sizeof line - 2)
		line[pos++] = d[--n];
}

static int starts(const char *p, const char *end, const char *w)
{
	for (; *w; p++, w++)
		if (p >= end || *p != *w)
			return 0;
	return 1;
}

void _start_c(long *sp)
{
	unsigned int lo, hi;
	const char *label = sp[0] > 1 ? (const char *)sp[2] : "now";

	/* Read the counter first: whatever follows is not part of the time. */
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	put("AHV-VTIME ");
	put(label);
	put(" tsc=");
	put_u64(((u64)hi << 32) | lo);

	/* The kernel's last "tsc: ... MHz" line, e.g. "tsc: Detected 1000.000
	 * MHz processor" or the refined calibration. */
	s64 n = sys3(SYS_SYSLOG, SYSLOG_ACTION_READ_ALL, (s64)klog, sizeof klog);
	const char *best = 0, *best_end = 0;
	for (s64 i = 0; n > 0 && i < n; i++) {
		if ((i == 0 || klog[i - 1] == '\n' || klog[i - 1] == ']' || klog[i - 1] == ' ') &&
		    starts(klog + i, klog + n, "tsc: ")) {
			s64 j = i;
			int mhz = 0;
			while (j < n && klog[j] != '\n') {
				if (starts(klog + j, klog + n, "MHz"))
					mhz = 1;
				j++;
			}
			if (mhz) {
				best = klog + i;
				best_end = klog + j;
			}
			i = j;
		}
	}
	if (best) {
		put(" kernel_tsc=\"");
		for (const char *p = best; p < best_end && pos < sizeof line - 3; p++)
			if (*p != '"')
				line[pos++] = *p;
		put("\"");
	}
	line[pos++] = '\n';
	sys3(SYS_WRITE, 1, (s64)line, pos);
	/* Wait until the console has sent the line: init powers off next. */
	sys3(SYS_IOCTL, 1, TCSBRK, 1);
	sys3(SYS_EXIT, 0, 0, 0);
	for (;;)
		;
}

/* The ELF entry point: the stack holds argc, argv[], envp[]. */
__asm__(".text\n.global _start\n_start:\n"
	"  mov %rsp, %rdi\n"
	"  and $-16, %rsp\n"
	"  call _start_c\n"
	"  hlt\n");
