/*
 * swtpm_transport.h - test-only: a private swtpm for each test, and the
 * ahv_tpm_submit_fn that talks to it.
 *
 * swtpm runs as `swtpm socket --tpm2 --server type=tcp,fd=3 --tpmstate
 * dir=D --flags not-need-init`, where fd 3 is one end of a socket pair: the
 * same raw-TPM-command server as with a TCP port, without picking a port or
 * waiting for a listener (nothing to race, nothing to poll). The test sends
 * TPM2_Startup itself. Reads have a generous timeout so a dead swtpm fails a
 * test instead of hanging it.
 */
#ifndef AHV_SWTPM_TRANSPORT_H
#define AHV_SWTPM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct swtpm {
	pid_t pid;
	int fd;
	char dir[256];        /* state directory, kept across swtpm_stop */
};

/* Start swtpm (binary path bin) on s->dir, creating a fresh temporary
 * directory when s->dir is empty. Returns 0 or -1. */
int swtpm_start(struct swtpm *s, const char *bin);
/* Stop the process (the state directory stays: a restart is a reboot). */
void swtpm_stop(struct swtpm *s);
/* Stop and delete the state directory. */
void swtpm_destroy(struct swtpm *s);
int swtpm_submit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
		 size_t rsp_cap, size_t *rsp_len);

#endif
