/* keys.c - guest keys: file and TPM signers, key generation, key ids, the
 * raw r||s <-> DER conversion and ECDSA verification. OpenSSL 3. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "internal.h"

uint32_t ahvl_key_sig_alg(const EVP_PKEY *k)
{
	char group[64];
	size_t gl = 0;
	if (!k || !EVP_PKEY_is_a(k, "EC"))
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
					    sizeof group, &gl)) {
		ERR_clear_error();
		/* Provider keys (tpm2) may not export the name: go by size. */
		int bits = EVP_PKEY_get_bits(k);
		return bits == 256 ? AHV_SIG_ECDSA_P256_SHA256
		       : bits == 384 ? AHV_SIG_ECDSA_P384_SHA384 : 0;
	}
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256") ||
	    !strcmp(group, "secp256r1"))
		return AHV_SIG_ECDSA_P256_SHA256;
	if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
		return AHV_SIG_ECDSA_P384_SHA384;
	return 0;
}

/* DER SPKI of the public half, uncompressed point (protocol.md §8.2). */
static int spki_der(const EVP_PKEY *k, uint8_t **der, size_t *len)
{
	uint8_t pt[133];
	size_t ptlen = 0;
	uint32_t alg = ahvl_key_sig_alg(k);
	if (!alg)
		return ahvl_fail(AHVL_E_KEY, "not an ECDSA P-256/P-384 key");
	if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt,
					     sizeof pt, &ptlen))
		return ahvl_fail_ssl(AHVL_E_KEY, "cannot export the public key");
	/* Rebuild the public key in the default provider: provider keys (TPM)
	 * and compressed encodings both end up as a plain uncompressed SPKI. */
	OSSL_PARAM ps[4] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 alg == AHV_SIG_ECDSA_P256_SHA256 ? "prime256v1" : "secp384r1", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen),
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
						 "uncompressed", 0),
		OSSL_PARAM_END};
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pub = NULL;
	if (!pc || EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &pub, EVP_PKEY_PUBLIC_KEY, ps) != 1)
		pub = NULL;
	EVP_PKEY_CTX_free(pc);
	unsigned char *out = NULL;
	int n = pub ? i2d_PUBKEY(pub, &out) : -1;
	EVP_PKEY_free(pub);
	if (n <= 0)
		return ahvl_fail_ssl(AHVL_E_KEY, "cannot encode the public key");
	*der = malloc((size_t)n);
	if (!*der) {
		OPENSSL_free(out);
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	memcpy(*der, out, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(out);
	return AHVL_OK;
}

int ahvl_key_id(const EVP_PKEY *k, uint8_t id[AHV_KEY_ID_SIZE])
{
	uint8_t *der;
	size_t len;
	int rc = spki_der(k, &der, &len);
	if (rc)
		return rc;
	rc = ahvl_digest(AHV_WIRE_HASH_SHA256, der, len, id);
	free(der);
	return rc;
}

int ahvl_load_pub(const uint8_t *buf, size_t len, EVP_PKEY **out)
{
	EVP_PKEY *k = NULL;
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	if (!b)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	if (len > 10 && !memcmp(buf, "-----BEGIN", 10))
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	else {
		const unsigned char *p = buf;
		k = d2i_PUBKEY(NULL, &p, (long)len);
	}
	BIO_free(b);
	if (!k)
		return ahvl_fail_ssl(AHVL_E_KEY, "not a PEM or DER SubjectPublicKeyInfo");
	if (!ahvl_key_sig_alg(k)) {
		EVP_PKEY_free(k);
		return ahvl_fail(AHVL_E_KEY, "public key is not ECDSA P-256 or P-384");
	}
	*out = k;
	return AHVL_OK;
}

int ahvl_sig_raw_to_der(const uint8_t *raw, size_t half, uint8_t **der,
			size_t *der_len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)half, NULL), *ss = BN_bin2bn(raw + half, (int)half, NULL);
	if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
		ECDSA_SIG_free(s);
		BN_free(r);
		BN_free(ss);
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	unsigned char *o = NULL;
	int n = i2d_ECDSA_SIG(s, &o);
	ECDSA_SIG_free(s);
	if (n <= 0)
		return ahvl_fail_ssl(AHVL_E_INTERNAL, "cannot encode signature");
	*der = malloc((size_t)n);
	if (!*der) {
		OPENSSL_free(o);
		return AHVL_E_NOMEM;
	}
	memcpy(*der, o, (size_t)n);
	*der_len = (size_t)n;
	OPENSSL_free(o);
	return AHVL_OK;
}

