/* error.c - error codes, hypervisor status names, per-thread detail. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

static _Thread_local char detail[768];

const char *ahvl_version(void)
{
	return "1.0.0";
}

void ahvl_clear_detail(void)
{
	detail[0] = 0;
}

const char *ahvl_error_detail(void)
{
	return detail;
}

static int vfail(int err, bool ssl, const char *fmt, va_list ap)
{
	int n = vsnprintf(detail, sizeof detail, fmt, ap);
	if (n < 0)
		n = 0;
	if (ssl) {
		unsigned long e;
		while ((e = ERR_get_error()) != 0 && (size_t)n < sizeof detail - 8) {
			char buf[256];
			ERR_error_string_n(e, buf, sizeof buf);
			int m = snprintf(detail + n, sizeof detail - (size_t)n, "%s%s",
					 n ? ": " : "", buf);
			if (m < 0)
				break;
			n += m;
		}
		ERR_clear_error();
	}
	return err;
}

int ahvl_fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, false, fmt, ap);
	va_end(ap);
	return err;
}

int ahvl_fail_ssl(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, true, fmt, ap);
	va_end(ap);
	return err;
}

const char *ahvl_strerror(int err)
{
	switch (err) {
	case AHVL_OK: return "success";
	case AHVL_E_INVALID: return "invalid argument";
	case AHVL_E_NOMEM: return "out of memory";
	case AHVL_E_NO_HYPERVISOR: return "attest-hv is not running (CPUID discovery failed)";
	case AHVL_E_UNSUPPORTED: return "unsupported hypervisor version, back end or feature";
	case AHVL_E_LIMIT: return "a protocol limit was exceeded";
	case AHVL_E_PRIVILEGE: return "guest-physical regions need CPL0";
	case AHVL_E_NOT_FOUND: return "no such object, section or segment";
	case AHVL_E_IO: return "file input/output error";
	case AHVL_E_ELF: return "malformed or unsupported ELF file";
	case AHVL_E_KEY: return "unusable key";
	case AHVL_E_SIGN: return "signing failed";
	case AHVL_E_TPM: return "TPM or tpm2 provider failure";
	case AHVL_E_RESIDENCY: return "could not lock the named pages in memory";
	case AHVL_E_HYPERCALL: return "the hypervisor returned a failure status";
	case AHVL_E_BAD_RESPONSE: return "the hypervisor's answer is inconsistent";
	case AHVL_E_FORMAT: return "malformed request or report";
	case AHVL_E_BAD_SIGNATURE: return "signature does not verify";
	case AHVL_E_MISMATCH: return "nonce, key, digest or request binding mismatch";
	case AHVL_E_NETWORK: return "cannot reach the verifier";
	case AHVL_E_VERIFIER: return "the verifier rejected the evidence or failed";
	case AHVL_E_TOKEN: return "invalid attestation token";
	case AHVL_E_INTERNAL: return "internal library error";
	default: return "unknown error";
	}
}

static const struct {
	uint32_t v;
	const char *name, *msg;
} statuses[] = {
	{AHV_OK, "AHV_OK", "success"},
	{AHV_E_BAD_FUNCTION, "AHV_E_BAD_FUNCTION", "unknown hypercall function"},
	{AHV_E_BAD_MODE, "AHV_E_BAD_MODE", "caller not in 64-bit mode, CPL 1/2, or unsupported paging"},
	{AHV_E_NO_KEY, "AHV_E_NO_KEY", "the hypervisor has no signing key"},
	{AHV_E_BUSY, "AHV_E_BUSY", "attestation engine busy on another CPU"},
	{AHV_E_INTERNAL, "AHV_E_INTERNAL", "internal hypervisor failure"},
	{AHV_E_REQUEST_SIZE, "AHV_E_REQUEST_SIZE", "request length inconsistent"},
	{AHV_E_BUFFER_TOO_SMALL, "AHV_E_BUFFER_TOO_SMALL", "output buffer too small"},
	{AHV_E_BAD_MAGIC, "AHV_E_BAD_MAGIC", "request magic is not AHVQ"},
	{AHV_E_BAD_VERSION, "AHV_E_BAD_VERSION", "request wire version not supported"},
	{AHV_E_RESERVED, "AHV_E_RESERVED", "a reserved request field is nonzero"},
	{AHV_E_BAD_HASH_ALG, "AHV_E_BAD_HASH_ALG", "hash algorithm unknown or unavailable"},
	{AHV_E_BAD_SIG_ALG, "AHV_E_BAD_SIG_ALG", "signature algorithm unknown"},
	{AHV_E_BAD_NONCE_LEN, "AHV_E_BAD_NONCE_LEN", "nonce length outside 8..64"},
	{AHV_E_BAD_REGION_COUNT, "AHV_E_BAD_REGION_COUNT", "region count outside 1..64"},
	{AHV_E_BAD_SPACE, "AHV_E_BAD_SPACE", "unknown address space"},
	{AHV_E_RANGE_WRAP, "AHV_E_RANGE_WRAP", "range wraps past 2^64"},
	{AHV_E_NONCANONICAL, "AHV_E_NONCANONICAL", "range not canonical"},
	{AHV_E_TOO_MANY_BYTES, "AHV_E_TOO_MANY_BYTES", "total region bytes exceed 1 GiB"},
	{AHV_E_UNKNOWN_KEY, "AHV_E_UNKNOWN_KEY", "guest key not enrolled in the hypervisor"},
	{AHV_E_KEY_MISMATCH, "AHV_E_KEY_MISMATCH", "signature algorithm does not match the enrolled key"},
	{AHV_E_BAD_SIGNATURE, "AHV_E_BAD_SIGNATURE", "guest signature does not verify"},
	{AHV_E_PRIVILEGE, "AHV_E_PRIVILEGE", "guest-physical region named from CPL3"},
	{AHV_E_NOT_PRESENT, "AHV_E_NOT_PRESENT", "page not present in the guest page tables"},
	{AHV_E_NOT_USER, "AHV_E_NOT_USER", "page not user-accessible"},
	{AHV_E_NOT_WRITABLE, "AHV_E_NOT_WRITABLE", "output buffer page not writable"},
	{AHV_E_GUEST_RSVD, "AHV_E_GUEST_RSVD", "reserved bit set in a guest paging entry"},
	{AHV_E_NESTED_FAULT, "AHV_E_NESTED_FAULT", "address not mapped in nested paging"},
	{AHV_E_NOT_RAM, "AHV_E_NOT_RAM", "frame is MMIO or not RAM"},
	{AHV_E_HV_MEMORY, "AHV_E_HV_MEMORY", "frame belongs to the hypervisor"},
	{AHV_E_TIME_LIMIT, "AHV_E_TIME_LIMIT", "per-request time limit exhausted"},
};

const char *ahvl_status_name(uint32_t status)
{
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (statuses[i].v == status)
			return statuses[i].name;
	return NULL;
}

const char *ahvl_status_message(uint32_t status)
{
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (statuses[i].v == status)
			return statuses[i].msg;
	return "unknown status";
}
