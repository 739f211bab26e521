/*
 * attest/wire.h - the attest-hv wire format: hypercall ABI, request, report,
 * hypervisor info. docs/protocol.md is the normative text; this header is its
 * machine-checked transcription. The hypervisor (freestanding), libattest-hv
 * and the verifier all compile against it.
 *
 * Rules this header keeps:
 *   - only <stdint.h>, <stddef.h>, <stdbool.h>;
 *   - every structure is naturally aligned with fixed-size fields and no
 *     compiler padding (no packed attribute needed); every size and every
 *     field offset is pinned by a _Static_assert below;
 *   - all multi-byte integers on the wire are LITTLE-ENDIAN. On x86 the
 *     structures can be overlaid on the bytes directly; a verifier on a
 *     big-endian host must use ahv_le{16,32,64}_{get,put}() instead;
 *   - reserved fields, reserved flag bits and unused tails of fixed-size byte
 *     arrays (nonce, digests, signatures, SPKI) MUST be zero.
 *
 * Request layout (AHV_REQUEST_SIZE(n) bytes, n = region_count):
 *     struct ahv_request_hdr        (96, includes the 64-byte nonce area)
 *     struct ahv_region[n]          (96 each)
 *     struct ahv_request_tail       (128: guest key id, then signature)
 *   The guest signature covers bytes [0, AHV_REQUEST_SIGNED_SIZE(n)).
 *
 * Report layout (AHV_REPORT_SIZE(n) bytes):
 *     struct ahv_report_hdr         (448)
 *     struct ahv_region_result[n]   (88 each)
 *     struct ahv_report_tail        (96: hypervisor signature)
 *   The hypervisor signature covers bytes [0, AHV_REPORT_SIGNED_SIZE(n)).
 */
#ifndef ATTEST_WIRE_H
#define ATTEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__cplusplus) && !defined(_Static_assert)
#define _Static_assert static_assert /* C++11 spelling */
#endif

/* Tiny helpers are static inline; "unused" keeps clang quiet when the header
 * is compiled on its own. */
#if defined(__GNUC__) || defined(__clang__)
#define AHV_WIRE_INLINE static inline __attribute__((unused))
#else
#define AHV_WIRE_INLINE static inline
#endif

/* ---- versions --------------------------------------------------------------
 * Wire/ABI version (protocol.md "Versioning"). The same pair is reported in
 * CPUID 0x40000001 EAX and in every request/report/info header. */
#define AHV_WIRE_VERSION_MAJOR 1u
#define AHV_WIRE_VERSION_MINOR 1u /* 1: watched regions (docs/watch.md) */

/* Hypervisor (implementation) version, packed: major 31:24, minor 23:16,
 * patch 15:0. Independent of the wire version. */
#define AHV_HV_VERSION(major, minor, patch)                                    \
	((uint32_t)(((uint32_t)(major) & 0xffu) << 24 |                        \
		    ((uint32_t)(minor) & 0xffu) << 16 |                        \
		    ((uint32_t)(patch) & 0xffffu)))
#define AHV_HV_VERSION_MAJOR(v) (((uint32_t)(v) >> 24) & 0xffu)
#define AHV_HV_VERSION_MINOR(v) (((uint32_t)(v) >> 16) & 0xffu)
#define AHV_HV_VERSION_PATCH(v) ((uint32_t)(v) & 0xffffu)

/* ---- discovery: CPUID hypervisor leaves ------------------------------------
 * 0x40000000: EAX = max hypervisor leaf, EBX:ECX:EDX = "AttestHVisor".
 * 0x40000001: EAX = wire version (major 31:16, minor 15:0), EBX = feature
 *             bits, ECX = hypervisor version (AHV_HV_VERSION), EDX = back end
 *             (which instruction to use). */
#define AHV_CPUID_LEAF_SIGNATURE 0x40000000u
#define AHV_CPUID_LEAF_FEATURES 0x40000001u
#define AHV_CPUID_MAX_LEAF 0x40000001u
#define AHV_CPUID_SIGNATURE "AttestHVisor" /* 12 bytes, no NUL on the wire */
#define AHV_CPUID_SIG_EBX 0x65747441u      /* "Atte" */
#define AHV_CPUID_SIG_ECX 0x56487473u      /* "stHV" */
#define AHV_CPUID_SIG_EDX 0x726f7369u      /* "isor" */
#define AHV_CPUID_WIRE_VERSION                                                 \
	((uint32_t)(AHV_WIRE_VERSION_MAJOR << 16 | AHV_WIRE_VERSION_MINOR))

/* 0x40000001 EBX feature bits (also ahv_hv_info.features). */
#define AHV_FEAT_ATTEST (1u << 0)      /* AHV_HC_ATTEST_GUEST_MEMORY works */
#define AHV_FEAT_GET_INFO (1u << 1)    /* AHV_HC_GET_INFO works */
#define AHV_FEAT_GPA_REGIONS (1u << 2) /* AHV_SPACE_GPA accepted (CPL0) */
#define AHV_FEAT_SHA3 (1u << 3)        /* SHA3-256/384/512 available */
#define AHV_FEAT_SEALED_KEY (1u << 4)  /* signing key unsealed by a TPM */
#define AHV_FEAT_DEBUG (1u << 5)       /* debug build/options (see flags) */
#define AHV_FEAT_WATCH (1u << 6)       /* minor 1: watched regions work */
#define AHV_FEAT_RESERVED_MASK (~(uint32_t)0x7fu)

