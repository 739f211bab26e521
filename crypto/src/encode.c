/*
 * encode.c - encodings of ECDSA signatures (ASN.1 DER Ecdsa-Sig-Value,
 * RFC 5480 section 2.2 / SEC 1 C.5) and public keys (SubjectPublicKeyInfo,
 * RFC 5480 section 2, in DER and PEM per RFC 7468 section 13).
 */
#include <string.h>
#include "mbedtls/base64.h"
#include "ahv/crypto.h"

/* ---- Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } ----------------- */
#define ASN1_SEQUENCE 0x30
#define ASN1_INTEGER 0x02
#define ASN1_BIT_STRING 0x03

/* DER INTEGER of an unsigned big-endian value (X.690 8.3: minimal, and a
 * leading 0x00 when the top bit is set). Returns bytes written. */
static size_t der_uint(uint8_t *out, const uint8_t *v, size_t n)
{
	size_t skip = 0, len;

	while (skip + 1 < n && v[skip] == 0)
		skip++;
	len = n - skip + (v[skip] & 0x80 ? 1 : 0);
	out[0] = ASN1_INTEGER;
	out[1] = (uint8_t)len;
	if (v[skip] & 0x80)
		out[2] = 0;
	memcpy(out + 2 + len - (n - skip), v + skip, n - skip);
	return 2 + len;
}

int ahv_ecdsa_sig_raw_to_der(ahv_curve curve, const uint8_t *raw, size_t raw_len,
			     uint8_t *der, size_t der_cap, size_t *der_len)
{
	uint8_t tmp[AHV_EC_MAX_SIG_DER];
	size_t n = ahv_curve_size(curve), len;

	if (!n || !raw || !der || !der_len)
		return AHV_CRYPTO_EINVAL;
	if (raw_len != 2 * n)
		return AHV_CRYPTO_EFORMAT;
	len = der_uint(tmp + 2, raw, n);
	len += der_uint(tmp + 2 + len, raw + n, n);
	tmp[0] = ASN1_SEQUENCE;
	tmp[1] = (uint8_t)len; /* <= 2 * (2 + 49) = 102: short form */
	if (der_cap < len + 2)
		return AHV_CRYPTO_EBUFSIZE;
	memcpy(der, tmp, len + 2);
	*der_len = len + 2;
	return AHV_CRYPTO_OK;
}

/* Strict DER INTEGER, non-negative, at most n value bytes; right-aligned into out[n]. */
static int parse_uint(const uint8_t **p, const uint8_t *end, uint8_t *out, size_t n)
{
	const uint8_t *c = *p;
	size_t len;

	if (end - c < 2 || c[0] != ASN1_INTEGER || (c[1] & 0x80))
		return AHV_CRYPTO_EFORMAT;
	len = c[1];
	c += 2;
	if (len == 0 || (size_t)(end - c) < len)
		return AHV_CRYPTO_EFORMAT;
	if (c[0] & 0x80)
		return AHV_CRYPTO_EFORMAT;                      /* negative */
	if (len > 1 && c[0] == 0 && !(c[1] & 0x80))
		return AHV_CRYPTO_EFORMAT;                      /* not minimal */
	if (c[0] == 0 && len > 1) {
		c++;
		len--;
	}
	if (len > n)
		return AHV_CRYPTO_EFORMAT;
	memset(out, 0, n - len);
	memcpy(out + n - len, c, len);
	*p = c + len;
	return AHV_CRYPTO_OK;
}

int ahv_ecdsa_sig_der_to_raw(ahv_curve curve, const uint8_t *der, size_t der_len,
			     uint8_t *raw, size_t raw_cap, size_t *raw_len)
{
	uint8_t tmp[AHV_EC_MAX_SIG_RAW];
	size_t n = ahv_curve_size(curve);
	const uint8_t *p, *end;

	if (!n || !der || !raw || !raw_len)
		return AHV_CRYPTO_EINVAL;
	if (der_len < 2 || der[0] != ASN1_SEQUENCE || (der[1] & 0x80) ||
	    (size_t)der[1] + 2 != der_len)
		return AHV_CRYPTO_EFORMAT;
	p = der + 2;
	end = der + der_len;
	if (parse_uint(&p, end, tmp, n) || parse_uint(&p, end, tmp + n, n) || p != end)
		return AHV_CRYPTO_EFORMAT;
	if (raw_cap < 2 * n)
		return AHV_CRYPTO_EBUFSIZE;
	memcpy(raw, tmp, 2 * n);
	*raw_len = 2 * n;
	return AHV_CRYPTO_OK;
}

/* ---- SubjectPublicKeyInfo -----------------------------------------------------
 * SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING { 0, point } }.
 * With a fixed curve the DER up to the point is a constant prefix. */
static const uint8_t spki_p256[] = {
	0x30, 0x59, 0x30, 0x13,
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,       /* 1.2.840.10045.2.1 */
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, /* prime256v1 */
	0x03, 0x42, 0x00,
};
static const uint8_t spki_p384[] = {
	0x30, 0x76, 0x30, 0x10,
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,       /* 1.2.840.10045.2.1 */
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,                   /* secp384r1 */
	0x03, 0x62, 0x00,
};

static const uint8_t *spki_prefix(ahv_curve curve, size_t *len)
{
	switch (curve) {
	case AHV_CURVE_P256: *len = sizeof(spki_p256); return spki_p256;
	case AHV_CURVE_P384: *len = sizeof(spki_p384); return spki_p384;
	}
	*len = 0;
	return NULL;
}

