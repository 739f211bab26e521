/*
 * ecdsa.c - ECDSA (FIPS 186-5) on P-256 and P-384 over mbedTLS's ECP module,
 * with keys and signatures as plain bytes. P-256 verification is ours
 * (p256.c, variable time: public data only); signing stays with mbedTLS.
 */
#include <string.h>
#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/bignum.h"
#include "ahv/crypto.h"
#include "drbg_internal.h"
#include "p256.h"

size_t ahv_curve_size(ahv_curve curve)
{
	switch (curve) {
	case AHV_CURVE_P256: return 32;
	case AHV_CURVE_P384: return 48;
	}
	return 0;
}

static int load_group(mbedtls_ecp_group *grp, ahv_curve curve)
{
	mbedtls_ecp_group_id id = curve == AHV_CURVE_P256 ? MBEDTLS_ECP_DP_SECP256R1 :
				  curve == AHV_CURVE_P384 ? MBEDTLS_ECP_DP_SECP384R1 :
				  MBEDTLS_ECP_DP_NONE;

	if (id == MBEDTLS_ECP_DP_NONE)
		return AHV_CRYPTO_EINVAL;
	return mbedtls_ecp_group_load(grp, id) ? AHV_CRYPTO_ENOMEM : AHV_CRYPTO_OK;
}

static int map_err(int rc)
{
	switch (rc) {
	case 0: return AHV_CRYPTO_OK;
	case MBEDTLS_ERR_MPI_ALLOC_FAILED:
	case MBEDTLS_ERR_ECP_ALLOC_FAILED: return AHV_CRYPTO_ENOMEM;
	case MBEDTLS_ERR_ECP_VERIFY_FAILED: return AHV_CRYPTO_EBADSIG;
	case MBEDTLS_ERR_ECP_INVALID_KEY: return AHV_CRYPTO_EBADKEY;
	case MBEDTLS_ERR_ECP_RANDOM_FAILED: return AHV_CRYPTO_ENOENTROPY;
	case MBEDTLS_ERR_ECP_BAD_INPUT_DATA:
	case MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE: return AHV_CRYPTO_EBADKEY;
	}
	return AHV_CRYPTO_EINTERNAL;
}

/* Public point from bytes, checked to lie on the curve (SEC 1 3.2.2.1). */
static int load_pub(const mbedtls_ecp_group *grp, const ahv_ec_pub *pub, mbedtls_ecp_point *q)
{
	size_t n = ahv_curve_size((ahv_curve)pub->curve);

	if (pub->point_len != 1 + 2 * n || pub->point[0] != 0x04)
		return AHV_CRYPTO_EBADKEY;
	if (mbedtls_ecp_point_read_binary(grp, q, pub->point, pub->point_len))
		return AHV_CRYPTO_EBADKEY;
	return mbedtls_ecp_check_pubkey(grp, q) ? AHV_CRYPTO_EBADKEY : AHV_CRYPTO_OK;
}

static int store_key(const mbedtls_ecp_group *grp, ahv_curve curve, const mbedtls_mpi *d,
		     const mbedtls_ecp_point *q, ahv_ec_key *key)
{
	size_t n = ahv_curve_size(curve), olen = 0;
	ahv_ec_key k;

	memset(&k, 0, sizeof(k));
	k.pub.curve = curve;
	if (mbedtls_mpi_write_binary(d, k.d, n) ||
	    mbedtls_ecp_point_write_binary(grp, q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
					   k.pub.point, sizeof(k.pub.point)) ||
	    olen != 1 + 2 * n) {
		ahv_ec_key_wipe(&k);
		return AHV_CRYPTO_EINTERNAL;
	}
	k.pub.point_len = (uint32_t)olen;
	*key = k;
	ahv_ec_key_wipe(&k);
	return AHV_CRYPTO_OK;
}

