/*
 * ahv/tpm_spec.h - TPM 2.0 constants used by attest-hv's own marshaling.
 *
 * Every value cites where it is defined in the TCG "Trusted Platform Module
 * Library" specification, Family 2.0, Level 00, Revision 01.59:
 *   Part 1 = Architecture, Part 2 = Structures, Part 3 = Commands.
 * Sections are given as "P2 s6.9" (Part 2, section 6.9) with the name of the
 * table, which is stable across revisions even where numbering drifts.
 * All multi-byte TPM values are big-endian on the wire (P1 s18.2, P2 s4.1).
 */
#ifndef AHV_TPM_SPEC_H
#define AHV_TPM_SPEC_H

/* ---- command/response header (P1 s18.2 "Command/Response Header Fields") */
#define TPM_HEADER_SIZE 10u /* tag(2) + commandSize/responseSize(4) + cc/rc(4) */

/* TPM_ST structure tags (P2 s6.9, "Definition of TPM_ST Constants") */
#define TPM_ST_RSP_COMMAND 0x00C4u   /* TPM 1.2-format error response */
#define TPM_ST_NO_SESSIONS 0x8001u   /* no authorization area */
#define TPM_ST_SESSIONS 0x8002u      /* authorization area present */
#define TPM_ST_ATTEST_QUOTE 0x8018u  /* TPMS_ATTEST of TPM2_Quote */
#define TPM_ST_CREATION 0x8021u      /* TPMT_TK_CREATION tag */

/* TPM_GENERATED_VALUE, first field of TPMS_ATTEST (P2 s6.2, TPM_CONSTANTS32) */
#define TPM_GENERATED_VALUE 0xFF544347u

/* TPM_SU startup types (P2 s6.10, "Definition of TPM_SU Constants") */
#define TPM_SU_CLEAR 0x0000u
#define TPM_SU_STATE 0x0001u

/* TPM_SE session types (P2 s6.11, "Definition of TPM_SE Constants") */
#define TPM_SE_HMAC 0x00u
#define TPM_SE_POLICY 0x01u
#define TPM_SE_TRIAL 0x03u

/* ---- TPM_CC command codes (P2 s6.5.2, "Definition of TPM_CC Constants";
 * each command's own layout is in Part 3 at the section given) */
#define TPM_CC_CreatePrimary 0x00000131u    /* P3 s24.1 */
#define TPM_CC_Startup 0x00000144u          /* P3 s9.3 */
#define TPM_CC_Create 0x00000153u           /* P3 s12.1 */
#define TPM_CC_Load 0x00000157u             /* P3 s12.2 */
#define TPM_CC_Quote 0x00000158u            /* P3 s18.4 */
#define TPM_CC_Unseal 0x0000015Eu           /* P3 s12.7 */
#define TPM_CC_FlushContext 0x00000165u     /* P3 s28.4 */
#define TPM_CC_StartAuthSession 0x00000176u /* P3 s11.1 */
#define TPM_CC_GetRandom 0x0000017Bu        /* P3 s16.1 */
#define TPM_CC_PCR_Read 0x0000017Eu         /* P3 s22.4 */
#define TPM_CC_PolicyPCR 0x0000017Fu        /* P3 s23.7 */
#define TPM_CC_PCR_Extend 0x00000182u       /* P3 s22.2 */
#define TPM_CC_PolicyGetDigest 0x00000189u  /* P3 s23.19 */
#define TPM_CC_ActivateCredential 0x00000147u /* P3 s12.5 */
#define TPM_CC_NV_Read 0x0000014Eu          /* P3 s31.13 */
#define TPM_CC_PolicySecret 0x00000151u     /* P3 s23.4 */
#define TPM_CC_NV_ReadPublic 0x00000169u    /* P3 s31.6 */

/* ---- TPM_RC response codes (P2 s6.6, "Definition of TPM_RC Constants") --
 * Format-zero codes: bit 7 clear, RC_VER1 (0x100) + number, RC_WARN (0x900)
 * for warnings. Format-one codes: bit 7 (RC_FMT1 = 0x080) set, error number
 * in bits 0..5, bit 6 = "P" (parameter), bits 8..11 = parameter, handle or
 * (bit 11 set) session number (P2 s6.6.2 "Response Code Formats"). */
