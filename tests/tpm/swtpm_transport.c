/* swtpm on a socket pair, for the integration tests (swtpm_transport.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "swtpm_transport.h"

#define CHILD_FD 3
#define IO_TIMEOUT_S 120

int swtpm_start(struct swtpm *s, const char *bin)
{
	int sv[2];

	s->pid = -1;
	s->fd = -1;
	if (!s->dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(s->dir, sizeof(s->dir), "%s/ahv-swtpm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(s->dir)) {
			s->dir[0] = 0;
			return -1;
		}
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		char state[300];
		snprintf(state, sizeof(state), "dir=%s", s->dir);
		/* dup2 onto fd 3 clears close-on-exec; if it already is fd 3,
		 * clear the flag by hand. */
		if (sv[1] == CHILD_FD)
			fcntl(CHILD_FD, F_SETFD, 0);
		else if (dup2(sv[1], CHILD_FD) != CHILD_FD)
			_exit(127);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execl(bin, bin, "socket", "--tpm2", "--server", "type=tcp,fd=3",
		      "--tpmstate", state, "--flags", "not-need-init", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	s->pid = pid;
	s->fd = sv[0];
	return 0;
}

void swtpm_stop(struct swtpm *s)
{
	if (s->fd >= 0)
		close(s->fd); /* swtpm leaves when its only client goes */
	s->fd = -1;
	if (s->pid > 0) {
		int status;
		kill(s->pid, SIGTERM);
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	s->pid = -1;
}

void swtpm_destroy(struct swtpm *s)
{
	swtpm_stop(s);
	if (!s->dir[0])
		return;
	DIR *d = opendir(s->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			char p[600];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", s->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(s->dir);
	s->dir[0] = 0;
}

static int io_all(int fd, void *buf, size_t len, int writing)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int swtpm_submit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
		 size_t rsp_cap, size_t *rsp_len)
{
	struct swtpm *s = ctx;
	if (s->fd < 0 || rsp_cap < 10 || io_all(s->fd, (void *)cmd, cmd_len, 1) != 0 ||
	    io_all(s->fd, rsp, 10, 0) != 0)
		return -1;
	size_t size = ((size_t)rsp[2] << 24) | ((size_t)rsp[3] << 16) |
		      ((size_t)rsp[4] << 8) | rsp[5];
	if (size < 10 || size > rsp_cap || io_all(s->fd, rsp + 10, size - 10, 0) != 0)
		return -1;
	*rsp_len = size;
	return 0;
}
