/*
 * guest_req.h - what the UEFI payloads that attest (payload.c,
 * ../hostile/hostile.c) share to build and sign a request (docs/protocol.md
 * §6): a well-formed header for n zero-size GVA regions, and the guest
 * signature over the signed part. Include after <efilib.h>, "ahv/crypto.h"
 * and "attest/wire.h".
 */
#ifndef AHV_E2E_GUEST_REQ_H
#define AHV_E2E_GUEST_REQ_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline struct ahv_region *guest_req_region(uint8_t *r, unsigned i)
{
	return (struct ahv_region *)(r + AHV_REQUEST_REGION_OFFSET(i));
}

/* A well-formed request of n regions (all zero-size GVA regions) with a
 * 32-byte nonce, signed by key_id; returns its size. */
static inline size_t guest_req_init(uint8_t *r, unsigned n, const uint8_t nonce[32], const uint8_t key_id[32])
{
	size_t len = AHV_REQUEST_SIZE(n);
	memset(r, 0, len);
	struct ahv_request_hdr *h = (void *)r;
	h->magic = AHV_REQUEST_MAGIC;
	h->version_major = AHV_WIRE_VERSION_MAJOR;
	h->version_minor = AHV_WIRE_VERSION_MINOR;
	h->total_size = (uint32_t)len;
	h->hash_alg = AHV_WIRE_HASH_SHA256;
	h->sig_alg = AHV_SIG_ECDSA_P256_SHA256;
	h->region_count = (uint16_t)n;
	h->nonce_len = 32;
	memcpy(h->nonce, nonce, 32);
	for (unsigned i = 0; i < n; i++)
		guest_req_region(r, i)->space = AHV_SPACE_GVA;
	memcpy(r + AHV_REQUEST_TAIL_OFFSET(n), key_id, 32);
	return len;
}

/* The guest's ECDSA P-256 signature over the signed part. */
static inline void guest_req_sign(uint8_t *r, unsigned n, const ahv_ec_key *key, ahv_drbg *rng)
{
	uint8_t dg[32];
	size_t sl;
	ahv_hash(AHV_HASH_SHA256, r, AHV_REQUEST_SIGNED_SIZE(n), dg);
	memset(r + AHV_REQUEST_SIG_OFFSET(n), 0, AHV_SIG_FIELD_SIZE);
	ahv_ecdsa_sign_raw(key, rng, dg, 32, r + AHV_REQUEST_SIG_OFFSET(n), AHV_SIG_FIELD_SIZE, &sl);
}
/* A CPU without RDSEED/RDRAND (Bochs corei7_sandy_bridge_2600k): TSC
 * readings hashed; test keys and nonces only. */
static inline int guest_tsc_entropy(void *arg, uint8_t *out, size_t len)
{
	(void)arg;
	for (size_t off = 0; off < len; off += 32) {
		uint64_t t[64];
		uint8_t d[32];
		for (unsigned i = 0; i < 64; i++) {
			uint32_t lo, hi;
			__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
			t[i] = (uint64_t)hi << 32 | lo;
		}
		ahv_hash(AHV_HASH_SHA256, t, sizeof(t), d);
		memcpy(out + off, d, len - off < 32 ? len - off : 32);
	}
	return 0;
}

/* The body of a payload's ahv_crypto_fatal (mbedTLS's exit): say so on
 * the console with the payload's marker and power off. */
static inline void guest_crypto_fatal(const char *tag, int status)
{
	Print(L"%a: FAIL crypto heap corruption (%d)\r\n", tag, status);
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_ABORTED, 0, NULL);
	for (;;)
		__asm__ volatile("hlt");
}

/* A file on the ESP the payload was started from, open for reading, or NULL. */
static inline EFI_FILE_HANDLE guest_open_on_esp(EFI_HANDLE image, CHAR16 *path)
{
	EFI_LOADED_IMAGE *li;
	EFI_FILE_HANDLE root, fh;
	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)))
		return NULL;
	root = LibOpenRoot(li->DeviceHandle);
	if (!root || EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &fh, path, EFI_FILE_MODE_READ, 0)))
		return NULL;
	return fh;
}

/* The guest private key from \\attest-hv\\test\\guest.hex on the ESP (the
 * test script's throwaway key) and its key id. */
static inline int guest_key_load(EFI_HANDLE image, ahv_drbg *rng, ahv_ec_key *gkey, uint8_t gkey_id[32])
{
	EFI_FILE_HANDLE fh = guest_open_on_esp(image, L"\\attest-hv\\test\\guest.hex");
	char hex[200] = {0};
	uint8_t d[32];
	UINTN n = sizeof(hex) - 1;
	if (!fh)
		return -1;
	uefi_call_wrapper(fh->Read, 3, fh, &n, hex);
	uefi_call_wrapper(fh->Close, 1, fh);
	if (ahv_hex_decode(hex, 64, d, 32) != 32)
		return -1;
	if (ahv_ec_key_from_private(AHV_CURVE_P256, d, 32, rng, gkey))
		return -1;
	return ahv_spki_key_id(&gkey->pub, gkey_id);
}

#endif
