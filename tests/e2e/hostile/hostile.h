/*
 * hostile.h - what the hostile payload's case files share (docs/hostile.md):
 * hostile.c (options, verdicts, hypercalls, the MSR, register, memory and
 * storm classes, main), hostile_calls.c (the hostile hypercalls) and
 * hostile_init.c (INIT from the I/O APIC and the MSI range). Include after
 * <efi.h>, <efilib.h>, "ahv/crypto.h" and "attest/wire.h".
 */
#ifndef AHV_E2E_HOSTILE_H
#define AHV_E2E_HOSTILE_H
#include <stdint.h>
#include "guest_call.h"
#include "mp_services.h"

/* The payload's state (hostile.c). */
extern int intel;                 /* GenuineIntel: VMCALL */
extern ahv_drbg rng;
extern ahv_ec_key gkey;           /* the test guest key and its id */
extern uint8_t gkey_id[32];
extern ahv_ec_pub hv_pub;         /* the hypervisor's key (GET_INFO) */
extern const uint8_t nonce[32];
extern uint8_t data_buf[4096];    /* a page of pattern, GVA = GPA */
extern uint64_t hv_page_known;    /* a hypervisor page the hvmem sweep hit, or 0 */
extern ahv_mp_services *mp;
extern UINTN n_cpus;

/* A case's detail for its verdict line. */
extern CHAR16 det[200];
#define DET(...) UnicodeSPrint(det, sizeof(det), __VA_ARGS__)

void hypercall(struct hc *h);
/* The case's verdict line; a passing case also needs GET_INFO to answer. */
void verdict(const char *name, int ok);
/* -1 (and a "skipped" line) when the case is in the skip list. */
int start(const char *name);
void not_applicable(const char *name, const char *why);
/* A zeroed page of boot-services memory, or NULL. */
uint64_t *zpage(void);
/* Run fn(arg) on every AP without waiting (MP services): the event to
 * pass to ap_end, or NULL (one CPU, or MP services refused). */
EFI_EVENT ap_start(ahv_ap_procedure fn, void *arg);
/* After fn has returned on the APs: let MP services finish, free ev. */
void ap_end(EFI_EVENT ev);

void cases_hypercalls(void); /* hostile_calls.c */
void cases_init(void);       /* hostile_init.c */
#endif
