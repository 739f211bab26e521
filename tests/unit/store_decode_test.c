/* store_decode_test.c - the xAPIC trap's store decoder
 * (hypervisor/arch/x86/store_decode.c) on the stores Linux and EDK2
 * emit, and on hostile bytes: truncated, 64-bit, register-only, unknown
 * opcodes, prefix floods, and random bytes in buffers cut to their exact
 * length (ASan catches any read past them). Label: unit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../hypervisor/arch/x86/include/ahv/x86/store_decode.h"

static int fails;
static uint64_t gpr[16];

/* The dword stores alone (what the xAPIC registers take). */
static int ahv_decode_store32(const uint8_t *b, unsigned n, int lm, const uint64_t g[16], unsigned *len,
			      uint32_t *val, int *xreg)
{
	unsigned w;
	return ahv_decode_store(b, n, lm, g, len, val, &w, xreg) || w != 4 ? -1 : 0;
}

/* Decode bytes from a heap buffer of exactly n bytes. */
static int dec(const char *hex, int lm, unsigned *len, uint32_t *val, int *xreg)
{
	unsigned n = (unsigned)strlen(hex) / 2;
	uint8_t *b = malloc(n ? n : 1);
	for (unsigned i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &b[i]);
	int rc = ahv_decode_store32(b, n, lm, gpr, len, val, xreg);
	free(b);
	return rc;
}

static void ok(const char *hex, int lm, unsigned want_len, uint32_t want_val, int want_xreg)
{
	unsigned len = 0;
	uint32_t val = 0;
	int xreg = -7;
	int rc = dec(hex, lm, &len, &val, &xreg);
	if (rc || len != want_len || val != want_val || xreg != want_xreg) {
		printf("FAIL %s: rc %d len %u val %x xreg %d (want len %u val %x xreg %d)\n", hex, rc, len, val, xreg,
		       want_len, want_val, want_xreg);
		fails++;
	}
}

static void bad(const char *hex, int lm)
{
	unsigned len;
	uint32_t val;
	int xreg;
	if (dec(hex, lm, &len, &val, &xreg) != -1) {
		printf("FAIL %s: accepted, want refused\n", hex);
		fails++;
	}
}

/* ahv_decode_store (the ECAM trap): width and value of byte/word stores. */
static void okw(const char *hex, int lm, unsigned want_len, uint32_t want_val, unsigned want_w)
{
	unsigned n = (unsigned)strlen(hex) / 2, len = 0, w = 0;
	uint8_t *b = malloc(n ? n : 1);
	for (unsigned i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &b[i]);
	uint32_t val = 0;
	int xreg = -7;
	int rc = ahv_decode_store(b, n, lm, gpr, &len, &val, &w, &xreg);
	free(b);
	if (want_w ? (rc || len != want_len || val != want_val || w != want_w || xreg != -1) : rc != -1) {
		printf("FAIL %s (any width): rc %d len %u val %x width %u xreg %d (want len %u val %x width %u)\n", hex,
		       rc, len, val, w, xreg, want_len, want_val, want_w);
		fails++;
	}
}

