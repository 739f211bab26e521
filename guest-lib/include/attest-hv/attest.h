/*
 * attest-hv/attest.h - libattest-hv, the guest side of attest-hv.
 *
 * The one public header of the library. Link with
 *     cc prog.c $(pkg-config --cflags --libs libattest-hv)
 *
 * What it does, in the order a guest program uses it:
 *
 *   1. ahvl_ctx_new()            - pick a hypercall transport (the real one
 *                                  or your own, e.g. a fake for tests);
 *   2. ahvl_detect()             - CPUID discovery (protocol.md §2): is
 *                                  attest-hv there, which wire version, which
 *                                  instruction (VMCALL or VMMCALL);
 *   3. ahvl_request_new() + ahvl_request_add_*()
 *                                - name the memory to measure: address ranges,
 *                                  a section or segment of the running program
 *                                  or of a loaded shared object, or
 *                                  guest-physical ranges (CPL0 callers only);
 *   4. ahvl_signer_*()           - the enrolled guest key: a PEM/DER file, or a
 *                                  TPM-resident key (tpm2-openssl provider);
 *   5. ahvl_attest()             - sign the request, make the named pages and
 *                                  both buffers resident (pre-fault + mlock),
 *                                  write-touch the report buffer, issue the
 *                                  hypercall, retry once on AHV_E_NOT_PRESENT,
 *                                  return the signed report;
 *   6. ahvl_verifier_*()         - optional: fetch a challenge nonce from an
 *                                  attest-verifierd, submit request + report,
 *                                  receive the token and check it against the
 *                                  verifier's JWKS (ES256).
 *
 * Offline helpers: ahvl_report_verify() checks a report against a hypervisor
 * public key; ahvl_describe() decodes a request or report (text or JSON);
 * ahvl_elf_refvals() computes reference digests for an ELF file exactly as
 * the hypervisor measures the loaded program (see docs/guest-lib.md).
 *
 * Conventions:
 *   - Every function that can fail returns an `int`: AHVL_OK (0) or one of
 *     the negative AHVL_E_* codes below. ahvl_strerror() names a code;
 *     ahvl_error_detail() gives a sentence about the last failure in the
 *     calling thread (hypervisor status with RCX/RDX, OpenSSL or HTTP error).
 *   - The library never prints, never exits and never installs signal
 *     handlers. An optional log callback (ahvl_ctx_set_log) receives
 *     diagnostic lines.
 *   - Objects are not shared between threads without external locking;
 *     different objects may be used by different threads concurrently.
 *   - Wire layouts come from <attest/wire.h> (installed with this header);
 *     this header never redefines them.
 */
#ifndef ATTEST_HV_ATTEST_H
#define ATTEST_HV_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include <attest/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AHVL_API __attribute__((visibility("default")))
#else
#define AHVL_API
#endif

/* Library version (independent of the wire version in <attest/wire.h>). */
#define AHVL_VERSION_MAJOR 1
#define AHVL_VERSION_MINOR 0
#define AHVL_VERSION_PATCH 0
/* "1.0.0" */
AHVL_API const char *ahvl_version(void);

/* ---- errors ----------------------------------------------------------------
 * Stable numbers, never reused. */
