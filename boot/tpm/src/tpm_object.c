/* Object templates and TPM2_CreatePrimary / TPM2_Create / TPM2_Load /
 * TPM2_Unseal, plus the strict TPMT_PUBLIC parser (ahv/tpm_commands.h). */
#include <string.h>

#include "ahv/crypto.h"
#include "ahv/tpm_commands.h"

/* One object shape. sym_* is TPMT_SYM_DEF_OBJECT (P2 s11.1.7), scheme_* the
 * key's TPMT_*_SCHEME (P2 s11.1.23, s11.2.3.5), size the ECC curve or the
 * RSA modulus bits. */
struct key_shape {
	uint16_t type;
	uint32_t attrs;
	uint16_t sym_alg, sym_bits, sym_mode;
	uint16_t scheme, scheme_hash;
	uint16_t size;
	const uint8_t *policy;  /* authPolicy (32 bytes) or NULL: empty */
	uint16_t unique_len;    /* RSA: zero bytes in unique.rsa (EK template) */
};

/* Storage parent, the SRK shape of the TCG provisioning guidance:
 * fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|decrypt */
#define STORAGE_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | \
	TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
#define AK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | \
	TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)
/* Sealed data: the data comes from us (sensitiveDataOrigin clear), only a
 * policy may use it (userWithAuth clear) or administer it (adminWithPolicy). */
#define SEALED_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_NODA | TPMA_OBJECT_ADMINWITHPOLICY)

/* The endorsement key, TCG EK Credential Profile 2.0 s2.1.5.1 Template L-1
 * (RSA 2048): fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|
 * restricted|decrypt, authPolicy = PolicySecret(TPM_RH_ENDORSEMENT) (Policy A,
 * s2.1.5.4), AES-128-CFB, a 256-byte zero unique field. The template the
 * certificate in NV index TPM_NV_EK_CERT_RSA was made for. */
#define EK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY | \
	TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
const uint8_t ahv_tpm_ek_policy[AHV_TPM_DIGEST_SIZE] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
	0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA,
};

static const struct key_shape shapes[AHV_TPM_KEY_COUNT_] = {
	[AHV_TPM_KEY_STORAGE_ECC] = { TPM_ALG_ECC, STORAGE_ATTRS, TPM_ALG_AES, 128, TPM_ALG_CFB,
				      TPM_ALG_NULL, 0, TPM_ECC_NIST_P256, NULL, 0 },
	[AHV_TPM_KEY_STORAGE_RSA] = { TPM_ALG_RSA, STORAGE_ATTRS, TPM_ALG_AES, 128, TPM_ALG_CFB,
				      TPM_ALG_NULL, 0, 2048, NULL, 0 },
	[AHV_TPM_KEY_AK_ECC] = { TPM_ALG_ECC, AK_ATTRS, TPM_ALG_NULL, 0, 0,
				 TPM_ALG_ECDSA, TPM_ALG_SHA256, TPM_ECC_NIST_P256, NULL, 0 },
	[AHV_TPM_KEY_EK_RSA] = { TPM_ALG_RSA, EK_ATTRS, TPM_ALG_AES, 128, TPM_ALG_CFB,
				 TPM_ALG_NULL, 0, 2048, ahv_tpm_ek_policy, 256 },
};
static const struct key_shape sealed_shape = {
	TPM_ALG_KEYEDHASH, SEALED_ATTRS, TPM_ALG_NULL, 0, 0, TPM_ALG_NULL, 0, 0, NULL, 0
};

/* TPMT_PUBLIC (P2 s12.2.4) of a shape: type, nameAlg, objectAttributes,
 * authPolicy, parameters (P2 s12.2.3.7 TPMU_PUBLIC_PARMS) and an empty
 * unique field (P2 s12.2.3.2 TPMU_PUBLIC_ID) for the TPM to fill. */
