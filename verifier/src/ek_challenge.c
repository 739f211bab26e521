/* Challenge and answer of an EK-rooted enrollment (ek_challenge.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "attest/wire.h"
#include "ek_challenge.h"
#include "tpm_credential.h"
#include "vcrypto.h"
#include "vutil.h"

#define STATE_MAGIC "AHVEKCH1"
#define STATE_LEN (8 + 32 + 32)

static void binding(const struct v_ek_result *res, const uint8_t key_id[32], uint8_t out[32])
{
	uint8_t b[32 + 34 + 32];
	memcpy(b, key_id, 32);
	memcpy(b + 32, res->ak_name, 34);
	memcpy(b + 66, res->ek_cert_sha256, 32);
	vc_hash(AHV_WIRE_HASH_SHA256, b, sizeof b, out);
}

static int write_all(const char *path, int mode, const uint8_t *b, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, b, n) != (ssize_t)n || fsync(fd)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

int v_ek_challenge(const struct v_ek_result *res, const uint8_t key_id[32], const char *challenge_path,
		   const char *state_path, char *err, size_t errlen)
{
	uint8_t st[STATE_LEN], cred[2048];
	size_t cl = 0;
	memcpy(st, STATE_MAGIC, 8);
	binding(res, key_id, st + 8);
	int rc = -1;
	if (v_random(st + 40, 32))
		snprintf(err, errlen, "no randomness for the credential");
	else if (!v_make_credential(res->ek, res->ak_name, sizeof res->ak_name, st + 40, 32, cred, sizeof cred,
				    &cl, err, errlen) &&
		 !write_all(state_path, 0600, st, sizeof st, err, errlen))
		rc = write_all(challenge_path, 0644, cred, cl, err, errlen);
	OPENSSL_cleanse(st, sizeof st);
	return rc;
}

int v_ek_answer(const struct v_ek_result *res, const uint8_t key_id[32], const char *state_path,
		const char *answer_path, char *err, size_t errlen)
{
	size_t sl = 0, al = 0;
	uint8_t *st = v_read_file(state_path, &sl, 4096), *ans = v_read_file(answer_path, &al, 4096), b[32];
	int rc = -1;
	binding(res, key_id, b);
	if (!st || !ans)
		snprintf(err, errlen, "cannot read %s", !st ? state_path : answer_path);
	else if (sl != STATE_LEN || memcmp(st, STATE_MAGIC, 8))
		snprintf(err, errlen, "%s is not a challenge state", state_path);
	else if (CRYPTO_memcmp(st + 8, b, 32))
		snprintf(err, errlen, "the challenge in %s was issued for other evidence (key, AK or EK)", state_path);
	else if (al != 32 || CRYPTO_memcmp(st + 40, ans, 32))
		snprintf(err, errlen, "the answer is not the credential's secret: the AK is not resident in the TPM "
				      "of the certified EK");
	else if (unlink(state_path))
		snprintf(err, errlen, "cannot remove %s: %s", state_path, strerror(errno));
	else
		rc = 0;
	if (st)
		OPENSSL_cleanse(st, sl);
	free(st);
	free(ans);
	return rc;
}
