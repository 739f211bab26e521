/* tpm_test.c - the TPM signer backend (tpm2-openssl provider) against a
 * swtpm this test starts itself in a temporary folder on loopback:
 *   swtpm socket --tpm2 --server type=tcp,port=P --ctrl type=tcp,port=P+1
 *         --tpmstate dir=D --flags startup-clear
 * TCTI "swtpm:host=127.0.0.1,port=P". Key generated inside the TPM, saved
 * as a TSS2 PRIVATE KEY PEM, loaded back, used to sign requests whose
 * signatures are then checked with OpenSSL's software verifier. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <attest-hv/attest.h>

static char dir[256], tcti[96];
static pid_t swtpm_pid;

static bool port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int start_swtpm(void **st)
{
	(void)st;
	if (system("command -v swtpm >/dev/null 2>&1") != 0)
		return 0; /* tests skip */
	snprintf(dir, sizeof dir, "%s/ahvl-swtpm-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	int port = 0;
	for (int i = 0; i < 200 && !port; i++) {
		int p = 20000 + rand() % 40000;
		if (port_free(p) && port_free(p + 1))
			port = p;
	}
	if (!port)
		return -1;
	char srv[64], ctl[64], state[300];
	snprintf(srv, sizeof srv, "type=tcp,port=%d,bindaddr=127.0.0.1", port);
	snprintf(ctl, sizeof ctl, "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
	snprintf(state, sizeof state, "dir=%s", dir);
	swtpm_pid = fork();
	if (swtpm_pid < 0)
		return -1;
	if (swtpm_pid == 0) {
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", srv, "--ctrl", ctl,
		       "--tpmstate", state, "--flags", "startup-clear", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (port_open(port))
			break;
		usleep(50000);
	}
	snprintf(tcti, sizeof tcti, "swtpm:host=127.0.0.1,port=%d", port);
	return 0;
}

static int stop_swtpm(void **st)
{
	(void)st;
	if (swtpm_pid > 0) {
		kill(swtpm_pid, SIGTERM);
		waitpid(swtpm_pid, NULL, 0);
	}
	if (dir[0]) {
		char cmd[320];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd))
			return -1;
	}
	return 0;
}

static void sign_and_check(uint32_t curve, const char *name)
{
	if (!swtpm_pid)
		skip();
	char path[400];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int rc = ahvl_keygen_tpm(path, curve, tcti);
	if (rc)
		fail_msg("keygen_tpm: %s", ahvl_error_detail());
	FILE *f = fopen(path, "r");
	char line[64] = "";
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	assert_non_null(strstr(line, "TSS2 PRIVATE KEY")); /* TPM-wrapped, not a software key */
	ahvl_signer *s;
	rc = ahvl_signer_from_tpm(&s, path, tcti);
	if (rc)
		fail_msg("signer_from_tpm: %s", ahvl_error_detail());
	assert_int_equal(ahvl_signer_sig_alg(s), curve);
	char *pem;
	assert_int_equal(ahvl_signer_public_pem(s, &pem), AHVL_OK);
	ahvl_request *r;
	uint8_t *enc;
	size_t len;
	assert_int_equal(ahvl_request_new(&r, AHV_WIRE_HASH_SHA384), AHVL_OK);
	assert_int_equal(ahvl_request_random_nonce(r, 32), AHVL_OK);
	assert_int_equal(ahvl_request_add_range(r, 0x7f0000001000, 3, AHV_SPACE_GVA, NULL, NULL), 0);
	for (int i = 0; i < 2; i++) { /* two signatures with the same loaded key */
		rc = ahvl_request_encode(r, s, &enc, &len);
		if (rc)
			fail_msg("sign: %s", ahvl_error_detail());
		assert_int_equal(enc[18], curve); /* sig_alg */
		assert_int_equal(ahvl_request_verify(enc, len, (uint8_t *)pem, strlen(pem)), AHVL_OK);
		enc[40] ^= 1;
		assert_int_equal(ahvl_request_verify(enc, len, (uint8_t *)pem, strlen(pem)), AHVL_E_BAD_SIGNATURE);
		free(enc);
	}
	free(pem);
	ahvl_request_free(r);
	ahvl_signer_free(s);
	/* the key file is useless to a software signer */
	assert_int_equal(ahvl_signer_from_file(&s, path, NULL), AHVL_E_KEY);
	/* and a key file that does not exist, through the TPM path */
	snprintf(path, sizeof path, "%s/none.pem", dir);
	assert_int_equal(ahvl_signer_from_tpm(&s, path, tcti), AHVL_E_KEY);
}

static void t_tpm_p256(void **st)
{
	(void)st;
	sign_and_check(AHV_SIG_ECDSA_P256_SHA256, "tpm256.pem");
}

static void t_tpm_p384(void **st)
{
	(void)st;
	sign_and_check(AHV_SIG_ECDSA_P384_SHA384, "tpm384.pem");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(t_tpm_p256), cmocka_unit_test(t_tpm_p384)};
	return cmocka_run_group_tests(tests, start_swtpm, stop_swtpm);
}