/* 0x40000001 EDX / report backend / info backend. */
#define AHV_BACKEND_VMX 1u /* Intel VT-x: use VMCALL  (0F 01 C1) */
#define AHV_BACKEND_SVM 2u /* AMD SVM:    use VMMCALL (0F 01 D9) */

/* ---- hypercall register ABI --------------------------------------------
 * In:  RAX = function (bits 63:32 must be zero)
 *      RBX = arg0, RCX = arg1, RDX = arg2, RSI = arg3 (per function)
 * Out: RAX = status (AHV_OK or AHV_E_*)
 *      RBX = bytes written (AHV_OK) or bytes required (AHV_E_BUFFER_TOO_SMALL),
 *            else 0
 *      RCX = failing address (see the status), else 0
 *      RDX = failing object (region index or AHV_OBJ_*), AHV_OBJ_NONE if none
 * Every other register, RFLAGS included, is preserved; RIP advances past the
 * instruction. */
#define AHV_HC_BASE 0x41480000u           /* "AH" in bits 31:16 */
#define AHV_HC_GET_INFO 0x41480001u       /* RBX=out GVA, RCX=capacity */
#define AHV_HC_ATTEST_GUEST_MEMORY 0x41480002u
/* ATTEST: RBX = request GVA, RCX = request length,
 *         RDX = report GVA,  RSI = report capacity. */

/* RDX values on failure. 0 .. AHV_MAX_REGIONS-1: region index (RCX = failing
 * address in that region's address space). */
#define AHV_OBJ_REQUEST_BUFFER 0x1000u /* RCX = failing GVA in request buf */
#define AHV_OBJ_REQUEST_FIELD 0x1001u  /* RCX = byte offset in the request */
#define AHV_OBJ_OUTPUT_BUFFER 0x1002u  /* RCX = failing GVA in report/info */
#define AHV_OBJ_NONE 0xffffu

/* ---- status codes (RAX) -------------------------------------------------
 * Numbers are never reused or renumbered; callers treat any unknown nonzero
 * value as failure. "addr" = RCX carries the failing address. */
enum ahv_status {
	AHV_OK = 0x00,
	/* call level */
	AHV_E_BAD_FUNCTION = 0x01,  /* unknown function / RAX 63:32 nonzero */
	AHV_E_BAD_MODE = 0x02,      /* not 64-bit mode, CPL 1/2, or paging
				       not 4/5-level */
	AHV_E_NO_KEY = 0x03,        /* hypervisor has no signing key */
	AHV_E_BUSY = 0x04,          /* engine in use on another CPU: retry */
	AHV_E_INTERNAL = 0x05,      /* internal failure (crypto, ...) */
	/* buffers */
	AHV_E_REQUEST_SIZE = 0x10,  /* length out of range / != total_size /
				       != AHV_REQUEST_SIZE(region_count) */
	AHV_E_BUFFER_TOO_SMALL = 0x11, /* RBX = bytes required */
	/* request parsing (RDX = AHV_OBJ_REQUEST_FIELD, RCX = field offset) */
	AHV_E_BAD_MAGIC = 0x20,
	AHV_E_BAD_VERSION = 0x21,
	AHV_E_RESERVED = 0x22,      /* reserved field/bit/pad byte nonzero */
	AHV_E_BAD_HASH_ALG = 0x23,
	AHV_E_BAD_SIG_ALG = 0x24,
	AHV_E_BAD_NONCE_LEN = 0x25,
	AHV_E_BAD_REGION_COUNT = 0x26,
	AHV_E_BAD_SPACE = 0x27,
	/* region ranges (RDX = region index, RCX = region address) */
	AHV_E_RANGE_WRAP = 0x28,    /* address + size > 2^64 */
	AHV_E_NONCANONICAL = 0x29,  /* GVA range leaves canonical space; addr */
	AHV_E_TOO_MANY_BYTES = 0x2a, /* running sum of sizes > limit */
	/* authentication */
	AHV_E_UNKNOWN_KEY = 0x30,   /* guest key id not enrolled */
	AHV_E_KEY_MISMATCH = 0x31,  /* sig_alg does not fit the key's curve */
	AHV_E_BAD_SIGNATURE = 0x32,
	/* access (RDX = region index or AHV_OBJ_*_BUFFER, RCX = address) */
	AHV_E_PRIVILEGE = 0x40,     /* GPA region named from CPL3; addr */
	AHV_E_NOT_PRESENT = 0x41,   /* guest paging entry P=0; addr */
	AHV_E_NOT_USER = 0x42,      /* CPL3 and U/S=0 at some level; addr */
	AHV_E_NOT_WRITABLE = 0x43,  /* output buffer R/W=0 at some level; addr */
	AHV_E_GUEST_RSVD = 0x44,    /* reserved bit set in guest paging; addr */
	AHV_E_NESTED_FAULT = 0x45,  /* GPA not mapped/readable(/writable) in
				       EPT/NPT; addr */
	AHV_E_NOT_RAM = 0x46,       /* MMIO / non-RAM frame; addr */
	AHV_E_HV_MEMORY = 0x47,     /* frame owned by the hypervisor; addr */
	/* resources */
	AHV_E_TIME_LIMIT = 0x50,    /* per-request time budget spent; addr */
	/* watched regions (minor 1, docs/watch.md) */
	AHV_E_WATCH_UNKNOWN = 0x60, /* no watch with this id for this guest
				       key; RCX = offset of watch_arg */
	AHV_E_WATCH_MISMATCH = 0x61, /* request differs from the watch: RDX =
					region index (or REQUEST_FIELD) */
	AHV_E_WATCH_LIMIT = 0x62,   /* no watch slot, page entry or nested
				       table page left: nothing watched */
};