int main(void)
{
	for (unsigned i = 0; i < 16; i++)
		gpr[i] = 0x1111111100000000ull | (0xa0 + i);
	/* what the guests emit */
	ok("890a", 1, 2, 0xa1, -1);                   /* mov %ecx,(%rdx): Linux */
	ok("448900", 1, 3, 0xa8, -1);                 /* mov %r8d,(%rax) */
	ok("c70500100000efbeadde", 1, 10, 0xdeadbeef, -1); /* movl $imm,disp(%rip) */
	ok("879100030000", 1, 6, 0xa2, 2);            /* xchg %edx,0x300(%rcx) */
	ok("890424", 1, 3, 0xa0, -1);                 /* mov %eax,(%rsp): SIB */
	ok("89442408", 1, 4, 0xa0, -1);               /* mov %eax,8(%rsp) */
	ok("89042500030000", 1, 7, 0xa0, -1);         /* SIB, no base, disp32 */
	ok("3e890a", 1, 3, 0xa1, -1);                 /* DS prefix */
	ok("f0878a10030000", 1, 7, 0xa1, 1);          /* lock xchg */
	ok("448738", 1, 3, 0xaf, 15);                 /* xchg %r15d,(%rax): REX.R */
	ok("890a", 0, 2, 0xa1, -1);                   /* no paging / 32-bit code */
	/* hostile */
	bad("", 1);
	bad("89", 1);
	bad("48890a", 1);                             /* REX.W: 64-bit store */
	bad("89c8", 1);                               /* mod 3: register, no store */
	bad("880a", 1);                               /* 8-bit store */
	bad("66890a", 1);                             /* 16-bit store */
	bad("c7080000", 1);                           /* C7 /1 */
	bad("c7000102", 1);                           /* immediate cut off */
	bad("89820003", 1);                           /* disp32 cut off */
	bad("8904", 1);                               /* SIB missing */
	bad("448900", 0);                             /* 0x44 is not REX outside 64-bit mode */
	bad("3e3e3e3e3e3e3e3e3e3e3e3e3e3e890a", 1);    /* prefixes past 15 bytes */
	bad("0f0b", 1);                               /* ud2 */
	/* byte and word stores (ahv_decode_store only): Linux's mmio_config_write{b,w} */
	okw("8802", 1, 2, 0xa0, 1);                   /* mov %al,(%rdx) */
	gpr[0] |= 0x5500;
	okw("8822", 1, 2, 0x55, 1);                   /* mov %ah,(%rdx): AH is RAX bits 15:8 */
	gpr[0] &= ~0x5500ull;
	okw("408822", 1, 3, 0xa4, 1);                 /* mov %spl,(%rdx): with REX */
	okw("448802", 1, 3, 0xa8, 1);                 /* mov %r8b,(%rdx) */
	okw("66890a", 1, 3, 0xa1, 2);                 /* mov %cx,(%rdx) */
	okw("66c7020201", 1, 5, 0x0102, 2);           /* movw $0x102,(%rdx) */
	okw("c60278", 1, 3, 0x78, 1);                 /* movb $0x78,(%rdx) */
	okw("890a", 1, 2, 0xa1, 4);                   /* and the dword forms */
	okw("c70500100000efbeadde", 1, 10, 0xdeadbeef, 4);
	okw("66c70202", 1, 0, 0, 0);                  /* imm16 cut off */
	okw("c602", 1, 0, 0, 0);                      /* imm8 cut off */
	okw("6687890003", 1, 0, 0, 0);                /* XCHG as a word: refused */
	okw("c60a00", 1, 0, 0, 0);                    /* C6 /1 */
	okw("8680", 1, 0, 0, 0);                      /* XCHG byte */
	okw("48890a", 1, 0, 0, 0);                    /* REX.W */
	okw("88c8", 1, 0, 0, 0);                      /* register to register */
	/* random bytes: never a read past the buffer, never a length past it */
	srand(9);
	for (int it = 0; it < 200000; it++) {
		unsigned n = (unsigned)(rand() % 16);
		uint8_t *b = malloc(n ? n : 1);
		for (unsigned i = 0; i < n; i++)
			b[i] = (uint8_t)(it & 1 ? rand() : "\x89\x87\xc7\x3e\x44\x4c\x04\x05\x24\x25\x0a\x80\x40\x66\x88\xc6"[rand() % 16]);
		unsigned len = 0;
		uint32_t val;
		int xreg;
		if (ahv_decode_store32(b, n, it & 2, gpr, &len, &val, &xreg) == 0 && (len > n || len < 2 || xreg > 15)) {
			printf("FAIL random input: len %u of %u\n", len, n);
			fails++;
		}
		unsigned w = 0;
		if (ahv_decode_store(b, n, it & 2, gpr, &len, &val, &w, &xreg) == 0 &&
		    (len > n || len < 2 || xreg > 15 || (w != 1 && w != 2 && w != 4) || (w < 4 && val >> (8 * w)))) {
			printf("FAIL random input (any width): len %u of %u, width %u, val %x\n", len, n, w, val);
			fails++;
		}
		free(b);
	}
	printf("store_decode_test: %s\n", fails ? "FAIL" : "all passed");
	return fails != 0;
}
