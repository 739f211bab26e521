/* The checks of an EK-rooted enrollment (ek_evidence.h). The TPM structures
 * are parsed by boot/tpm's strict parsers, the ones the loader's tests use. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ahv/tpm_commands.h"
#include "attest/wire.h"
#include "ek_evidence.h"
#include "vcrypto.h"
#include "vutil.h"

/* The AK must be a key the TPM made and keeps (fixedTPM, fixedParent,
 * sensitiveDataOrigin) that signs only what the TPM itself generated
 * (restricted sign, P2 s8.3.3.1.4): such a key cannot sign a forged
 * TPMS_ATTEST, and its Name can only be loaded in the TPM that made it. */
#define AK_MUST (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
		 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

static uint8_t *read_in(const char *dir, const char *name, size_t *len, size_t max, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	uint8_t *b = v_read_file(path, len, max);
	if (!b)
		snprintf(err, errlen, "no %s in the evidence (%s)", name, path);
	return b;
}

static int add_pem_certs(STACK_OF(X509) *sk, X509_STORE *store, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	int n = 0;
	if (!f)
		return -1;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		int ok = store ? X509_STORE_add_cert(store, x) == 1 : sk_X509_push(sk, x) > 0;
		if (store || !ok)
			X509_free(x);
		if (!ok)
			break;
		n++;
	}
	fclose(f);
	ERR_clear_error();
	return n > 0 ? 0 : -1;
}

/* TCG EK Credential Profile 2.0 s3.2: an RSA 2048 EK (Template L-1) whose
 * certificate chains to a configured root, Key Usage keyEncipherment, and
 * if an Extended Key Usage is present it names tcg-kp-EKCertificate
 * (2.23.133.8.1, s3.2.16). */
static int check_ek_cert(const uint8_t *der, size_t len, const struct v_ek_trust *tr, struct v_ek_result *res,
			 char *err, size_t errlen)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;
	if (!x || p != der + len) {
		snprintf(err, errlen, "ek.crt is not one DER certificate");
		goto out;
	}
	if (!store || !chain || !ctx)
		goto out;
	for (int i = 0; i < tr->n_roots; i++)
		if (add_pem_certs(NULL, store, tr->roots[i])) {
			snprintf(err, errlen, "cannot read EK CA roots from %s", tr->roots[i]);
			goto out;
		}
	for (int i = 0; i < tr->n_intermediates; i++)
		if (add_pem_certs(chain, NULL, tr->intermediates[i])) {
			snprintf(err, errlen, "cannot read EK CA intermediates from %s", tr->intermediates[i]);
			goto out;
		}
	if (X509_STORE_CTX_init(ctx, store, x, chain) != 1)
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, errlen, "the EK certificate does not chain to a configured EK CA root: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	uint32_t ku = X509_get_key_usage(x);
	ASN1_OBJECT *ekcert = OBJ_txt2obj("2.23.133.8.1", 1);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	int eku_ok = !eku;
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		eku_ok |= !OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), ekcert);
	EXTENDED_KEY_USAGE_free(eku);
	ASN1_OBJECT_free(ekcert);
	if (!(ku & KU_KEY_ENCIPHERMENT) || !eku_ok) {
		snprintf(err, errlen, "the certificate is not an EK certificate (keyEncipherment, tcg-kp-EKCertificate)");
		goto out;
	}
	res->ek = X509_get_pubkey(x);
	if (!res->ek || EVP_PKEY_get_base_id(res->ek) != EVP_PKEY_RSA || EVP_PKEY_get_bits(res->ek) != 2048) {
		snprintf(err, errlen, "the EK certificate's key is not RSA 2048 (Template L-1)");
		goto out;
	}
	X509_NAME_oneline(X509_get_issuer_name(x), res->ek_subject, sizeof res->ek_subject);
	vc_hash(AHV_WIRE_HASH_SHA256, der, len, res->ek_cert_sha256);
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_free(store);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* P-256 SubjectPublicKeyInfo DER of a SEC1 point: the fixed 26-byte prefix. */
static EVP_PKEY *p256_from_point(const uint8_t point[65])
{
	static const uint8_t pre[26] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
					0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
	uint8_t der[91];
	memcpy(der, pre, 26);
	memcpy(der + 26, point, 65);
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, sizeof der);
	ERR_clear_error();
	return k;
}

/* TPMT_SIGNATURE { TPM_ALG_ECDSA, { TPM_ALG_SHA256, TPM2B r, TPM2B s } }
 * (P2 s11.3.4) to r||s, 32 bytes each. */