int ahv_spki_write_der(const ahv_ec_pub *pub, uint8_t *der, size_t cap, size_t *len)
{
	size_t plen, n;
	const uint8_t *prefix;

	if (!pub || !der || !len)
		return AHV_CRYPTO_EINVAL;
	prefix = spki_prefix((ahv_curve)pub->curve, &plen);
	n = ahv_curve_size((ahv_curve)pub->curve);
	if (!prefix || pub->point_len != 1 + 2 * n || pub->point[0] != 0x04)
		return AHV_CRYPTO_EBADKEY;
	if (cap < plen + pub->point_len)
		return AHV_CRYPTO_EBUFSIZE;
	memcpy(der, prefix, plen);
	memcpy(der + plen, pub->point, pub->point_len);
	*len = plen + pub->point_len;
	return AHV_CRYPTO_OK;
}

int ahv_spki_read_der(const uint8_t *der, size_t len, ahv_ec_pub *pub)
{
	static const ahv_curve curves[] = { AHV_CURVE_P256, AHV_CURVE_P384 };
	ahv_ec_pub k;

	if (!der || !pub)
		return AHV_CRYPTO_EINVAL;
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		size_t plen, n = ahv_curve_size(curves[i]);
		const uint8_t *prefix = spki_prefix(curves[i], &plen);

		if (len != plen + 1 + 2 * n || memcmp(der, prefix, plen) != 0)
			continue;
		memset(&k, 0, sizeof(k));
		k.curve = curves[i];
		k.point_len = (uint32_t)(1 + 2 * n);
		memcpy(k.point, der + plen, k.point_len);
		if (ahv_ec_pub_check(&k) != AHV_CRYPTO_OK)
			return AHV_CRYPTO_EBADKEY;
		*pub = k;
		return AHV_CRYPTO_OK;
	}
	return AHV_CRYPTO_EFORMAT;
}

static const char pem_begin[] = "-----BEGIN PUBLIC KEY-----";
static const char pem_end[] = "-----END PUBLIC KEY-----";
#define PEM_LINE 64

int ahv_spki_write_pem(const ahv_ec_pub *pub, char *pem, size_t cap, size_t *len)
{
	uint8_t der[AHV_SPKI_MAX_DER];
	unsigned char b64[((AHV_SPKI_MAX_DER + 2) / 3) * 4 + 1];
	char out[AHV_SPKI_MAX_PEM];
	size_t der_len, b64_len, o = 0;
	int rc = ahv_spki_write_der(pub, der, sizeof(der), &der_len);

	if (rc != AHV_CRYPTO_OK)
		return rc;
	if (!pem || !len)
		return AHV_CRYPTO_EINVAL;
	if (mbedtls_base64_encode(b64, sizeof(b64), &b64_len, der, der_len))
		return AHV_CRYPTO_EINTERNAL;
	memcpy(out, pem_begin, sizeof(pem_begin) - 1);
	o = sizeof(pem_begin) - 1;
	out[o++] = '\n';
	for (size_t i = 0; i < b64_len; i += PEM_LINE) {
		size_t n = b64_len - i < PEM_LINE ? b64_len - i : PEM_LINE;
		memcpy(out + o, b64 + i, n);
		o += n;
		out[o++] = '\n';
	}
	memcpy(out + o, pem_end, sizeof(pem_end) - 1);
	o += sizeof(pem_end) - 1;
	out[o++] = '\n';
	if (cap < o + 1)
		return AHV_CRYPTO_EBUFSIZE;
	memcpy(pem, out, o);
	pem[o] = '\0';
	*len = o;
	return AHV_CRYPTO_OK;
}

static const char *find(const char *hay, size_t hay_len, const char *needle, size_t n)
{
	for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return hay + i;
	return NULL;
}

int ahv_spki_read_pem(const char *pem, size_t len, ahv_ec_pub *pub)
{
	unsigned char b64[AHV_SPKI_MAX_PEM];
	uint8_t der[AHV_SPKI_MAX_DER];
	size_t b = 0, der_len = 0;
	const char *s, *e;

	if (!pem || !pub)
		return AHV_CRYPTO_EINVAL;
	s = find(pem, len, pem_begin, sizeof(pem_begin) - 1);
	if (!s)
		return AHV_CRYPTO_EFORMAT;
	s += sizeof(pem_begin) - 1;
	e = find(s, len - (size_t)(s - pem), pem_end, sizeof(pem_end) - 1);
	if (!e)
		return AHV_CRYPTO_EFORMAT;
	for (; s < e; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			continue;
		if (b == sizeof(b64))
			return AHV_CRYPTO_EFORMAT;
		b64[b++] = (unsigned char)*s;
	}
	if (mbedtls_base64_decode(der, sizeof(der), &der_len, b64, b))
		return AHV_CRYPTO_EFORMAT;
	return ahv_spki_read_der(der, der_len, pub);
}

int ahv_spki_key_id(const ahv_ec_pub *pub, uint8_t id[32])
{
	uint8_t der[AHV_SPKI_MAX_DER];
	size_t len;
	int rc = ahv_spki_write_der(pub, der, sizeof(der), &len);

	if (rc != AHV_CRYPTO_OK)
		return rc;
	if (!id)
		return AHV_CRYPTO_EINVAL;
	return ahv_hash(AHV_HASH_SHA256, der, len, id);
}