/* ---- limits ---------------------------------------------------------------- */
#define AHV_MAX_REGIONS 64u
#define AHV_MAX_TOTAL_BYTES (UINT64_C(1) << 30) /* 1 GiB, sum of sizes */
#define AHV_NONCE_MIN 8u
#define AHV_NONCE_MAX 64u
#define AHV_MAX_REQUEST_TIME_MS 15000u

/* ---- algorithms ----------------------------------------------------------
 * Hash ids equal ahv_hash_alg in crypto/include/ahv/crypto.h; signature ids
 * equal ahv_curve there (asserted at the end of this file when both headers
 * are included). Ids are never reused. */
#define AHV_WIRE_HASH_SHA256 1u
#define AHV_WIRE_HASH_SHA384 2u
#define AHV_WIRE_HASH_SHA512 3u
#define AHV_WIRE_HASH_SHA3_256 4u
#define AHV_WIRE_HASH_SHA3_384 5u
#define AHV_WIRE_HASH_SHA3_512 6u
#define AHV_WIRE_HASH_MAX_ID 6u

#define AHV_SIG_ECDSA_P256_SHA256 1u /* r||s, 2 x 32 bytes */
#define AHV_SIG_ECDSA_P384_SHA384 2u /* r||s, 2 x 48 bytes */

#define AHV_DIGEST_FIELD_SIZE 64u  /* every digest field; unused tail zero */
#define AHV_SIG_FIELD_SIZE 96u     /* every signature field; tail zero */
#define AHV_KEY_ID_SIZE 32u        /* SHA-256 of SubjectPublicKeyInfo DER */
#define AHV_SPKI_FIELD_SIZE 128u
#define AHV_BOOT_ID_SIZE 16u
#define AHV_BUILD_ID_SIZE 32u
#define AHV_MEASUREMENT_SIZE 32u   /* SHA-256 (image, config) */

/* Digest size of a wire hash id, 0 if unknown. */
AHV_WIRE_INLINE uint32_t ahv_wire_hash_size(uint32_t alg)
{
	switch (alg) {
	case AHV_WIRE_HASH_SHA256: case AHV_WIRE_HASH_SHA3_256: return 32;
	case AHV_WIRE_HASH_SHA384: case AHV_WIRE_HASH_SHA3_384: return 48;
	case AHV_WIRE_HASH_SHA512: case AHV_WIRE_HASH_SHA3_512: return 64;
	default: return 0;
	}
}

/* Used bytes (r||s) of a signature id, 0 if unknown. */
AHV_WIRE_INLINE uint32_t ahv_wire_sig_size(uint32_t sig_alg)
{
	return sig_alg == AHV_SIG_ECDSA_P256_SHA256   ? 64u
	       : sig_alg == AHV_SIG_ECDSA_P384_SHA384 ? 96u
						      : 0u;
}

/* ---- address spaces and flags ------------------------------------------- */
#define AHV_SPACE_GVA 1u /* guest-virtual, caller's CR3, caller's CPL */
#define AHV_SPACE_GPA 2u /* guest-physical, CPL0 callers only */

/* ahv_region.flags */
#define AHV_REGION_F_CLAIMED (1u << 0) /* claimed_digest is present */
#define AHV_REGION_F_RESERVED_MASK (~(uint32_t)AHV_REGION_F_CLAIMED)

/* ahv_region_result.flags */
#define AHV_RESULT_F_CLAIMED (1u << 0) /* the request carried a claim */
#define AHV_RESULT_F_MATCH (1u << 1)   /* ... and it equals digest */
/* minor 1, WATCH_CHECK reports (docs/watch.md): digest[32..64) holds a
 * struct ahv_watch_record */
#define AHV_RESULT_F_WATCHED (1u << 2)  /* region under the report's watch */
#define AHV_RESULT_F_MODIFIED (1u << 3) /* written since the watch began:
					   the record is the first write */
#define AHV_RESULT_F_REMAPPED (1u << 4) /* GVA region no longer maps to the
					   frames watched; digest all zero */

/* ahv_request_hdr.flags (minor 1; docs/watch.md) */
#define AHV_REQ_F_WATCH_START (1u << 0) /* watch the regions measured now;
					   watch_arg = lifetime in s (0: max) */