int ahvl_sig_der_to_raw(const uint8_t *der, size_t der_len, size_t half,
			uint8_t *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!s)
		return ahvl_fail_ssl(AHVL_E_SIGN, "signer returned a malformed signature");
	const BIGNUM *r, *ss;
	ECDSA_SIG_get0(s, &r, &ss);
	int ok = BN_bn2binpad(r, raw, (int)half) == (int)half &&
		 BN_bn2binpad(ss, raw + half, (int)half) == (int)half;
	ECDSA_SIG_free(s);
	return ok ? AHVL_OK : ahvl_fail(AHVL_E_SIGN, "signature values too large");
}

static const char *sig_md(uint32_t sig_alg)
{
	return sig_alg == AHV_SIG_ECDSA_P384_SHA384 ? "SHA384" : "SHA256";
}

int ahvl_ecdsa_verify(EVP_PKEY *k, uint32_t sig_alg, const uint8_t *msg,
		      size_t len, const uint8_t *raw_sig)
{
	size_t half = ahv_wire_sig_size(sig_alg) / 2;
	uint8_t *der;
	size_t dl;
	if (!half)
		return ahvl_fail(AHVL_E_FORMAT, "unknown signature algorithm %u", sig_alg);
	int rc = ahvl_sig_raw_to_der(raw_sig, half, &der, &dl);
	if (rc)
		return rc;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	int v = mc && EVP_DigestVerifyInit_ex(mc, NULL, sig_md(sig_alg), NULL,
					      NULL, k, NULL) == 1
			? EVP_DigestVerify(mc, der, dl, msg, len)
			: -1;
	EVP_MD_CTX_free(mc);
	free(der);
	ERR_clear_error();
	if (v == 1)
		return AHVL_OK;
	return ahvl_fail(AHVL_E_BAD_SIGNATURE, "ECDSA signature does not verify");
}

int ahvl_signer_sign(const ahvl_signer *s, const uint8_t *msg, size_t len,
		     uint8_t *raw_sig)
{
	size_t half = ahv_wire_sig_size(s->sig_alg) / 2;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	uint8_t der[160];
	size_t dl = sizeof der;
	int ok = mc && EVP_DigestSignInit_ex(mc, NULL, sig_md(s->sig_alg),
					     s->libctx, NULL, s->pkey, NULL) == 1 &&
		 EVP_DigestSign(mc, der, &dl, msg, len) == 1;
	EVP_MD_CTX_free(mc);
	if (!ok)
		return ahvl_fail_ssl(s->libctx ? AHVL_E_TPM : AHVL_E_SIGN,
				     "ECDSA signing failed");
	return ahvl_sig_der_to_raw(der, dl, half, raw_sig);
}

/* ---- signers ----------------------------------------------------------- */
static int finish_signer(ahvl_signer *s, ahvl_signer **out)
{
	s->sig_alg = ahvl_key_sig_alg(s->pkey);
	if (!s->sig_alg) {
		ahvl_signer_free(s);
		return ahvl_fail(AHVL_E_KEY, "the key is not ECDSA P-256 or P-384");
	}
	*out = s;
	return AHVL_OK;
}

