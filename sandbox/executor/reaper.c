// The reaper: PID 1's loop once the container's process runs, on every
// start path (the init from a spec, the prelaunch): it forwards signals to
// the process, reaps every child, serves the published ports' dials and
// exits with the process's code. It holds a few pages, not a Go runtime.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

// A namespace's init receives only the signals it has a handler for: an
// empty handler makes every signal queue, to be taken by sigwaitinfo.
static void noop(int sig) { (void)sig; }

static int code_of(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

// reap_all reaps every child that has ended; it exits when the container's
// process is among them.
static void reap_all(pid_t child)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == child)
			_exit(code_of(status));
	}
}

// The published ports' dials (network.Dialer is the other side; abi.h's
// HUSK_DIAL_*): the host side
// sends one end of a SOCK_SEQPACKET pair; on it comes the protocol and
// port, and back goes HUSK_DIAL_OK with the socket connected to
// 127.0.0.1:PORT inside the namespace, or HUSK_DIAL_FAILED and why.

// husk_recv_fd takes a descriptor sent with one byte: -2 when the peer
// closed, -1 when the message carried none.
int husk_recv_fd(int sock)
{
	char b;
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&b, 1};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof ctl;
	ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -2; // closed
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

// husk_send_fd sends len bytes of buf with fd attached (none when fd < 0);
// 0 when the whole message went.
int husk_send_fd(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = {(void *)buf, len};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (fd >= 0) {
		m.msg_control = ctl;
		m.msg_controllen = sizeof ctl;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

// connect_inside connects without blocking the loop for long: a loopback
// connect succeeds or is refused at once unless the backlog is full.
static int connect_inside(int udp, int port, int *err)
{
	int s = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		*err = errno;
		return -1;
	}
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
		return s;
	if (errno == EINPROGRESS) {
		struct pollfd p = {s, POLLOUT, 0};
		int e = 0;
		socklen_t l = sizeof e;
		if (poll(&p, 1, 2000) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e == 0)
			return s;
		*err = e ? e : ETIMEDOUT;
	} else {
		*err = errno;
	}
	close(s);
	return -1;
}

// serve_dial answers one request; < 0 when the host side has gone.
static int serve_dial(int conn)
{
	int req = husk_recv_fd(conn);
	if (req == -2)
		return -1;
	if (req < 0)
		return 0;
	unsigned char buf[HUSK_DIAL_REQUEST_LEN + 1];
	ssize_t n = recv(req, buf, sizeof buf, 0);
	if (n == HUSK_DIAL_REQUEST_LEN) {
		int port = buf[1] << 8 | buf[2], err = EINVAL, s = -1;
		if ((buf[0] == HUSK_DIAL_TCP || buf[0] == HUSK_DIAL_UDP) && port > 0)
			s = connect_inside(buf[0] == HUSK_DIAL_UDP, port, &err);
		if (s >= 0) {
			husk_send_fd(req, (char[]){HUSK_DIAL_OK}, 1, s);
			close(s);
		} else {
			char msg[256];
			int k = snprintf(msg, sizeof msg, "%cconnecting to 127.0.0.1:%d: %s", HUSK_DIAL_FAILED, port,
					 strerror(err));
			husk_send_fd(req, msg, (size_t)k < sizeof msg ? (size_t)k : sizeof msg - 1, -1);
		}
	}
	close(req);
	return 0;
}

// The binary's pages, found before the lockdown: the init opens no file
// once its filter is loaded, so it reads its maps through a descriptor
// opened before.
struct trim {
	int maps;
	unsigned long ino;
};

static struct trim trim_prepare(void)
{
	struct trim t = {-1, 0};
	struct stat exe;
	if (stat("/proc/self/exe", &exe) == 0) {
		t.ino = (unsigned long)exe.st_ino;
		t.maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	}
	return t;
}

// trim drops the pages of husk's binary that the exec and this set-up
// touched: clean, read-only, and mostly never run again here (the loop
// below is a few functions), so they need not stay resident.
static void trim(struct trim *t)
{
	static char buf[64 << 10];
	size_t n = 0;
	ssize_t r;
	while (t->maps >= 0 && n < sizeof buf - 1 && (r = read(t->maps, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	if (t->maps >= 0)
		close(t->maps);
	t->maps = -1;
	buf[n] = 0;
	for (char *line = buf, *end; *line; line = end + 1) {
		end = strchrnul(line, '\n');
		unsigned long start, stop, ino;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &start, &stop, perms, &ino) == 4 && ino == t->ino &&
		    strchr(perms, 'w') == NULL)
			madvise((void *)start, stop - start, MADV_DONTNEED);
		if (*end == 0)
			break;
	}
}

// husk_reap_loop is PID 1's loop from here on: every signal forwarded to
// child, every child reaped, the published ports' dials served on dial
// (-1: none); it exits with child's code. Every signal must be blocked
// already, so that none is lost before the signalfd exists.
void husk_reap_loop(pid_t child, int dial)
{
	struct sigaction sa = {0};
	sa.sa_handler = noop;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);

	reap_all(child); // it may have ended before the handlers existed
	sigset_t all;
	sigfillset(&all);
	int sfd = signalfd(-1, &all, SFD_CLOEXEC);
	struct trim t = trim_prepare();
	// From here on the init needs no privilege and few system calls.
	husk_pid1_lockdown();
	// The binary's pages go once the process has run a second: most runs
	// end sooner, and their init need not pay for it.
	int trim_ms = 1000;
	for (;;) {
		struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {dial, POLLIN, 0}};
		int n = poll(pfd, dial >= 0 ? 2 : 1, trim_ms);
		if (n == 0 && trim_ms > 0) {
			trim(&t);
			trim_ms = -1;
		}
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD)
					reap_all(child);
				else
					kill(child, si.ssi_signo);
			}
		}
		if (dial >= 0 && pfd[1].revents) {
			if (serve_dial(dial) < 0) {
				close(dial); // the host side is gone
				dial = -1;
			}
		}
	}
}