int ahv_ec_keygen(ahv_curve curve, ahv_drbg *rng, ahv_ec_key *key)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point q;
	int rc;

	if (!rng || !key)
		return AHV_CRYPTO_EINVAL;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&q);
	rc = load_group(&grp, curve);
	if (rc == AHV_CRYPTO_OK)
		rc = map_err(mbedtls_ecp_gen_keypair(&grp, &d, &q, ahv_drbg_rng, rng));
	if (rc == AHV_CRYPTO_OK)
		rc = store_key(&grp, curve, &d, &q, key);
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int ahv_ec_key_from_private(ahv_curve curve, const uint8_t *dbytes, size_t d_len,
			    ahv_drbg *rng, ahv_ec_key *key)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point q;
	int rc;

	if (!dbytes || !rng || !key || d_len != ahv_curve_size(curve))
		return AHV_CRYPTO_EINVAL;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&q);
	rc = load_group(&grp, curve);
	if (rc == AHV_CRYPTO_OK && mbedtls_mpi_read_binary(&d, dbytes, d_len))
		rc = AHV_CRYPTO_ENOMEM;
	/* 1 <= d <= n-1 (SEC 1 3.2.1). */
	if (rc == AHV_CRYPTO_OK && mbedtls_ecp_check_privkey(&grp, &d))
		rc = AHV_CRYPTO_EBADKEY;
	if (rc == AHV_CRYPTO_OK)
		rc = map_err(mbedtls_ecp_mul(&grp, &q, &d, &grp.G, ahv_drbg_rng, rng));
	if (rc == AHV_CRYPTO_OK)
		rc = store_key(&grp, curve, &d, &q, key);
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int ahv_ec_pub_check(const ahv_ec_pub *pub)
{
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	int rc;

	if (!pub)
		return AHV_CRYPTO_EINVAL;
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	rc = load_group(&grp, (ahv_curve)pub->curve);
	if (rc == AHV_CRYPTO_EINVAL)
		rc = AHV_CRYPTO_EBADKEY;
	if (rc == AHV_CRYPTO_OK)
		rc = load_pub(&grp, pub, &q);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

void ahv_ec_key_wipe(ahv_ec_key *key)
{
	if (key)
		ahv_wipe(key, sizeof(*key));
}

int ahv_ecdsa_sign_raw(const ahv_ec_key *key, ahv_drbg *rng, const uint8_t *digest,
		       size_t digest_len, uint8_t *sig, size_t sig_cap, size_t *sig_len)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d, r, s;
	size_t n;
	int rc;

	if (!key || !rng || !digest || !digest_len || !sig || !sig_len)
		return AHV_CRYPTO_EINVAL;
	n = ahv_curve_size((ahv_curve)key->pub.curve);
	if (!n)
		return AHV_CRYPTO_EINVAL;
	if (sig_cap < 2 * n)
		return AHV_CRYPTO_EBUFSIZE;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	rc = load_group(&grp, (ahv_curve)key->pub.curve);
	if (rc == AHV_CRYPTO_OK && mbedtls_mpi_read_binary(&d, key->d, n))
		rc = AHV_CRYPTO_ENOMEM;
	if (rc == AHV_CRYPTO_OK && mbedtls_ecp_check_privkey(&grp, &d))
		rc = AHV_CRYPTO_EBADKEY;
	if (rc == AHV_CRYPTO_OK)
		rc = map_err(mbedtls_ecdsa_sign(&grp, &r, &s, &d, digest, digest_len,
						ahv_drbg_rng, rng));
	if (rc == AHV_CRYPTO_OK &&
	    (mbedtls_mpi_write_binary(&r, sig, n) || mbedtls_mpi_write_binary(&s, sig + n, n)))
		rc = AHV_CRYPTO_EINTERNAL;
	if (rc == AHV_CRYPTO_OK)
		*sig_len = 2 * n;
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int ahv_ecdsa_verify_raw(const ahv_ec_pub *pub, const uint8_t *digest, size_t digest_len,
			 const uint8_t *sig, size_t sig_len)
{
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_mpi r, s;
	size_t n;
	int rc;

	if (!pub || !digest || !digest_len || !sig)
		return AHV_CRYPTO_EINVAL;
	n = ahv_curve_size((ahv_curve)pub->curve);
	if (!n)
		return AHV_CRYPTO_EBADKEY;
	if (sig_len != 2 * n)
		return AHV_CRYPTO_EBADSIG;
	/* P-256: our variable-time verifier (p256.c); public data only. It
	 * checks the point as load_pub() does (SEC 1 3.2.2.1). */
	if (pub->curve == AHV_CURVE_P256) {
		if (pub->point_len != 65)
			return AHV_CRYPTO_EBADKEY;
		return ahv_p256_verify(pub->point, digest, digest_len, sig);
	}
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	rc = load_group(&grp, (ahv_curve)pub->curve);
	if (rc == AHV_CRYPTO_OK)
		rc = load_pub(&grp, pub, &q);
	if (rc == AHV_CRYPTO_OK &&
	    (mbedtls_mpi_read_binary(&r, sig, n) || mbedtls_mpi_read_binary(&s, sig + n, n)))
		rc = AHV_CRYPTO_ENOMEM;
	if (rc == AHV_CRYPTO_OK) {
		/* Any failure of the check itself (r or s out of range included)
		 * is a bad signature (FIPS 186-5 6.4.2 step 1). */
		int v = mbedtls_ecdsa_verify(&grp, digest, digest_len, &q, &r, &s);
		rc = v == 0 ? AHV_CRYPTO_OK :
		     (v == MBEDTLS_ERR_MPI_ALLOC_FAILED || v == MBEDTLS_ERR_ECP_ALLOC_FAILED) ?
		     AHV_CRYPTO_ENOMEM : AHV_CRYPTO_EBADSIG;
	}
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int ahv_ecdsa_sign_der(const ahv_ec_key *key, ahv_drbg *rng, const uint8_t *digest,
		       size_t digest_len, uint8_t *sig, size_t sig_cap, size_t *sig_len)
{
	uint8_t raw[AHV_EC_MAX_SIG_RAW];
	size_t raw_len = 0;
	int rc = ahv_ecdsa_sign_raw(key, rng, digest, digest_len, raw, sizeof(raw), &raw_len);

	if (rc == AHV_CRYPTO_OK)
		rc = ahv_ecdsa_sig_raw_to_der((ahv_curve)key->pub.curve, raw, raw_len, sig,
					      sig_cap, sig_len);
	return rc;
}

int ahv_ecdsa_verify_der(const ahv_ec_pub *pub, const uint8_t *digest, size_t digest_len,
			 const uint8_t *sig, size_t sig_len)
{
	uint8_t raw[AHV_EC_MAX_SIG_RAW];
	size_t raw_len = 0;
	int rc;

	if (!pub)
		return AHV_CRYPTO_EINVAL;
	rc = ahv_ecdsa_sig_der_to_raw((ahv_curve)pub->curve, sig, sig_len, raw, sizeof(raw),
				      &raw_len);
	if (rc == AHV_CRYPTO_EFORMAT)
		return AHV_CRYPTO_EBADSIG;
	if (rc != AHV_CRYPTO_OK)
		return rc;
	return ahv_ecdsa_verify_raw(pub, digest, digest_len, raw, raw_len);
}