enum ahvl_error {
	AHVL_OK = 0,
	AHVL_E_INVALID = -1,        /* bad argument (NULL, out of range, ...) */
	AHVL_E_NOMEM = -2,          /* out of memory */
	AHVL_E_NO_HYPERVISOR = -3,  /* CPUID: attest-hv is not running */
	AHVL_E_UNSUPPORTED = -4,    /* wire major / back end / feature missing */
	AHVL_E_LIMIT = -5,          /* a protocol limit (regions, bytes, nonce) */
	AHVL_E_PRIVILEGE = -6,      /* guest-physical region named from CPL3 */
	AHVL_E_NOT_FOUND = -7,      /* no such object, section or segment */
	AHVL_E_IO = -8,             /* file could not be read or written */
	AHVL_E_ELF = -9,            /* malformed or unsupported ELF file */
	AHVL_E_KEY = -10,           /* key unreadable, wrong type or curve */
	AHVL_E_SIGN = -11,          /* signing failed */
	AHVL_E_TPM = -12,           /* TPM / tpm2 provider unavailable or failed */
	AHVL_E_RESIDENCY = -13,     /* mlock failed and AHVL_ATTEST_REQUIRE_LOCK */
	AHVL_E_HYPERCALL = -14,     /* the hypervisor returned a failure status:
				       see ahvl_ctx_last_call() */
	AHVL_E_BAD_RESPONSE = -15,  /* the hypervisor's output is inconsistent
				       (size, magic, echoed fields) */
	AHVL_E_FORMAT = -16,        /* malformed request or report bytes */
	AHVL_E_BAD_SIGNATURE = -17, /* a signature does not verify */
	AHVL_E_MISMATCH = -18,      /* nonce, key id, composite digest or
				       request binding differs */
	AHVL_E_NETWORK = -19,       /* could not talk to the verifier */
	AHVL_E_VERIFIER = -20,      /* the verifier answered with an error or
				       rejected the evidence (detail: its code) */
	AHVL_E_TOKEN = -21,         /* the token is malformed, expired, for
				       another nonce or not signed by the JWKS */
	AHVL_E_INTERNAL = -22,      /* a bug or an unexpected library failure */
};

/* Short English name of an error code ("hypervisor returned a failure
 * status"); never NULL. */
AHVL_API const char *ahvl_strerror(int err);
/* One-line description of the last failure in this thread (more precise
 * than ahvl_strerror); "" if none. Valid until the next library call in the
 * same thread. */
AHVL_API const char *ahvl_error_detail(void);
/* Name of a hypervisor status (protocol.md §5: "AHV_E_NOT_PRESENT"), or NULL
 * for an unknown value. */
AHVL_API const char *ahvl_status_name(uint32_t status);
/* Its one-line meaning; never NULL ("unknown status" for unknown values). */
AHVL_API const char *ahvl_status_message(uint32_t status);

/* ---- transport -----------------------------------------------------------
 * How CPUID and the hypercall reach the hypervisor. The native transport
 * executes CPUID and VMCALL/VMMCALL (inline asm). Tests and other
 * environments (a kernel module, an emulator) supply their own. */
struct ahvl_regs {
	uint64_t rax, rbx, rcx, rdx, rsi; /* in: function, args; out: status... */
};

struct ahvl_transport {
	/* CPUID leaf (subleaf 0): out[0..3] = EAX, EBX, ECX, EDX. */
	void (*cpuid)(void *user, uint32_t leaf, uint32_t out[4]);
	/* Execute the hypercall: VMCALL when backend == AHV_BACKEND_VMX,
	 * VMMCALL when AHV_BACKEND_SVM (the library never passes anything else).
	 * In: rax..rsi per protocol.md §3.1; out: rax (status), rbx, rcx, rdx. */
	void (*hypercall)(void *user, uint32_t backend, struct ahvl_regs *regs);
	/* Privilege level the calls are made at (0 or 3). NULL: 3. */
	int (*cpl)(void *user);
	void *user;
};

/* The real thing (x86-64 only): CPUID, VMCALL/VMMCALL, CPL from CS. */
AHVL_API const struct ahvl_transport *ahvl_transport_native(void);

/* ---- context -------------------------------------------------------------- */
typedef struct ahvl_ctx ahvl_ctx;

/* transport NULL: ahvl_transport_native(). The transport struct is copied. */
AHVL_API int ahvl_ctx_new(ahvl_ctx **out, const struct ahvl_transport *t);
AHVL_API void ahvl_ctx_free(ahvl_ctx *ctx);

/* Diagnostics: the library calls fn with one line (no newline) at the
 * moments worth knowing about (mlock fallback, retry, ...). Default: none. */
typedef void (*ahvl_log_fn)(void *user, const char *line);
AHVL_API void ahvl_ctx_set_log(ahvl_ctx *ctx, ahvl_log_fn fn, void *user);