static void put_public(struct ahv_tpm_wr *w, const struct key_shape *s,
		       const uint8_t *policy, size_t policy_len)
{
	ahv_tpm_put_u16(w, s->type);
	ahv_tpm_put_u16(w, TPM_ALG_SHA256);
	ahv_tpm_put_u32(w, s->attrs);
	if (!policy && s->policy) {
		policy = s->policy;
		policy_len = AHV_TPM_DIGEST_SIZE;
	}
	ahv_tpm_put_tpm2b(w, policy, policy_len);
	if (s->type != TPM_ALG_KEYEDHASH) {
		ahv_tpm_put_u16(w, s->sym_alg);
		if (s->sym_alg != TPM_ALG_NULL) {
			ahv_tpm_put_u16(w, s->sym_bits);
			ahv_tpm_put_u16(w, s->sym_mode);
		}
	}
	ahv_tpm_put_u16(w, s->scheme);
	if (s->scheme != TPM_ALG_NULL)
		ahv_tpm_put_u16(w, s->scheme_hash);
	switch (s->type) {
	case TPM_ALG_ECC: /* TPMS_ECC_PARMS (P2 s12.2.3.6) */
		ahv_tpm_put_u16(w, s->size);         /* curveID */
		ahv_tpm_put_u16(w, TPM_ALG_NULL);    /* kdf */
		ahv_tpm_put_tpm2b(w, NULL, 0);       /* unique.ecc.x */
		ahv_tpm_put_tpm2b(w, NULL, 0);       /* unique.ecc.y */
		break;
	case TPM_ALG_RSA: /* TPMS_RSA_PARMS (P2 s12.2.3.5) */
		ahv_tpm_put_u16(w, s->size);         /* keyBits */
		ahv_tpm_put_u32(w, 0);               /* exponent: default 2^16+1 */
		ahv_tpm_put_u16(w, s->unique_len);   /* unique.rsa: zeros or empty */
		for (unsigned i = 0; i < s->unique_len; i++)
			ahv_tpm_put_u8(w, 0);
		break;
	default: /* KEYEDHASH: TPMS_KEYEDHASH_PARMS (P2 s12.2.3.3) */
		ahv_tpm_put_tpm2b(w, NULL, 0);       /* unique.keyedHash */
		break;
	}
}

/* A TPMT_*_SCHEME / TPMT_SYM_DEF_OBJECT / TPMT_KDF_SCHEME selector with the
 * detail fields that follow a non-NULL algorithm. */
static void skip_scheme(struct ahv_tpm_rd *r, unsigned detail_u16s)
{
	if (ahv_tpm_get_u16(r) != TPM_ALG_NULL)
		for (unsigned i = 0; i < detail_u16s; i++)
			(void)ahv_tpm_get_u16(r);
}

static void get_ecc_coord(struct ahv_tpm_rd *r, uint8_t out[32])
{
	size_t n;
	const uint8_t *p = ahv_tpm_get_tpm2b_view(r, 32, &n);
	memset(out, 0, 32);
	if (p && n)
		memcpy(out + 32 - n, p, n);
}

int ahv_tpm_public_parse(const uint8_t *pub, size_t len, struct ahv_tpm_public_info *info)
{
	struct ahv_tpm_rd r;
	size_t n;

	if (!pub || !info)
		return AHV_TPM_EINVAL;
	memset(info, 0, sizeof(*info));
	ahv_tpm_rd_init(&r, pub, len);
	info->type = ahv_tpm_get_u16(&r);
	info->name_alg = ahv_tpm_get_u16(&r);
	info->attrs = ahv_tpm_get_u32(&r);
	ahv_tpm_get_tpm2b(&r, info->policy, sizeof(info->policy), &n);
	info->policy_len = (uint16_t)n;
	switch (info->type) {
	case TPM_ALG_KEYEDHASH: {
		/* TPMT_KEYEDHASH_SCHEME: NULL, HMAC{hash} or XOR{hash, kdf} */
		uint16_t scheme = ahv_tpm_get_u16(&r);
		if (scheme == 0x0005u) /* TPM_ALG_HMAC */
			(void)ahv_tpm_get_u16(&r);
		else if (scheme == 0x000Au) /* TPM_ALG_XOR */
			(void)ahv_tpm_get_u32(&r);
		else if (scheme != TPM_ALG_NULL)
			return AHV_TPM_EFORMAT;
		(void)ahv_tpm_get_tpm2b_view(&r, 64, &n);
		break;
	}
	case TPM_ALG_ECC:
		skip_scheme(&r, 2);           /* symmetric: keyBits, mode */
		skip_scheme(&r, 1);           /* scheme: hashAlg (ECDSA/ECDH) */
		if (ahv_tpm_get_u16(&r) != TPM_ECC_NIST_P256)
			return AHV_TPM_EFORMAT;
		skip_scheme(&r, 1);           /* kdf: hashAlg */
		info->ecc_point[0] = 0x04;
		get_ecc_coord(&r, info->ecc_point + 1);
		get_ecc_coord(&r, info->ecc_point + 33);
		break;
	case TPM_ALG_RSA:
		skip_scheme(&r, 2);
		skip_scheme(&r, 1);
		(void)ahv_tpm_get_u16(&r);    /* keyBits */
		(void)ahv_tpm_get_u32(&r);    /* exponent */
		(void)ahv_tpm_get_tpm2b_view(&r, 512, &n);
		break;
	default:
		return AHV_TPM_EFORMAT;
	}
	return ahv_tpm_rd_done(&r);
}