#define AHV_REQ_F_WATCH_CHECK (1u << 1) /* report on watch watch_arg */
#define AHV_REQ_F_WATCH_END (1u << 2)   /* with CHECK: end it after this */
#define AHV_REQ_F_RESERVED_MASK (~(uint32_t)0x7u)

/* ahv_report_hdr.watch_state */
#define AHV_WATCH_NONE 0u    /* no watch in this report */
#define AHV_WATCH_ACTIVE 1u  /* started by, or still running at, this report */
#define AHV_WATCH_ENDED 2u   /* ended by this request (WATCH_END) */
#define AHV_WATCH_EXPIRED 3u /* its lifetime ran out: records cover up to
				the expiry; the watch is gone after this */

/* Watch limits (docs/watch.md). A watch needs a 32-byte hash: the record
 * takes the other 32 bytes of each result's digest field. */
#define AHV_WATCH_HASH_SIZE 32u
#define AHV_WATCH_MAX 8u                        /* watches at once */
#define AHV_WATCH_MAX_LIFETIME_S (7u * 86400u)  /* 0 in watch_arg means this */

/* ahv_report_hdr.flags and ahv_hv_info.flags */
#define AHV_REPORT_F_DEV_KEY (1u << 0)        /* key not TPM-sealed */
#define AHV_REPORT_F_DEBUG (1u << 1)          /* debug build/options on */
#define AHV_REPORT_F_TIME_INVALID (1u << 2)   /* RTC unreadable, time 0 */
#define AHV_REPORT_F_CLAIM_MISMATCH (1u << 3) /* >= 1 claim did not match */
#define AHV_REPORT_F_DMA_UNPROTECTED (1u << 4) /* minor 1: dma_protection =
						 off, no IOMMU taken: devices
						 can reach hypervisor memory */
/* Report flags only ever weaken a report, so they are must-understand in
 * every minor (protocol.md §10): a checker rejects a bit outside this set. */
#define AHV_REPORT_F_KNOWN                                                     \
	(AHV_REPORT_F_DEV_KEY | AHV_REPORT_F_DEBUG | AHV_REPORT_F_TIME_INVALID | \
	 AHV_REPORT_F_CLAIM_MISMATCH | AHV_REPORT_F_DMA_UNPROTECTED)

/* ---- magics (bytes as ASCII on the wire) --------------------------------- */
#define AHV_REQUEST_MAGIC 0x51564841u /* "AHVQ" */
#define AHV_REPORT_MAGIC 0x52564841u  /* "AHVR" */
#define AHV_INFO_MAGIC 0x49564841u    /* "AHVI" */

/* ---- request ---------------------------------------------------------------- */
struct ahv_request_hdr {
	uint32_t magic;         /* AHV_REQUEST_MAGIC */
	uint16_t version_major; /* AHV_WIRE_VERSION_MAJOR */
	uint16_t version_minor; /* <= hypervisor's minor */
	uint32_t total_size;    /* AHV_REQUEST_SIZE(region_count) */
	uint32_t flags;         /* reserved, 0 */
	uint16_t hash_alg;      /* AHV_WIRE_HASH_* */
	uint16_t sig_alg;       /* AHV_SIG_* of the guest signature */
	uint16_t region_count;  /* 1 .. AHV_MAX_REGIONS */
	uint16_t nonce_len;     /* AHV_NONCE_MIN .. AHV_NONCE_MAX */
	union {
		uint64_t reserved;  /* minor 0: 0 */
		uint64_t watch_arg; /* minor 1: 0 unless a WATCH flag says */
	};
	uint8_t nonce[AHV_NONCE_MAX]; /* nonce_len bytes used, rest 0 */
};

struct ahv_region {
	uint64_t address;       /* first byte (any alignment) */
	uint64_t size;          /* bytes; 0 allowed */
	uint32_t space;         /* AHV_SPACE_* */
	uint32_t flags;         /* AHV_REGION_F_* */
	uint8_t claimed_digest[AHV_DIGEST_FIELD_SIZE]; /* all 0 unless CLAIMED */
	uint64_t reserved;      /* 0 */
};

struct ahv_request_tail {
	uint8_t key_id[AHV_KEY_ID_SIZE];       /* guest key id */
	uint8_t signature[AHV_SIG_FIELD_SIZE]; /* r||s, zero padded */
};