/* What CPUID says (protocol.md §2). */
struct ahvl_hv_identity {
	uint32_t max_leaf;      /* CPUID 0x40000000 EAX */
	uint16_t wire_major;    /* CPUID 0x40000001 EAX 31:16 */
	uint16_t wire_minor;    /* 15:0 */
	uint32_t features;      /* AHV_FEAT_* (EBX) */
	uint32_t hv_version;    /* AHV_HV_VERSION() (ECX) */
	uint32_t backend;       /* AHV_BACKEND_VMX or AHV_BACKEND_SVM (EDX) */
};

/* Discovery. AHVL_OK: attest-hv runs with a wire major this library speaks
 * and a known back end; id (may be NULL) filled. AHVL_E_NO_HYPERVISOR: no
 * hypervisor bit, wrong signature, or max leaf too small.
 * AHVL_E_UNSUPPORTED: attest-hv with another wire major or unknown back end.
 * Other calls detect implicitly when needed. */
AHVL_API int ahvl_detect(ahvl_ctx *ctx, struct ahvl_hv_identity *id);

/* AHV_HC_GET_INFO (protocol.md §6.3), sanity-checked. */
AHVL_API int ahvl_get_info(ahvl_ctx *ctx, struct ahv_hv_info *info);

/* The registers of the last hypercall's answer (after a retry: the last
 * one). Any pointer may be NULL. Returns the number of hypercalls made by
 * the last ahvl_attest()/ahvl_get_info() (0 if none). */
AHVL_API int ahvl_ctx_last_call(const ahvl_ctx *ctx, uint32_t *status,
				uint64_t *rbx, uint64_t *rcx, uint64_t *rdx);

/* ---- requests --------------------------------------------------------------- */
typedef struct ahvl_request ahvl_request;

/* hash_alg: AHV_WIRE_HASH_*. The nonce is set separately. */
AHVL_API int ahvl_request_new(ahvl_request **out, uint32_t hash_alg);
AHVL_API void ahvl_request_free(ahvl_request *req);
/* 8..64 bytes (AHV_NONCE_MIN..AHV_NONCE_MAX). */
AHVL_API int ahvl_request_set_nonce(ahvl_request *req, const uint8_t *nonce,
				    size_t len);
/* A random nonce of len bytes (for offline use; a verifier's challenge is
 * what proves freshness). */
AHVL_API int ahvl_request_random_nonce(ahvl_request *req, size_t len);

/* A range [address, address + size). space: AHV_SPACE_GVA (in this
 * process) or AHV_SPACE_GPA (accepted by ahvl_attest only when the
 * transport's CPL is 0). claimed: NULL or the expected digest
 * (ahv_wire_hash_size(hash_alg) bytes). name: NULL or a label (<= 64 bytes)
 * submitted to the verifier as the region's policy name. Returns the region
 * index (>= 0) or an error. */
AHVL_API int ahvl_request_add_range(ahvl_request *req, uint64_t address,
				    uint64_t size, uint32_t space,
				    const uint8_t *claimed, const char *name);

/* A section of a loaded ELF object of this process: object NULL or "" is
 * the main program, otherwise a path or the base name of a loaded shared
 * object ("libc.so.6"). section: ".text", ".rodata", ... (SHF_ALLOC, not
 * SHT_NOBITS). The region is [load base + sh_addr, + sh_size), the section
 * headers being read from the object's file (/proc/self/exe for the main
 * program). Region name: the section name unless `name` is given. */
AHVL_API int ahvl_request_add_section(ahvl_request *req, const char *object,
				      const char *section, const char *name);

/* A PT_LOAD segment of a loaded ELF object: load_index counts PT_LOAD
 * program headers from 0. The region is [load base + p_vaddr,
 * + p_filesz): the file-backed bytes only; the zero-filled tail (.bss) is
 * not measured. Region name: "LOAD<i>" unless `name` is given. */
AHVL_API int ahvl_request_add_segment(ahvl_request *req, const char *object,
				      unsigned load_index, const char *name);

