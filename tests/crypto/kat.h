/*
 * kat.h - crypto known-answer tests shared by the hosted unit test and the
 * freestanding UEFI self-test app (tests/efi/crypto_selftest.c), so both
 * worlds run exactly the same vectors.
 */
#ifndef AHV_KAT_H
#define AHV_KAT_H
#include "ahv/crypto.h"

/* Called once per check: group ("sha256", "drbg", ...), the vector name,
 * and 1 for pass / 0 for fail. */
typedef void (*ahv_kat_report_fn)(void *arg, const char *group, const char *name, int ok);

/* Each returns the number of failed checks. */
int ahv_kat_hashes(ahv_kat_report_fn report, void *arg);
int ahv_kat_drbg(ahv_kat_report_fn report, void *arg);
int ahv_kat_ecdsa_verify(ahv_kat_report_fn report, void *arg);
/* Sign/verify round trips and rejections with a live DRBG. */
int ahv_kat_ecdsa_roundtrip(ahv_drbg *rng, ahv_kat_report_fn report, void *arg);
int ahv_kat_all(ahv_drbg *rng, ahv_kat_report_fn report, void *arg);

/* Hex helper (lower/upper case); returns bytes written or -1. */
int ahv_kat_unhex(const char *hex, uint8_t *out, size_t cap);
#endif