/* ---- report ----------------------------------------------------------------- */
struct ahv_report_hdr {
	uint32_t magic;         /* AHV_REPORT_MAGIC */
	uint16_t version_major; /* hypervisor's wire version */
	uint16_t version_minor;
	uint32_t total_size;    /* AHV_REPORT_SIZE(region_count) */
	uint32_t flags;         /* AHV_REPORT_F_* */
	uint16_t hash_alg;      /* from the request */
	uint16_t sig_alg;       /* AHV_SIG_* of the hypervisor signature */
	uint16_t region_count;  /* from the request */
	uint16_t nonce_len;     /* from the request */
	uint8_t caller_cpl;     /* 0 or 3 */
	uint8_t paging_levels;  /* 4 or 5 */
	uint8_t backend;        /* AHV_BACKEND_* */
	union {
		uint8_t reserved0;   /* minor 0: 0 */
		uint8_t watch_state; /* minor 1: AHV_WATCH_* */
	};
	uint32_t apic_id;       /* initial APIC id of the serving CPU */
	uint64_t counter;       /* per-boot report counter, first is 1 */
	uint64_t timestamp_ns;  /* UTC ns since 1970-01-01, 0 if invalid */
	uint8_t boot_id[AHV_BOOT_ID_SIZE];
	uint8_t nonce[AHV_NONCE_MAX];               /* from the request */
	uint8_t request_digest[AHV_DIGEST_FIELD_SIZE];
	uint8_t composite_digest[AHV_DIGEST_FIELD_SIZE];
	uint8_t guest_key_id[AHV_KEY_ID_SIZE];      /* from the request */
	uint8_t hv_key_id[AHV_KEY_ID_SIZE];
	uint32_t hv_version;    /* AHV_HV_VERSION() */
	union {
		uint32_t reserved1; /* minor 0: 0 */
		uint32_t watch_id;  /* minor 1: the watch, 0 if none */
	};
	uint8_t build_id[AHV_BUILD_ID_SIZE];
	uint8_t hv_image_digest[AHV_MEASUREMENT_SIZE];  /* SHA-256 */
	uint8_t hv_config_digest[AHV_MEASUREMENT_SIZE]; /* SHA-256 */
	uint64_t total_bytes;   /* sum of region sizes */
	union {
		uint8_t reserved2[16]; /* minor 0: 0 */
		struct {               /* minor 1, watch_state != NONE: */
			uint64_t watch_since_counter; /* counter and time of */
			uint64_t watch_since_ns;      /* the watch's START report */
		};
	};
};

struct ahv_region_result {
	uint64_t address;       /* from the request */
	uint64_t size;          /* from the request */
	uint32_t space;         /* from the request */
	uint32_t flags;         /* AHV_RESULT_F_* */
	uint8_t digest[AHV_DIGEST_FIELD_SIZE]; /* hash_alg over the bytes */
};

/* Minor 1: digest[AHV_WATCH_RECORD_OFFSET..64) of a WATCHED result. */
struct ahv_watch_record {
	uint64_t time_ns;  /* MODIFIED: when the first write was caught;
			      else the end of the unmodified interval */
	uint64_t gpa;      /* MODIFIED: guest-physical address written */
	uint64_t rip;      /* MODIFIED: the writer's RIP (0: not a vCPU) */
	uint32_t apic_id;  /* MODIFIED: the writer's initial APIC id, or
			      AHV_WATCH_APIC_DEVICE */
	uint32_t reserved; /* 0 */
};
#define AHV_WATCH_RECORD_OFFSET AHV_WATCH_HASH_SIZE
/* apic_id of a DMA write (an IOMMU fault, docs/watch.md): rip is then the
 * device's PCI source id (bus << 8 | device << 3 | function). */
#define AHV_WATCH_APIC_DEVICE 0xFFFFFFFFu

struct ahv_report_tail {
	uint8_t signature[AHV_SIG_FIELD_SIZE]; /* r||s, zero padded */
};

/* ---- hypervisor info (AHV_HC_GET_INFO) ---------------------------------- */
struct ahv_hv_info {
	uint32_t magic;         /* AHV_INFO_MAGIC */
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t size;          /* sizeof(struct ahv_hv_info) */
	uint32_t flags;         /* AHV_REPORT_F_DEV_KEY/_DEBUG/_TIME_INVALID/_DMA_UNPROTECTED */
	uint32_t hv_version;
	uint32_t features;      /* AHV_FEAT_* */
	uint16_t sig_alg;       /* hypervisor key: AHV_SIG_* */
	uint16_t spki_len;      /* bytes used in hv_spki */
	uint32_t hash_alg_mask; /* bit i set: hash id i supported */
	uint32_t max_regions;   /* AHV_MAX_REGIONS */
	uint32_t max_request_size; /* AHV_REQUEST_MAX_SIZE */
	uint64_t max_total_bytes;  /* AHV_MAX_TOTAL_BYTES */
	uint32_t max_report_size;  /* AHV_REPORT_MAX_SIZE */
	uint32_t max_time_ms;      /* AHV_MAX_REQUEST_TIME_MS */
	uint8_t boot_id[AHV_BOOT_ID_SIZE];
	uint8_t hv_key_id[AHV_KEY_ID_SIZE];
	uint8_t build_id[AHV_BUILD_ID_SIZE];
	uint8_t hv_image_digest[AHV_MEASUREMENT_SIZE];
	uint8_t hv_config_digest[AHV_MEASUREMENT_SIZE];
	uint8_t hv_spki[AHV_SPKI_FIELD_SIZE]; /* SubjectPublicKeyInfo DER */
	uint32_t guest_key_count; /* enrolled guest keys */
	uint32_t backend;         /* AHV_BACKEND_* */
	uint64_t report_counter;  /* last counter value issued, 0 if none */
	uint64_t timestamp_ns;    /* now, as a report would carry it */
	uint32_t vcpu_count;      /* CPUs running under the hypervisor (§6.3) */
	uint8_t reserved[28];     /* 0 */
};