#define TPM_RC_SUCCESS 0x000u
#define TPM_RC_VER1 0x100u
#define TPM_RC_FMT1 0x080u
#define TPM_RC_WARN 0x900u
#define TPM_RC_FMT1_ERROR_MASK 0x0BFu  /* RC_FMT1 | 6-bit error number */
#define TPM_RC_FMT1_P 0x040u           /* the number is a parameter number */
#define TPM_RC_FMT1_S 0x800u           /* with P clear: session number */
#define TPM_RC_FMT1_N_SHIFT 8
#define TPM_RC_INITIALIZE (TPM_RC_VER1 + 0x000u)  /* already started up */
#define TPM_RC_PCR_CHANGED (TPM_RC_VER1 + 0x028u) /* PCRs moved under a policy */
#define TPM_RC_VALUE (TPM_RC_FMT1 + 0x004u)
#define TPM_RC_POLICY_FAIL (TPM_RC_FMT1 + 0x01Du) /* policyDigest != authPolicy */
#define TPM_RC_AUTH_UNAVAILABLE (TPM_RC_VER1 + 0x02Fu) /* e.g. userWithAuth clear */
#define TPM_RC_INTEGRITY (TPM_RC_FMT1 + 0x01Fu)
#define TPM_RC_AUTH_FAIL (TPM_RC_FMT1 + 0x00Eu)
#define TPM_RC_BAD_AUTH (TPM_RC_FMT1 + 0x022u)
#define TPM_RC_YIELDED (TPM_RC_WARN + 0x008u)
#define TPM_RC_TESTING (TPM_RC_WARN + 0x00Au)
#define TPM_RC_RETRY (TPM_RC_WARN + 0x022u)

/* ---- handles (P2 s7.2 "TPM_HT", s7.4 "TPM_RH") ----------------------- */
#define TPM_HT_SHIFT 24
#define TPM_HT_PCR 0x00u
#define TPM_HT_HMAC_SESSION 0x02u
#define TPM_HT_POLICY_SESSION 0x03u
#define TPM_HT_TRANSIENT 0x80u
#define TPM_RH_OWNER 0x40000001u
#define TPM_RH_NULL 0x40000007u
#define TPM_RS_PW 0x40000009u  /* password authorization session */
#define TPM_RH_ENDORSEMENT 0x4000000Bu
#define TPM_HT_NV_INDEX 0x01u
/* NV index of the RSA 2048 EK certificate (TCG EK Credential Profile 2.0,
 * s2.2.1.4 "Low Range") */
#define TPM_NV_EK_CERT_RSA 0x01C00002u

/* ---- TPM_ALG_ID (P2 s6.3, "Definition of TPM_ALG_ID Constants") ------ */
#define TPM_ALG_RSA 0x0001u
#define TPM_ALG_AES 0x0006u
#define TPM_ALG_KEYEDHASH 0x0008u
#define TPM_ALG_SHA256 0x000Bu
#define TPM_ALG_NULL 0x0010u
#define TPM_ALG_ECDSA 0x0018u
#define TPM_ALG_ECC 0x0023u
#define TPM_ALG_CFB 0x0043u

/* TPM_ECC_CURVE (P2 s6.4, "Definition of TPM_ECC_CURVE Constants") */
#define TPM_ECC_NIST_P256 0x0003u

/* ---- TPMA_OBJECT bits (P2 s8.3.2, "Definition of TPMA_OBJECT Bits";
 * meanings in s8.3.3) */
#define TPMA_OBJECT_FIXEDTPM (1u << 1)
#define TPMA_OBJECT_STCLEAR (1u << 2)
#define TPMA_OBJECT_FIXEDPARENT (1u << 4)
#define TPMA_OBJECT_SENSITIVEDATAORIGIN (1u << 5)
#define TPMA_OBJECT_USERWITHAUTH (1u << 6)
#define TPMA_OBJECT_ADMINWITHPOLICY (1u << 7)
#define TPMA_OBJECT_NODA (1u << 10)
#define TPMA_OBJECT_RESTRICTED (1u << 16)
#define TPMA_OBJECT_DECRYPT (1u << 17)
#define TPMA_OBJECT_SIGN_ENCRYPT (1u << 18)

/* ---- TPMA_SESSION bits (P2 s8.4, "Definition of TPMA_SESSION Bits") -- */
#define TPMA_SESSION_CONTINUESESSION (1u << 0)

/* ---- sizes ------------------------------------------------------------ */
#define TPM_SHA256_DIGEST_SIZE 32u
#define TPM_PCR_SELECT_MIN 3u  /* 24 PCRs: sizeofSelect (P2 s10.6.1, PC Client) */
#define TPM_NUM_PCRS 24u
#define TPM_MAX_SYM_DATA 128u  /* TPM2B_SENSITIVE_DATA limit (P2 s11.1.14) */
#define TPM_MAX_PCR_DIGESTS 8u /* TPML_DIGEST holds at most 8 (P2 s10.9.5) */

#endif /* AHV_TPM_SPEC_H */
