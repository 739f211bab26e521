/* fake.h - a scripted hypercall transport for libattest-hv tests. */
#ifndef AHVL_TEST_FAKE_H
#define AHVL_TEST_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <attest-hv/attest.h>

struct fake_answer {
	uint32_t status;  /* AHV_OK writes a stub report (echo of the request) */
	uint64_t rcx, rdx;
	int64_t rbx;      /* -1: the correct byte count */
	bool corrupt_magic, corrupt_nonce;
};

struct fake {
	uint32_t leaf1_ecx;                 /* CPUID.1:ECX */
	uint32_t sig[4];                    /* 0x40000000 EAX..EDX */
	uint32_t feat[4];                   /* 0x40000001 EAX..EDX */
	int cpl;
	struct fake_answer script[8];       /* one per call; last repeats */
	int nscript;
	int calls;
	uint64_t last_rax, last_rbx, last_rcx, last_rdx, last_rsi;
	uint32_t last_backend;
	bool out_resident, regions_resident; /* checked at the last call */
};

/* A fake that looks like attest-hv 1.0 on SVM, all features, CPL3. */
void fake_init(struct fake *f);
struct ahvl_transport fake_transport(struct fake *f);

#endif