static int ecdsa_sig(const uint8_t *b, size_t len, uint8_t rs[64])
{
	struct ahv_tpm_rd r;
	size_t n;
	memset(rs, 0, 64);
	ahv_tpm_rd_init(&r, b, len);
	if (ahv_tpm_get_u16(&r) != TPM_ALG_ECDSA || ahv_tpm_get_u16(&r) != TPM_ALG_SHA256)
		return -1;
	for (int h = 0; h < 2; h++) {
		const uint8_t *v = ahv_tpm_get_tpm2b_view(&r, 32, &n);
		if (v && n)
			memcpy(rs + 32 * h + 32 - n, v, n);
	}
	return ahv_tpm_rd_done(&r) ? -1 : 0;
}

int v_ek_check(const char *dir, const uint8_t key_id[32], const struct v_ek_trust *tr,
	       struct v_ek_result *res, char *err, size_t errlen)
{
	size_t el = 0, al = 0, ql = 0, sl = 0;
	uint8_t *ek = NULL, *ak = NULL, *q = NULL, *sig = NULL, rs[64], want[32];
	struct ahv_tpm_public_info pi;
	struct ahv_tpm_quote_info qi;
	EVP_PKEY *akpk = NULL;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (tr->n_roots == 0 || tr->pcr_set != 7u) {
		snprintf(err, errlen, "EK enrollment needs --ek-ca and reference values for PCRs 0, 4 and 8");
		return -1;
	}
	if (!(ek = read_in(dir, "ek.crt", &el, 8192, err, errlen)) ||
	    !(ak = read_in(dir, "ak.pub", &al, AHV_TPM_MAX_PUBLIC, err, errlen)) ||
	    !(q = read_in(dir, "quote.msg", &ql, AHV_TPM_MAX_ATTEST, err, errlen)) ||
	    !(sig = read_in(dir, "quote.sig", &sl, 256, err, errlen)))
		goto out;
	if (check_ek_cert(ek, el, tr, res, err, errlen))
		goto out;
	if (ahv_tpm_public_parse(ak, al, &pi) || pi.type != TPM_ALG_ECC || pi.name_alg != TPM_ALG_SHA256 ||
	    (pi.attrs & AK_MUST) != AK_MUST || (pi.attrs & TPMA_OBJECT_DECRYPT)) {
		snprintf(err, errlen, "ak.pub is not a restricted fixedTPM ECDSA P-256 signing key (attributes %08x)",
			 pi.attrs);
		goto out;
	}
	/* Name = nameAlg || H_nameAlg(TPMT_PUBLIC) (P1 s16 "Names") */
	res->ak_name[0] = 0x00;
	res->ak_name[1] = 0x0B;
	vc_hash(AHV_WIRE_HASH_SHA256, ak, al, res->ak_name + 2);
	if (!(akpk = p256_from_point(pi.ecc_point)) || ecdsa_sig(sig, sl, rs) ||
	    vc_verify_raw(akpk, AHV_SIG_ECDSA_P256_SHA256, q, ql, rs) != 1) {
		snprintf(err, errlen, "the quote's signature does not verify with the AK");
		goto out;
	}
	if (ahv_tpm_quote_parse(q, ql, &qi)) {
		snprintf(err, errlen, "quote.msg is not a TPM2_Quote TPMS_ATTEST");
		goto out;
	}
	if (qi.extra_len != 32 || memcmp(qi.extra, key_id, 32)) {
		snprintf(err, errlen, "the quote's qualifying data is not SHA-256 of this key's SPKI");
		goto out;
	}
	uint8_t cat[96];
	memcpy(cat, tr->pcr[0], 32);
	memcpy(cat + 32, tr->pcr[1], 32);
	memcpy(cat + 64, tr->pcr[2], 32);
	vc_hash(AHV_WIRE_HASH_SHA256, cat, sizeof cat, want);
	if (qi.pcr_mask != 0x111u || memcmp(qi.pcr_digest, want, 32)) {
		snprintf(err, errlen, "the quoted PCRs 0, 4, 8 differ from the reference values");
		goto out;
	}
	rc = 0;
out:
	if (rc) {
		EVP_PKEY_free(res->ek);
		res->ek = NULL;
	}
	EVP_PKEY_free(akpk);
	free(ek);
	free(ak);
	free(q);
	free(sig);
	return rc;
}