/* Watched regions (wire minor 1, protocol.md §6.4, docs/watch.md). flags:
 * 0 (a plain request), AHV_REQ_F_WATCH_START (arg: lifetime in seconds, 0
 * for the hypervisor's maximum), AHV_REQ_F_WATCH_CHECK (arg: the watch id
 * of the START report), optionally | AHV_REQ_F_WATCH_END. A CHECK names the
 * watch's regions in the same order: keep the START request and set its
 * watch again. The hash must be 32 bytes (sha256, sha3-256). */
AHVL_API int ahvl_request_set_watch(ahvl_request *req, uint32_t flags,
				    uint64_t arg);

AHVL_API unsigned ahvl_request_region_count(const ahvl_request *req);
/* The name of region i (never NULL; "" if unnamed). */
AHVL_API const char *ahvl_request_region_name(const ahvl_request *req,
					      unsigned i);

/* ---- signers (the enrolled guest key) ----------------------------------- */
typedef struct ahvl_signer ahvl_signer;

/* A private key file: PEM ("EC PRIVATE KEY", "PRIVATE KEY", encrypted
 * "ENCRYPTED PRIVATE KEY" with passphrase) or DER (PKCS#8 or SEC1). Must be
 * ECDSA P-256 or P-384. passphrase may be NULL. */
AHVL_API int ahvl_signer_from_file(ahvl_signer **out, const char *path,
				   const char *passphrase);

/* A TPM-resident key through the tpm2-openssl provider. key: a path to a
 * "TSS2 PRIVATE KEY" PEM (ahvl_keygen_tpm or `openssl genpkey -provider
 * tpm2`) or a provider URI such as "handle:0x81000001". tcti: the TCTI
 * string ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"); NULL
 * leaves the provider's default (TPM2OPENSSL_TCTI, else tpm2-abrmd/device).
 * The provider is loaded into a private OpenSSL library context: the
 * process-wide default context is not touched. tpm2-openssl 1.1 reads its
 * TCTI only from the environment, so a non-NULL tcti is placed in
 * TPM2OPENSSL_TCTI while the provider starts and the old value restored:
 * do not call this concurrently with other threads' setenv/getenv. The TSS
 * libraries' own stderr logging is silenced (TSS2_LOG=all+NONE) unless the
 * caller set TSS2_LOG. */
AHVL_API int ahvl_signer_from_tpm(ahvl_signer **out, const char *key,
				  const char *tcti);

AHVL_API void ahvl_signer_free(ahvl_signer *s);
/* AHV_SIG_ECDSA_P256_SHA256 or AHV_SIG_ECDSA_P384_SHA384. */
AHVL_API uint32_t ahvl_signer_sig_alg(const ahvl_signer *s);
/* Key id (protocol.md §8.2): SHA-256 of the SPKI DER. */
AHVL_API int ahvl_signer_key_id(const ahvl_signer *s,
				uint8_t id[AHV_KEY_ID_SIZE]);
/* Public key as a PEM SubjectPublicKeyInfo (malloc'd; free()), the form the
 * hypervisor's configuration enrolls. */
AHVL_API int ahvl_signer_public_pem(const ahvl_signer *s, char **pem);

/* Key generation. curve_sig_alg: AHV_SIG_ECDSA_P256_SHA256 or
 * AHV_SIG_ECDSA_P384_SHA384. Files are created with mode 0600 and never
 * overwritten (AHVL_E_IO if the file exists). */
AHVL_API int ahvl_keygen_file(const char *priv_path, uint32_t curve_sig_alg);
/* The key is generated inside the TPM; priv_path receives the TSS2 PRIVATE
 * KEY PEM (a TPM-wrapped blob, useless without that TPM). */
AHVL_API int ahvl_keygen_tpm(const char *priv_path, uint32_t curve_sig_alg,
			     const char *tcti);

/* ---- building and signing without the hypervisor ------------------------ */
/* The request bytes as they would be sent (signed with s; s NULL: the
 * signature and key id are left zero). *out is malloc'd; free(). */
AHVL_API int ahvl_request_encode(const ahvl_request *req,
				 const ahvl_signer *s, uint8_t **out,
				 size_t *len);