int ahvl_signer_from_file(ahvl_signer **out, const char *path,
			  const char *passphrase)
{
	uint8_t *buf;
	size_t len;
	if (!out || !path)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	*out = NULL;
	int rc = ahvl_read_file(path, 1u << 20, &buf, &len);
	if (rc)
		return rc == AHVL_E_NOMEM ? rc : AHVL_E_KEY;
	EVP_PKEY *k = NULL;
	OSSL_DECODER_CTX *dc = OSSL_DECODER_CTX_new_for_pkey(
		&k, NULL, NULL, "EC", OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (dc && passphrase)
		OSSL_DECODER_CTX_set_passphrase(dc, (const unsigned char *)passphrase,
						strlen(passphrase));
	const unsigned char *p = buf;
	size_t left = len;
	int ok = dc && OSSL_DECODER_from_data(dc, &p, &left) == 1 && k;
	OSSL_DECODER_CTX_free(dc);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (!ok) {
		EVP_PKEY_free(k);
		return ahvl_fail_ssl(AHVL_E_KEY, "%s: not an EC private key (PEM/DER)%s",
				     path, passphrase ? "" : " or it is encrypted");
	}
	ahvl_signer *s = calloc(1, sizeof *s);
	if (!s) {
		EVP_PKEY_free(k);
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	s->pkey = k;
	return finish_signer(s, out);
}

/* A private OpenSSL library context with the tpm2 and default providers.
 * tpm2-openssl 1.1 takes its TCTI only from TPM2OPENSSL_TCTI, read once when
 * the provider starts: the variable is set for the duration of the load and
 * then restored (so this call must not race other threads' getenv/setenv of
 * that variable; documented in attest.h). */
static int tpm_ctx(ahvl_signer *s, const char *tcti)
{
	/* The TSS libraries log to stderr by default; a library prints
	 * nothing unless asked, so they are silenced unless the caller set
	 * TSS2_LOG itself. */
	setenv("TSS2_LOG", "all+NONE", 0);
	s->libctx = OSSL_LIB_CTX_new();
	if (!s->libctx)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	char *old = NULL;
	if (tcti) {
		const char *o = getenv("TPM2OPENSSL_TCTI");
		if (o && !(old = strdup(o)))
			return ahvl_fail(AHVL_E_NOMEM, "out of memory");
		setenv("TPM2OPENSSL_TCTI", tcti, 1);
	}
	s->prov[0] = OSSL_PROVIDER_load(s->libctx, "tpm2");
	if (tcti) {
		if (old)
			setenv("TPM2OPENSSL_TCTI", old, 1);
		else
			unsetenv("TPM2OPENSSL_TCTI");
		free(old);
	}
	if (!s->prov[0])
		return ahvl_fail_ssl(AHVL_E_TPM,
				     "cannot start the tpm2 provider (is tpm2-openssl installed and the TPM%s%s reachable?)",
				     tcti ? " at " : "", tcti ? tcti : "");
	s->prov[1] = OSSL_PROVIDER_load(s->libctx, "default");
	if (!s->prov[1])
		return ahvl_fail_ssl(AHVL_E_TPM, "cannot load the default provider");
	return AHVL_OK;
}

int ahvl_signer_from_tpm(ahvl_signer **out, const char *key, const char *tcti)
{
	if (!out || !key)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	*out = NULL;
	ahvl_signer *s = calloc(1, sizeof *s);
	if (!s)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	int rc = tpm_ctx(s, tcti);
	if (rc) {
		ahvl_signer_free(s);
		return rc;
	}
	/* Key files are handed to the store as "file:" URIs; the tpm2 provider
	 * also understands "handle:0x81..." and "object:..." itself. */
	char *uri = NULL;
	if (strncmp(key, "handle:", 7) && strncmp(key, "object:", 7) &&
	    strncmp(key, "file:", 5)) {
		size_t n = strlen(key) + 8;
		uri = malloc(n);
		if (!uri) {
			ahvl_signer_free(s);
			return ahvl_fail(AHVL_E_NOMEM, "out of memory");
		}
		snprintf(uri, n, "file:%s", key);
		if (access(key, R_OK)) {
			free(uri);
			ahvl_signer_free(s);
			return ahvl_fail(AHVL_E_KEY, "cannot read %s: %s", key, strerror(errno));
		}
	}
	OSSL_STORE_CTX *st = OSSL_STORE_open_ex(uri ? uri : key, s->libctx,
						"?provider=tpm2", NULL, NULL,
						NULL, NULL, NULL);
	free(uri);
	while (st && !s->pkey && !OSSL_STORE_eof(st)) {
		OSSL_STORE_INFO *i = OSSL_STORE_load(st);
		if (i && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY)
			s->pkey = OSSL_STORE_INFO_get1_PKEY(i);
		OSSL_STORE_INFO_free(i);
		if (!i)
			break;
	}
	OSSL_STORE_close(st);
	if (!s->pkey) {
		ahvl_signer_free(s);
		return ahvl_fail_ssl(AHVL_E_TPM, "cannot load TPM key %s", key);
	}
	ERR_clear_error();
	return finish_signer(s, out);
}

void ahvl_signer_free(ahvl_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->pkey);
	for (int i = 0; i < 2; i++)
		if (s->prov[i])
			OSSL_PROVIDER_unload(s->prov[i]);
	OSSL_LIB_CTX_free(s->libctx);
	free(s);
}

uint32_t ahvl_signer_sig_alg(const ahvl_signer *s)
{
	return s ? s->sig_alg : 0;
}

int ahvl_signer_key_id(const ahvl_signer *s, uint8_t id[AHV_KEY_ID_SIZE])
{
	if (!s || !id)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	return ahvl_key_id(s->pkey, id);
}

int ahvl_signer_public_pem(const ahvl_signer *s, char **pem)
{
	uint8_t *der;
	size_t len;
	if (!s || !pem)
		return ahvl_fail(AHVL_E_INVALID, "NULL argument");
	int rc = spki_der(s->pkey, &der, &len);
	if (rc)
		return rc;
	char *b = ahvl_b64(der, len, false);
	free(der);
	if (!b)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	size_t bl = strlen(b);
	char *o = malloc(bl + bl / 64 + 64), *p = o;
	if (!o) {
		free(b);
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	}
	p += sprintf(p, "-----BEGIN PUBLIC KEY-----\n");
	for (size_t i = 0; i < bl; i += 64)
		p += sprintf(p, "%.64s\n", b + i);
	sprintf(p, "-----END PUBLIC KEY-----\n");
	free(b);
	*pem = o;
	return AHVL_OK;
}

/* ---- key generation ------------------------------------------------------ */
static const char *group_of(uint32_t alg)
{
	return alg == AHV_SIG_ECDSA_P256_SHA256   ? "P-256"
	       : alg == AHV_SIG_ECDSA_P384_SHA384 ? "P-384"
						  : NULL;
}

static FILE *create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ahvl_fail(AHVL_E_IO, "cannot create %s: %s", path, strerror(errno));
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		ahvl_fail(AHVL_E_IO, "fdopen %s: %s", path, strerror(errno));
	}
	return f;
}

