/* MakeCredential in software (tpm_credential.h). Every step cites TPM 2.0
 * Part 1 s24 "Credential Protection" (s24.4 symmetric encryption, s24.5
 * HMAC) and Annex B.10.3 (RSA-OAEP secret sharing). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "tpm_credential.h"
#include "vutil.h"

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int v_kdfa_sha256(const uint8_t *key, size_t key_len, const char *label,
		  const uint8_t *ctx_u, size_t u_len, const uint8_t *ctx_v,
		  size_t v_len, unsigned bits, uint8_t *out)
{
	size_t want = bits / 8, done = 0;
	uint8_t cnt[4], lb[4], h[32];
	be32(lb, bits);
	for (uint32_t i = 1; done < want; i++) {
		unsigned hl = 0;
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
		OSSL_PARAM prm[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
				    OSSL_PARAM_construct_end()};
		size_t ol = 0;
		be32(cnt, i);
		/* the label's terminating NUL is part of the input (s11.4.10.2) */
		int ok = c && EVP_MAC_init(c, key, key_len, prm) == 1 && EVP_MAC_update(c, cnt, 4) == 1 &&
			 EVP_MAC_update(c, (const uint8_t *)label, strlen(label) + 1) == 1 &&
			 (!u_len || EVP_MAC_update(c, ctx_u, u_len) == 1) &&
			 (!v_len || EVP_MAC_update(c, ctx_v, v_len) == 1) && EVP_MAC_update(c, lb, 4) == 1 &&
			 EVP_MAC_final(c, h, &ol, sizeof h) == 1 && ol == 32;
		EVP_MAC_CTX_free(c);
		EVP_MAC_free(mac);
		if (!ok)
			return -1;
		hl = (unsigned)(want - done < 32 ? want - done : 32);
		memcpy(out + done, h, hl);
		done += hl;
	}
	return 0;
}

/* seed -> TPM2B_ENCRYPTED_SECRET: RSA-OAEP with SHA-256 (the EK's nameAlg)
 * and the label "IDENTITY" with its NUL (Part 1 B.10.3, s24.1). */
static int oaep_seed(EVP_PKEY *ek, const uint8_t *seed, size_t n, uint8_t *out, size_t *out_len)
{
	static const char label[] = "IDENTITY";
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
	int ok = 0;
	if (c && EVP_PKEY_encrypt_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) == 1 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) == 1) {
		void *l = OPENSSL_memdup(label, sizeof label);
		int owned = l && EVP_PKEY_CTX_set0_rsa_oaep_label(c, l, (int)sizeof label) == 1;
		if (!owned) /* on success the context owns it */
			OPENSSL_free(l);
		ok = owned && EVP_PKEY_encrypt(c, out, out_len, seed, n) == 1;
	}
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

int v_make_credential(EVP_PKEY *ek, const uint8_t *name, size_t name_len,
		      const uint8_t *secret, size_t secret_len, uint8_t *out,
		      size_t cap, size_t *out_len, char *err, size_t errlen)
{
	uint8_t seed[32], sym[16], hkey[32], iv[16] = {0}, cv[2 + 64], enc[2 + 64], hm[32];
	uint8_t es[512];
	size_t es_len = sizeof es;
	int ok = 0, el = 0, fl = 0;
	unsigned hl = 0;

	if (EVP_PKEY_get_base_id(ek) != EVP_PKEY_RSA || EVP_PKEY_get_bits(ek) != 2048 || secret_len > 64 ||
	    !name_len || name_len > 2 + 64) {
		snprintf(err, errlen, "MakeCredential: an RSA 2048 EK and a secret of at most 64 bytes are required");
		return -1;
	}
	/* s24.1: the seed, as many octets as the EK's nameAlg digest */
	if (v_random(seed, sizeof seed) || oaep_seed(ek, seed, sizeof seed, es, &es_len)) {
		snprintf(err, errlen, "MakeCredential: cannot encrypt the seed to the EK");
		goto out;
	}
	/* s24.4: symKey = KDFa(nameAlg, seed, "STORAGE", Name, NULL, 128 (AES-128 of the EK)),
	 * encIdentity = CFB(symKey, IV 0, TPM2B_DIGEST credential) */
	cv[0] = (uint8_t)(secret_len >> 8);
	cv[1] = (uint8_t)secret_len;
	memcpy(cv + 2, secret, secret_len);
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	ok = !v_kdfa_sha256(seed, sizeof seed, "STORAGE", name, name_len, NULL, 0, 128, sym) && cc &&
	     EVP_EncryptInit_ex(cc, EVP_aes_128_cfb128(), NULL, sym, iv) == 1 &&
	     EVP_EncryptUpdate(cc, enc, &el, cv, (int)(2 + secret_len)) == 1 &&
	     EVP_EncryptFinal_ex(cc, enc + el, &fl) == 1;
	EVP_CIPHER_CTX_free(cc);
	el += fl;
	/* s24.5: HMACkey = KDFa(nameAlg, seed, "INTEGRITY", NULL, NULL, 256),
	 * outerHMAC = HMAC(HMACkey, encIdentity || Name) */
	if (ok) {
		uint8_t hin[2 + 64 + 2 + 64];
		memcpy(hin, enc, (size_t)el);
		memcpy(hin + el, name, name_len);
		ok = !v_kdfa_sha256(seed, sizeof seed, "INTEGRITY", NULL, 0, NULL, 0, 256, hkey) &&
		     HMAC(EVP_sha256(), hkey, sizeof hkey, hin, (size_t)el + name_len, hm, &hl) && hl == 32;
	}
	/* TPM2B_ID_OBJECT { TPM2B_DIGEST integrityHMAC || encIdentity } || TPM2B_ENCRYPTED_SECRET */
	size_t idl = 2 + 32 + (size_t)el, need = 2 + idl + 2 + es_len;
	if (!ok || need > cap) {
		snprintf(err, errlen, "MakeCredential failed");
		ok = 0;
		goto out;
	}
	uint8_t *p = out;
	*p++ = (uint8_t)(idl >> 8);
	*p++ = (uint8_t)idl;
	*p++ = 0;
	*p++ = 32;
	memcpy(p, hm, 32);
	p += 32;
	memcpy(p, enc, (size_t)el);
	p += el;
	*p++ = (uint8_t)(es_len >> 8);
	*p++ = (uint8_t)es_len;
	memcpy(p, es, es_len);
	*out_len = need;
out:
	OPENSSL_cleanse(seed, sizeof seed);
	OPENSSL_cleanse(sym, sizeof sym);
	OPENSSL_cleanse(hkey, sizeof hkey);
	OPENSSL_cleanse(cv, sizeof cv);
	return ok ? 0 : -1;
}