/* ---- attestation ----------------------------------------------------------- */
#define AHVL_ATTEST_REQUIRE_LOCK (1u << 0) /* mlock failure is an error */
#define AHVL_ATTEST_NO_RETRY (1u << 1)     /* no retry on NOT_PRESENT/BUSY */
#define AHVL_ATTEST_KEEP_LOCKED (1u << 2)  /* leave the regions mlock()ed
					      (default: munlock after the
					      call, which also undoes an
					      earlier mlock of the same pages
					      by the caller) */

struct ahvl_evidence {
	uint8_t *request;       /* the exact signed request bytes sent */
	size_t request_len;
	uint8_t *report;        /* the report the hypervisor wrote */
	size_t report_len;
};
AHVL_API void ahvl_evidence_clear(struct ahvl_evidence *ev);

/* Sign req with s, make it resident and call AHV_HC_ATTEST_GUEST_MEMORY.
 * Residency: every page of every GVA region, of the request buffer and of
 * the report buffer is touched (GVA regions are read through
 * process_vm_readv, so an unmapped or PROT_NONE address yields the
 * hypervisor's status rather than a crash; the report buffer is zeroed,
 * which writes every page as protocol.md §4.4 requires) and mlock()ed for
 * the duration of the call; mlock failure (e.g. RLIMIT_MEMLOCK) is logged and
 * ignored unless AHVL_ATTEST_REQUIRE_LOCK. Retries: once on
 * AHV_E_NOT_PRESENT (after touching the failing page again), and up to 3
 * times on AHV_E_BUSY, unless AHVL_ATTEST_NO_RETRY. On success ev holds
 * both byte strings (release with ahvl_evidence_clear). On
 * AHVL_E_HYPERCALL the status is in ahvl_ctx_last_call(). */
AHVL_API int ahvl_attest(ahvl_ctx *ctx, const ahvl_request *req,
			 const ahvl_signer *s, unsigned flags,
			 struct ahvl_evidence *ev);

/* ---- offline report checks ------------------------------------------------ */
struct ahvl_report_expect {
	const uint8_t *nonce;   /* NULL: not checked */
	size_t nonce_len;
	const uint8_t *request; /* NULL: not checked; else request_digest and
				   the echoed fields must match these bytes */
	size_t request_len;
	unsigned allow_flags;   /* AHV_REPORT_F_* tolerated; others (DEV_KEY,
				   DEBUG, CLAIM_MISMATCH) fail with
				   AHVL_E_MISMATCH. TIME_INVALID is always
				   tolerated. */
};

/* Check a report (protocol.md §11 steps 1-4, 7, 9): structure, sizes,
 * reserved fields, the hypervisor's signature with the public key in
 * hv_pub (PEM or DER SubjectPublicKeyInfo; its key id must equal
 * hv_key_id), the composite digest, and what `expect` asks (may be NULL:
 * only the flags DEV_KEY/DEBUG/CLAIM_MISMATCH are then tolerated).
 * AHVL_E_FORMAT / _BAD_SIGNATURE / _MISMATCH with a detail saying which. */
AHVL_API int ahvl_report_verify(const uint8_t *report, size_t len,
				const uint8_t *hv_pub, size_t hv_pub_len,
				const struct ahvl_report_expect *expect);

/* Structural check of a request (layout, limits, reserved zero) and, when
 * guest_pub is given (PEM/DER SPKI), its signature and key id. */
AHVL_API int ahvl_request_verify(const uint8_t *request, size_t len,
				 const uint8_t *guest_pub, size_t guest_pub_len);

/* Decode a request, report or info block (recognised by magic) into text
 * (json = 0) or a JSON object (json = 1). *out is malloc'd; free(). Works
 * on malformed input as far as the bytes go (AHVL_E_FORMAT if the magic is
 * unknown or the buffer is shorter than its header). */
AHVL_API int ahvl_describe(const uint8_t *buf, size_t len, int json,
			   char **out);