/* ---- sizes ------------------------------------------------------------------ */
#define AHV_REQUEST_HDR_SIZE 96u
#define AHV_REGION_SIZE 96u
#define AHV_REQUEST_TAIL_SIZE 128u
#define AHV_REPORT_HDR_SIZE 448u
#define AHV_REGION_RESULT_SIZE 88u
#define AHV_REPORT_TAIL_SIZE 96u
#define AHV_HV_INFO_SIZE 384u

/* Request of n regions: offset of region i, of the tail, signed span, size. */
#define AHV_REQUEST_REGION_OFFSET(i)                                           \
	((size_t)AHV_REQUEST_HDR_SIZE + (size_t)(i) * AHV_REGION_SIZE)
#define AHV_REQUEST_TAIL_OFFSET(n) AHV_REQUEST_REGION_OFFSET(n)
#define AHV_REQUEST_SIGNED_SIZE(n) (AHV_REQUEST_TAIL_OFFSET(n) + AHV_KEY_ID_SIZE)
#define AHV_REQUEST_SIG_OFFSET(n) AHV_REQUEST_SIGNED_SIZE(n)
#define AHV_REQUEST_SIZE(n) (AHV_REQUEST_TAIL_OFFSET(n) + AHV_REQUEST_TAIL_SIZE)
#define AHV_REQUEST_MIN_SIZE AHV_REQUEST_SIZE(1)              /* 320 */
#define AHV_REQUEST_MAX_SIZE AHV_REQUEST_SIZE(AHV_MAX_REGIONS) /* 6368 */

/* Report of n regions. */
#define AHV_REPORT_RESULT_OFFSET(i)                                            \
	((size_t)AHV_REPORT_HDR_SIZE + (size_t)(i) * AHV_REGION_RESULT_SIZE)
#define AHV_REPORT_SIGNED_SIZE(n) AHV_REPORT_RESULT_OFFSET(n)
#define AHV_REPORT_SIG_OFFSET(n) AHV_REPORT_SIGNED_SIZE(n)
#define AHV_REPORT_SIZE(n) (AHV_REPORT_SIGNED_SIZE(n) + AHV_REPORT_TAIL_SIZE)
#define AHV_REPORT_MIN_SIZE AHV_REPORT_SIZE(1)              /* 632 */
#define AHV_REPORT_MAX_SIZE AHV_REPORT_SIZE(AHV_MAX_REGIONS) /* 6176 */

/* ---- composite digest encoding (protocol.md "Measurement") -------------- */
#define AHV_COMPOSITE_LABEL "AHV-COMPOSITE-DIGEST-V1" /* + one 0x00 byte */
#define AHV_COMPOSITE_LABEL_SIZE 24u                   /* NUL included */

/* ---- little-endian helpers (tiny, for non-x86 verifiers and parsers) ---- */
AHV_WIRE_INLINE uint16_t ahv_le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
AHV_WIRE_INLINE uint32_t ahv_le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
AHV_WIRE_INLINE uint64_t ahv_le64_get(const uint8_t *p)
{
	return (uint64_t)ahv_le32_get(p) | (uint64_t)ahv_le32_get(p + 4) << 32;
}
AHV_WIRE_INLINE void ahv_le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
AHV_WIRE_INLINE void ahv_le32_put(uint8_t *p, uint32_t v)
{
	ahv_le16_put(p, (uint16_t)v);
	ahv_le16_put(p + 2, (uint16_t)(v >> 16));
}
AHV_WIRE_INLINE void ahv_le64_put(uint8_t *p, uint64_t v)
{
	ahv_le32_put(p, (uint32_t)v);
	ahv_le32_put(p + 4, (uint32_t)(v >> 32));
}