/* creationData, creationHash and creationTicket, the tail that
 * TPM2_CreatePrimary and TPM2_Create share (P3 s24.1, s12.1). */
static void skip_creation_tail(struct ahv_tpm_rd *p)
{
	size_t n;
	(void)ahv_tpm_get_tpm2b_view(p, AHV_TPM_BUF_SIZE, &n); /* TPM2B_CREATION_DATA */
	(void)ahv_tpm_get_tpm2b_view(p, 64, &n);               /* creationHash */
	if (ahv_tpm_get_u16(p) != TPM_ST_CREATION && !p->err)  /* TPMT_TK_CREATION */
		p->err = AHV_TPM_EFORMAT;
	(void)ahv_tpm_get_u32(p);                              /* hierarchy */
	(void)ahv_tpm_get_tpm2b_view(p, 64, &n);               /* digest */
}

/* An empty TPM2B_DATA outsideInfo and an empty TPML_PCR_SELECTION
 * creationPCR: the tail of both creation commands. */
static void put_creation_inputs(struct ahv_tpm_wr *w)
{
	ahv_tpm_put_tpm2b(w, NULL, 0);
	ahv_tpm_put_u32(w, 0);
}

int ahv_tpm_create_primary(struct ahv_tpm *t, uint32_t hierarchy,
			   enum ahv_tpm_key_template tmpl, uint32_t *handle,
			   uint8_t *pub, size_t pub_cap, size_t *pub_len)
{
	struct ahv_tpm_rd p;
	size_t n;

	if ((unsigned)tmpl >= AHV_TPM_KEY_COUNT_ || !handle)
		return AHV_TPM_EINVAL;
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_CREATE_PRIMARY, &hierarchy, &pw);
	size_t m = ahv_tpm_put_size16_begin(w); /* TPM2B_SENSITIVE_CREATE */
	ahv_tpm_put_tpm2b(w, NULL, 0);          /* userAuth: empty */
	ahv_tpm_put_tpm2b(w, NULL, 0);          /* data: empty (TPM generates) */
	ahv_tpm_put_size16_end(w, m);
	m = ahv_tpm_put_size16_begin(w);        /* TPM2B_PUBLIC */
	put_public(w, &shapes[tmpl], NULL, 0);
	ahv_tpm_put_size16_end(w, m);
	put_creation_inputs(w);
	int err = ahv_tpm_send(t, handle, &p);
	if (err)
		return err;
	const uint8_t *out = ahv_tpm_get_tpm2b_view(&p, AHV_TPM_MAX_PUBLIC, &n);
	skip_creation_tail(&p);
	size_t name_len;
	(void)ahv_tpm_get_tpm2b_view(&p, 2 + 64, &name_len); /* TPM2B_NAME */
	err = ahv_tpm_rd_done(&p);
	if (!err && pub) {
		if (n > pub_cap)
			err = AHV_TPM_ENOSPC;
		else
			memcpy(pub, out, n);
	}
	if (!err && pub_len)
		*pub_len = n;
	if (err)
		(void)ahv_tpm_flush(t, *handle);
	return err;
}