/* ---- reference values ---------------------------------------------------- */
#define AHVL_REFVALS_SEGMENTS 0u /* every PT_LOAD segment's file bytes */
#define AHVL_REFVALS_SECTIONS 1u /* every SHF_ALLOC section */

/* Reference digests of an ELF file as the hypervisor measures its loaded
 * image when the guest names the same regions through
 * ahvl_request_add_segment()/ahvl_request_add_section(). Output: a JSON
 * object {"regions": [...]} in the verifier's policy format (one entry per
 * segment or section; only those named in `only` if it is a NULL-terminated
 * list of names), plus per-entry notes on what is not predictable
 * (relocation targets, writable data, .bss). hash_algs: NULL-terminated list
 * of AHV_WIRE_HASH_* (NULL: SHA-256 only). name_prefix may be NULL. */
AHVL_API int ahvl_elf_refvals(const char *path, unsigned what,
			      const char *const *only,
			      const uint32_t *hash_algs,
			      const char *name_prefix, char **json_out);

/* ---- verifier client (attest-verifierd, docs/verifier.md) -------------- */
typedef struct ahvl_verifier ahvl_verifier;

/* base_url: "https://host:port" (no trailing path); http:// is refused. */
AHVL_API int ahvl_verifier_new(ahvl_verifier **out, const char *base_url);
/* The explicit opt-out for local tests: http:// (no transport security) is
 * allowed for the verifier and the JWKS URL. Never in production. */
AHVL_API int ahvl_verifier_new_insecure_http(ahvl_verifier **out,
					     const char *base_url);
AHVL_API void ahvl_verifier_free(ahvl_verifier *v);
/* Required before ahvl_token_verify: the token's "iss" must equal it. */
AHVL_API int ahvl_verifier_set_issuer(ahvl_verifier *v, const char *issuer);
/* The token key, one of these two (ahvl_token_verify fails without):
 * pin the JWKS document obtained out of band, or name its trusted source,
 * an https:// URL fetched once (not the verifier's origin by default). */
AHVL_API int ahvl_verifier_pin_jwks(ahvl_verifier *v, const char *jwks_json);
AHVL_API int ahvl_verifier_set_jwks_url(ahvl_verifier *v, const char *url);
/* TLS: a CA bundle file for the verifier's certificate (NULL: system). */
AHVL_API int ahvl_verifier_set_ca(ahvl_verifier *v, const char *ca_file);
/* Whole-request timeout in milliseconds (default 10000). */
AHVL_API int ahvl_verifier_set_timeout(ahvl_verifier *v, long ms);

/* POST /v1/challenge: a fresh nonce (binary), *len bytes written. */
AHVL_API int ahvl_verifier_challenge(ahvl_verifier *v, uint8_t *nonce,
				     size_t cap, size_t *len);

/* POST /v1/attest with the evidence and the region names of req (may be
 * NULL). On acceptance: AHVL_OK and *token (malloc'd compact JWS). On
 * rejection: AHVL_E_VERIFIER; ahvl_verifier_error_code() gives the
 * verifier's error code ("bad_signature", ...) and ahvl_error_detail() its
 * message. */
AHVL_API int ahvl_verifier_submit(ahvl_verifier *v,
				  const struct ahvl_evidence *ev,
				  const ahvl_request *req, char **token);
AHVL_API const char *ahvl_verifier_error_code(const ahvl_verifier *v);

/* Check a token: strict base64url, ES256 signature with a key of the
 * trusted JWKS (pinned, or fetched once from the configured JWKS URL;
 * jwks_json non-NULL uses that document for this call), "exp" not passed,
 * and always "iss" equal to the configured issuer, "verdict" "affirming"
 * and "eat_nonce" equal to nonce (hex; nonce is required). *claims (may be
 * NULL) receives the JSON claims text (malloc'd). v is required. */
AHVL_API int ahvl_token_verify(ahvl_verifier *v, const char *token,
			       const char *jwks_json, const uint8_t *nonce,
			       size_t nonce_len, char **claims);

#ifdef __cplusplus
}
#endif
#endif /* ATTEST_HV_ATTEST_H */