/* ---- layout assertions ------------------------------------------------------ */
#define AHV_WIRE_OFF(type, field, off)                                         \
	_Static_assert(offsetof(struct type, field) == (off),                  \
		       #type "." #field " offset")
#define AHV_WIRE_SIZE(type, size)                                              \
	_Static_assert(sizeof(struct type) == (size), #type " size")

AHV_WIRE_SIZE(ahv_request_hdr, AHV_REQUEST_HDR_SIZE);
AHV_WIRE_OFF(ahv_request_hdr, magic, 0);
AHV_WIRE_OFF(ahv_request_hdr, version_major, 4);
AHV_WIRE_OFF(ahv_request_hdr, version_minor, 6);
AHV_WIRE_OFF(ahv_request_hdr, total_size, 8);
AHV_WIRE_OFF(ahv_request_hdr, flags, 12);
AHV_WIRE_OFF(ahv_request_hdr, hash_alg, 16);
AHV_WIRE_OFF(ahv_request_hdr, sig_alg, 18);
AHV_WIRE_OFF(ahv_request_hdr, region_count, 20);
AHV_WIRE_OFF(ahv_request_hdr, nonce_len, 22);
AHV_WIRE_OFF(ahv_request_hdr, reserved, 24);
AHV_WIRE_OFF(ahv_request_hdr, watch_arg, 24);
AHV_WIRE_OFF(ahv_request_hdr, nonce, 32);

AHV_WIRE_SIZE(ahv_region, AHV_REGION_SIZE);
AHV_WIRE_OFF(ahv_region, address, 0);
AHV_WIRE_OFF(ahv_region, size, 8);
AHV_WIRE_OFF(ahv_region, space, 16);
AHV_WIRE_OFF(ahv_region, flags, 20);
AHV_WIRE_OFF(ahv_region, claimed_digest, 24);
AHV_WIRE_OFF(ahv_region, reserved, 88);

AHV_WIRE_SIZE(ahv_request_tail, AHV_REQUEST_TAIL_SIZE);
AHV_WIRE_OFF(ahv_request_tail, key_id, 0);
AHV_WIRE_OFF(ahv_request_tail, signature, 32);

AHV_WIRE_SIZE(ahv_report_hdr, AHV_REPORT_HDR_SIZE);
AHV_WIRE_OFF(ahv_report_hdr, magic, 0);
AHV_WIRE_OFF(ahv_report_hdr, version_major, 4);
AHV_WIRE_OFF(ahv_report_hdr, version_minor, 6);
AHV_WIRE_OFF(ahv_report_hdr, total_size, 8);
AHV_WIRE_OFF(ahv_report_hdr, flags, 12);
AHV_WIRE_OFF(ahv_report_hdr, hash_alg, 16);
AHV_WIRE_OFF(ahv_report_hdr, sig_alg, 18);
AHV_WIRE_OFF(ahv_report_hdr, region_count, 20);
AHV_WIRE_OFF(ahv_report_hdr, nonce_len, 22);
AHV_WIRE_OFF(ahv_report_hdr, caller_cpl, 24);
AHV_WIRE_OFF(ahv_report_hdr, paging_levels, 25);
AHV_WIRE_OFF(ahv_report_hdr, backend, 26);
AHV_WIRE_OFF(ahv_report_hdr, reserved0, 27);
AHV_WIRE_OFF(ahv_report_hdr, watch_state, 27);
AHV_WIRE_OFF(ahv_report_hdr, apic_id, 28);
AHV_WIRE_OFF(ahv_report_hdr, counter, 32);
AHV_WIRE_OFF(ahv_report_hdr, timestamp_ns, 40);
AHV_WIRE_OFF(ahv_report_hdr, boot_id, 48);
AHV_WIRE_OFF(ahv_report_hdr, nonce, 64);
AHV_WIRE_OFF(ahv_report_hdr, request_digest, 128);
AHV_WIRE_OFF(ahv_report_hdr, composite_digest, 192);
AHV_WIRE_OFF(ahv_report_hdr, guest_key_id, 256);
AHV_WIRE_OFF(ahv_report_hdr, hv_key_id, 288);
AHV_WIRE_OFF(ahv_report_hdr, hv_version, 320);
AHV_WIRE_OFF(ahv_report_hdr, reserved1, 324);
AHV_WIRE_OFF(ahv_report_hdr, watch_id, 324);
AHV_WIRE_OFF(ahv_report_hdr, build_id, 328);
AHV_WIRE_OFF(ahv_report_hdr, hv_image_digest, 360);
AHV_WIRE_OFF(ahv_report_hdr, hv_config_digest, 392);
AHV_WIRE_OFF(ahv_report_hdr, total_bytes, 424);
AHV_WIRE_OFF(ahv_report_hdr, reserved2, 432);
AHV_WIRE_OFF(ahv_report_hdr, watch_since_counter, 432);
AHV_WIRE_OFF(ahv_report_hdr, watch_since_ns, 440);

AHV_WIRE_SIZE(ahv_region_result, AHV_REGION_RESULT_SIZE);
AHV_WIRE_OFF(ahv_region_result, address, 0);
AHV_WIRE_OFF(ahv_region_result, size, 8);
AHV_WIRE_OFF(ahv_region_result, space, 16);
AHV_WIRE_OFF(ahv_region_result, flags, 20);
AHV_WIRE_OFF(ahv_region_result, digest, 24);

AHV_WIRE_SIZE(ahv_watch_record, AHV_DIGEST_FIELD_SIZE - AHV_WATCH_RECORD_OFFSET);
AHV_WIRE_OFF(ahv_watch_record, time_ns, 0);
AHV_WIRE_OFF(ahv_watch_record, gpa, 8);
AHV_WIRE_OFF(ahv_watch_record, rip, 16);
AHV_WIRE_OFF(ahv_watch_record, apic_id, 24);
AHV_WIRE_OFF(ahv_watch_record, reserved, 28);

AHV_WIRE_SIZE(ahv_report_tail, AHV_REPORT_TAIL_SIZE);
AHV_WIRE_OFF(ahv_report_tail, signature, 0);

AHV_WIRE_SIZE(ahv_hv_info, AHV_HV_INFO_SIZE);
AHV_WIRE_OFF(ahv_hv_info, magic, 0);
AHV_WIRE_OFF(ahv_hv_info, version_major, 4);
AHV_WIRE_OFF(ahv_hv_info, version_minor, 6);
AHV_WIRE_OFF(ahv_hv_info, size, 8);
AHV_WIRE_OFF(ahv_hv_info, flags, 12);
AHV_WIRE_OFF(ahv_hv_info, hv_version, 16);
AHV_WIRE_OFF(ahv_hv_info, features, 20);
AHV_WIRE_OFF(ahv_hv_info, sig_alg, 24);
AHV_WIRE_OFF(ahv_hv_info, spki_len, 26);
AHV_WIRE_OFF(ahv_hv_info, hash_alg_mask, 28);
AHV_WIRE_OFF(ahv_hv_info, max_regions, 32);
AHV_WIRE_OFF(ahv_hv_info, max_request_size, 36);
AHV_WIRE_OFF(ahv_hv_info, max_total_bytes, 40);
AHV_WIRE_OFF(ahv_hv_info, max_report_size, 48);
AHV_WIRE_OFF(ahv_hv_info, max_time_ms, 52);
AHV_WIRE_OFF(ahv_hv_info, boot_id, 56);
AHV_WIRE_OFF(ahv_hv_info, hv_key_id, 72);
AHV_WIRE_OFF(ahv_hv_info, build_id, 104);
AHV_WIRE_OFF(ahv_hv_info, hv_image_digest, 136);
AHV_WIRE_OFF(ahv_hv_info, hv_config_digest, 168);
AHV_WIRE_OFF(ahv_hv_info, hv_spki, 200);
AHV_WIRE_OFF(ahv_hv_info, guest_key_count, 328);
AHV_WIRE_OFF(ahv_hv_info, backend, 332);
AHV_WIRE_OFF(ahv_hv_info, report_counter, 336);
AHV_WIRE_OFF(ahv_hv_info, timestamp_ns, 344);
AHV_WIRE_OFF(ahv_hv_info, vcpu_count, 352);
AHV_WIRE_OFF(ahv_hv_info, reserved, 356);

/* derived sizes and constants */
_Static_assert(AHV_REQUEST_SIZE(0) == 224, "request base size");
_Static_assert(AHV_REQUEST_MIN_SIZE == 320, "request min size");
_Static_assert(AHV_REQUEST_MAX_SIZE == 6368, "request max size");
_Static_assert(AHV_REQUEST_SIGNED_SIZE(1) == 224, "request signed span");
_Static_assert(AHV_REPORT_SIZE(0) == 544, "report base size");
_Static_assert(AHV_REPORT_MIN_SIZE == 632, "report min size");
_Static_assert(AHV_REPORT_MAX_SIZE == 6176, "report max size");
_Static_assert(sizeof(AHV_CPUID_SIGNATURE) == 13, "12-byte signature");
_Static_assert(sizeof(AHV_COMPOSITE_LABEL) == AHV_COMPOSITE_LABEL_SIZE,
	       "composite label is 23 chars + NUL");
_Static_assert(AHV_SPKI_FIELD_SIZE >= 120, "P-384 SPKI DER fits");
_Static_assert(AHV_SIG_FIELD_SIZE == 2 * 48, "P-384 r||s fits");
_Static_assert(AHV_MAX_REGIONS <= 0xffffu, "region_count is u16");
_Static_assert(AHV_REQUEST_MAX_SIZE <= 0xffffffffu, "total_size is u32");

#undef AHV_WIRE_OFF
#undef AHV_WIRE_SIZE

#ifdef __cplusplus
}
#endif
#endif /* ATTEST_WIRE_H */

/* Cross-check with the crypto API when both headers are in scope (include
 * <ahv/crypto.h> first). Outside the include guard on purpose. */
#if defined(AHV_CRYPTO_H) && !defined(ATTEST_WIRE_CRYPTO_CHECKED)
#define ATTEST_WIRE_CRYPTO_CHECKED 1
_Static_assert(AHV_WIRE_HASH_SHA256 == AHV_HASH_SHA256, "hash id");
_Static_assert(AHV_WIRE_HASH_SHA384 == AHV_HASH_SHA384, "hash id");
_Static_assert(AHV_WIRE_HASH_SHA512 == AHV_HASH_SHA512, "hash id");
_Static_assert(AHV_WIRE_HASH_SHA3_256 == AHV_HASH_SHA3_256, "hash id");
_Static_assert(AHV_WIRE_HASH_SHA3_384 == AHV_HASH_SHA3_384, "hash id");
_Static_assert(AHV_WIRE_HASH_SHA3_512 == AHV_HASH_SHA3_512, "hash id");
_Static_assert(AHV_SIG_ECDSA_P256_SHA256 == AHV_CURVE_P256, "sig id");
_Static_assert(AHV_SIG_ECDSA_P384_SHA384 == AHV_CURVE_P384, "sig id");
_Static_assert(AHV_DIGEST_FIELD_SIZE == AHV_HASH_MAX_SIZE, "digest field");
_Static_assert(AHV_SIG_FIELD_SIZE == AHV_EC_MAX_SIG_RAW, "sig field");
_Static_assert(AHV_SPKI_FIELD_SIZE >= AHV_SPKI_MAX_DER, "spki field");
#endif