int ahv_tpm_create_sealed(struct ahv_tpm *t, uint32_t parent,
			  const uint8_t policy[AHV_TPM_DIGEST_SIZE],
			  const void *secret, size_t secret_len,
			  struct ahv_tpm_object *out)
{
	struct ahv_tpm_rd p;
	size_t n;

	if (!policy || !secret || !out || secret_len == 0 || secret_len > TPM_MAX_SYM_DATA)
		return AHV_TPM_EINVAL;
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_CREATE, &parent, &pw);
	size_t m = ahv_tpm_put_size16_begin(w);      /* TPM2B_SENSITIVE_CREATE */
	ahv_tpm_put_tpm2b(w, NULL, 0);               /* userAuth: unused */
	ahv_tpm_put_tpm2b(w, secret, secret_len);    /* data: the secret */
	ahv_tpm_put_size16_end(w, m);
	m = ahv_tpm_put_size16_begin(w);             /* TPM2B_PUBLIC */
	put_public(w, &sealed_shape, policy, AHV_TPM_DIGEST_SIZE);
	ahv_tpm_put_size16_end(w, m);
	put_creation_inputs(w);
	int err = ahv_tpm_send(t, NULL, &p);
	/* the command buffer held the secret */
	ahv_wipe(t->cmd, sizeof(t->cmd));
	if (err)
		return err;
	ahv_tpm_get_tpm2b(&p, out->priv, sizeof(out->priv), &n);
	out->priv_len = (uint16_t)n;
	ahv_tpm_get_tpm2b(&p, out->pub, sizeof(out->pub), &n);
	out->pub_len = (uint16_t)n;
	skip_creation_tail(&p);
	err = ahv_tpm_rd_done(&p);
	if (!err && (out->priv_len == 0 || out->pub_len == 0))
		err = AHV_TPM_EFORMAT;
	return err;
}

int ahv_tpm_load(struct ahv_tpm *t, uint32_t parent, const struct ahv_tpm_object *obj,
		 uint32_t *handle)
{
	struct ahv_tpm_rd p;
	size_t n;

	if (!obj || !handle || obj->priv_len > sizeof(obj->priv) ||
	    obj->pub_len > sizeof(obj->pub))
		return AHV_TPM_EINVAL;
	struct ahv_tpm_auth pw = ahv_tpm_auth_password(NULL, 0);
	struct ahv_tpm_wr *w = ahv_tpm_begin(t, AHV_TPM_CMD_LOAD, &parent, &pw);
	ahv_tpm_put_tpm2b(w, obj->priv, obj->priv_len); /* inPrivate */
	ahv_tpm_put_tpm2b(w, obj->pub, obj->pub_len);   /* inPublic */
	int err = ahv_tpm_send(t, handle, &p);
	if (err)
		return err;
	(void)ahv_tpm_get_tpm2b_view(&p, 2 + 64, &n);   /* name */
	err = ahv_tpm_rd_done(&p);
	if (err)
		(void)ahv_tpm_flush(t, *handle);
	return err;
}

int ahv_tpm_unseal_object(struct ahv_tpm *t, uint32_t item, const struct ahv_tpm_auth *auth,
			  void *out, size_t cap, size_t *out_len)
{
	struct ahv_tpm_rd p;
	size_t n;

	if (!auth || !out || !out_len)
		return AHV_TPM_EINVAL;
	ahv_tpm_begin(t, AHV_TPM_CMD_UNSEAL, &item, auth);
	int err = ahv_tpm_send(t, NULL, &p);
	if (err == AHV_TPM_ERC)
		return ahv_tpm_auth_status(t->last_rc);
	if (err)
		return err;
	const uint8_t *data = ahv_tpm_get_tpm2b_view(&p, TPM_MAX_SYM_DATA, &n);
	err = ahv_tpm_rd_done(&p);
	if (!err && n > cap)
		err = AHV_TPM_ENOSPC;
	if (!err) {
		memcpy(out, data, n);
		*out_len = n;
	}
	/* the response buffer held the secret */
	ahv_wipe(t->rsp, sizeof(t->rsp));
	return err;
}
