// The sandbox's init in C: when the host side has decided everything (the
// Spec, encoded by sandbox.CSpec.Encode), husk is executed as PID 1 of the
// new namespaces with HUSK_CINIT naming the spec's descriptor, and the
// init entry (entry.c) builds the root, starts the user's process and
// becomes its reaper, all before (and instead of) the Go runtime: a Go
// runtime's start costs several times what the rest of the init does.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/audit.h>
#include <stddef.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

// ---- errors: one line to stderr and the host side, exit 125 ----

static void status(const char *what, const char *msg)
{
	dprintf(HUSK_FD_STATUS, "%s %s\n", what, msg);
}

void husk_fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dprintf(2, "husk: %s\n", msg);
	status(HUSK_STATUS_ERROR, msg);
	_exit(code);
}

// hold_image returns the lock's descriptor, which the init keeps open for
// its life (-1: no image).
static int hold_image(const struct husk_spec *s)
{
	if (s->inuse == NULL || *s->inuse == 0)
		return -1;
	int fd = open(s->inuse, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_SH) != 0)
		husk_fail(125, "marking the image in use (%s): %s", s->inuse, strerror(errno));
	struct stat st;
	if (s->image_dir && *s->image_dir && stat(s->image_dir, &st) != 0)
		husk_fail(125, "the image's files (%s) were removed while the container started: "
			  "start it again (pull the image first if it was removed from the store)", s->image_dir);
	return fd;
}

static void wait_mapped(void)
{
	const char *v = getenv(HUSK_ENV_USERNS_SYNC);
	if (v == NULL)
		return;
	int fd = atoi(v);
	char m = 0;
	while (read(fd, &m, 1) < 0 && errno == EINTR)
		;
	if (m != HUSK_USERNS_MAPPED)
		_exit(125);
	close(fd);
	unsetenv(HUSK_ENV_USERNS_SYNC);
}

__attribute__((noreturn)) static void cinit_run(char *buf, size_t len);

// open_start_fifo opens an OCI create's FIFO while its host path is in
// reach (-1: none). The container then outlives the host side that made
// it, as runc's does: its parent was `husk oci create`.
static int open_start_fifo(const struct husk_spec *s)
{
	if (s->start_fifo == NULL)
		return -1;
	int fd = open(s->start_fifo, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		husk_fail(125, "opening the container's start FIFO %s: %s", s->start_fifo, strerror(errno));
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	return fd;
}

// join_netns enters the network namespace the spec names, before any
// mount (a new sysfs shows the namespace it is mounted in).
static void join_netns(const struct husk_spec *s)
{
	if (s->netns == NULL)
		return;
	int fd = open(s->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
		husk_fail(125, "joining the network namespace %s: %s", s->netns, strerror(errno));
	close(fd);
}

static void created_signal(int sig)
{
	_exit(128 + sig);
}

// wait_start says the container is created and waits for husk oci start's
// byte. A terminating signal meanwhile ends the init, as it ends runc's
// waiting init: a PID 1 takes signals from outside only through handlers.
static void wait_start(int fd, int terminal)
{
	if (fd < 0)
		return;
	if (terminal)
		husk_console_early();
	static const int ends[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
	struct sigaction sa = {0}, dfl = {0};
	sa.sa_handler = created_signal;
	dfl.sa_handler = SIG_DFL;
	sigset_t mask;
	sigfillset(&mask);
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		sigaction(ends[i], &sa, NULL);
		sigdelset(&mask, ends[i]);
	}
	status(HUSK_STATUS_CREATED, "");
	// husk oci create has gone by now: later status lines go nowhere,
	// rather than raise a SIGPIPE the reaper would pass on.
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (nul < 0 || dup3(nul, HUSK_FD_STATUS, O_CLOEXEC) < 0)
		husk_fail(125, "opening /dev/null: %s", strerror(errno));
	close(nul);
	struct pollfd p = {fd, POLLIN, 0};
	while (ppoll(&p, 1, NULL, &mask) < 0 && errno == EINTR)
		;
	char b;
	if (read(fd, &b, 1) != 1)
		husk_fail(125, "waiting for husk oci start: %s", strerror(errno));
	close(fd);
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
		sigaction(ends[i], &dfl, NULL);
}

static void init_begin(void)
{
	// Signals wait until the reaper's loop takes them.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	wait_mapped();
}

// husk_cinit_main is the init from an exec, its spec in the descriptor
// HUSK_CINIT names. It never returns.
void husk_cinit_main(const char *fd)
{
	init_begin();
	size_t len;
	char err[256];
	int in = atoi(fd);
	char *buf = husk_spec_read(in, &len, err, sizeof err);
	close(in);
	if (buf == NULL)
		husk_fail(125, "reading the sandbox's spec: %s", err);
	cinit_run(buf, len);
}

// husk_cinit_spec is the init in a prelaunch's clone (prelaunch.c), whose
// memory holds the spec already. It never returns.
void husk_cinit_spec(char *buf, size_t len)
{
	init_begin();
	cinit_run(buf, len);
}

// cinit_run builds the sandbox that buf, the encoded spec, describes.
static void cinit_run(char *buf, size_t len)
{
	static struct husk_spec s;
	char err[512];
	if (husk_spec_decode(buf, len, &s, err, sizeof err) != 0)
		husk_fail(125, "reading the sandbox's spec: %s: this is husk's own error", err);
	const char *net = getenv(HUSK_ENV_SANDBOX_NET);
	s.net.fd = net ? atoi(net) : -1;

	join_netns(&s);
	int inuse = hold_image(&s);
	int start_fifo = open_start_fifo(&s);
	husk_make_private();
	husk_mount_scratch(&s);
	husk_build_root(&s);
	husk_write_files(&s);
	husk_setup_net(&s);
	husk_write_sysctls(&s);
	for (int i = 0; i < s.nops; i++)
		husk_apply_op(&s.ops[i]);
	// As runc: the mounts are done, the root not yet pivoted into.
	husk_run_hooks(&s, HUSK_HOOK_CREATE);
	// Last of the mounts: only the root itself, not /dev/shm and the
	// volumes below it.
	if (s.readonly)
		husk_remount_readonly(husk_root_path, "/");
	husk_pivot();
	if (sethostname(s.hostname, strlen(s.hostname)) != 0)
		husk_fail(125, "setting the hostname: %s", strerror(errno));
	if (s.loopback && !s.has_net)
		husk_loopback_up();
	// Other processes in the sandbox must not reach husk's binary through
	// /proc/1/exe (CVE-2019-5736).
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// /proc/1/environ is the user's host environment (tokens and other
	// secrets): gone before the container's first process can read it.
	husk_hide_invocation();
	husk_watch_binds(&s);
	wait_start(start_fifo, s.terminal);
	husk_run_hooks(&s, HUSK_HOOK_START);
	pid_t child = s.hold ? husk_start_holder() : husk_start_user(&s);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)child);
	status(HUSK_STATUS_RUNNING, pid);
	// Nothing else the init inherited stays open: stdio, the status pipe,
	// the network socket and the image's lock are what it still uses.
	int keep[] = {0, 1, 2, HUSK_FD_STATUS, s.has_net ? s.net.fd : -1, inuse};
	husk_close_except(keep, sizeof keep / sizeof keep[0]);
	husk_reap_loop(child, s.has_net && s.net.dials ? s.net.fd : -1);
}