static int write_key(EVP_PKEY *k, const char *path, const char *propq)
{
	FILE *f = create_private(path);
	if (!f)
		return AHVL_E_IO;
	OSSL_ENCODER_CTX *ec = OSSL_ENCODER_CTX_new_for_pkey(
		k, OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", NULL, propq);
	BIO *b = BIO_new_fp(f, BIO_NOCLOSE);
	int ok = ec && b && OSSL_ENCODER_CTX_get_num_encoders(ec) > 0 &&
		 OSSL_ENCODER_to_bio(ec, b) == 1;
	BIO_free(b);
	OSSL_ENCODER_CTX_free(ec);
	if (fclose(f))
		ok = 0;
	if (!ok) {
		unlink(path);
		return ahvl_fail_ssl(AHVL_E_IO, "cannot write the key to %s", path);
	}
	return AHVL_OK;
}

int ahvl_keygen_file(const char *priv_path, uint32_t curve_sig_alg)
{
	const char *g = group_of(curve_sig_alg);
	if (!priv_path || !g)
		return ahvl_fail(AHVL_E_INVALID, "bad path or curve");
	EVP_PKEY *k = EVP_EC_gen(g);
	if (!k)
		return ahvl_fail_ssl(AHVL_E_INTERNAL, "EC key generation failed");
	int rc = write_key(k, priv_path, NULL);
	EVP_PKEY_free(k);
	return rc;
}

int ahvl_keygen_tpm(const char *priv_path, uint32_t curve_sig_alg,
		    const char *tcti)
{
	const char *g = group_of(curve_sig_alg);
	if (!priv_path || !g)
		return ahvl_fail(AHVL_E_INVALID, "bad path or curve");
	ahvl_signer *s = calloc(1, sizeof *s);
	if (!s)
		return ahvl_fail(AHVL_E_NOMEM, "out of memory");
	int rc = tpm_ctx(s, tcti);
	EVP_PKEY *k = NULL;
	if (!rc) {
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(s->libctx, "EC",
							     "provider=tpm2");
		OSSL_PARAM p[2] = {
			OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
							 (char *)g, 0),
			OSSL_PARAM_END};
		if (!pc || EVP_PKEY_keygen_init(pc) != 1 ||
		    EVP_PKEY_CTX_set_params(pc, p) != 1 ||
		    EVP_PKEY_generate(pc, &k) != 1)
			rc = ahvl_fail_ssl(AHVL_E_TPM, "TPM key generation failed");
		EVP_PKEY_CTX_free(pc);
	}
	if (!rc)
		rc = write_key(k, priv_path, "provider=tpm2");
	EVP_PKEY_free(k);
	ahvl_signer_free(s);
	return rc;
}
