/*
 * guest_call.h - what the UEFI test payloads (payload.c, ../tpm/tpm_payload.c)
 * share: the hypercall register block, the call with the vendor's instruction
 * (VMCALL on Intel, SDM Vol. 2B; VMMCALL on AMD, APM Vol. 3), and hex dumps
 * of binary blobs on the console for the host to decode. Include after
 * <efilib.h>.
 */
#ifndef AHV_E2E_GUEST_CALL_H
#define AHV_E2E_GUEST_CALL_H
#include <stddef.h>
#include <stdint.h>
#include "ahv/hex.h"

/* docs/protocol.md: RAX function/status, RBX..RSI arguments and results. */
struct hc {
	uint64_t rax, rbx, rcx, rdx, rsi;
};

static inline void guest_hypercall(struct hc *h, int intel)
{
	if (intel)
		__asm__ volatile("vmcall"
				 : "+a"(h->rax), "+b"(h->rbx), "+c"(h->rcx), "+d"(h->rdx), "+S"(h->rsi)
				 :
				 : "memory");
	else
		__asm__ volatile("vmmcall"
				 : "+a"(h->rax), "+b"(h->rbx), "+c"(h->rcx), "+d"(h->rdx), "+S"(h->rsi)
				 :
				 : "memory");
}

/* "TAG <hex>" lines of 64 bytes each. */
static inline void print_hex(const char *tag, const uint8_t *b, size_t n)
{
	char line[129];

	for (size_t off = 0; off < n; off += 64) {
		ahv_hex_encode(line, b + off, n - off < 64 ? n - off : 64);
		Print(L"%a %a\r\n", tag, line);
	}
}
#endif
