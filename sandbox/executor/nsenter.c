// The exec entry (husk exec, package nsenter): it joins a container's
// namespaces before the Go runtime starts, because the kernel refuses
// setns(CLONE_NEWUSER) to a multithreaded process and the Go runtime
// starts threads at once, then runs the process its spec describes with
// the init's own functions (process.c). Same idea as runc's
// libcontainer/nsenter, much smaller: no user namespace to create. It
// never returns to Go: inside the container, husk is only ever this C,
// undumpable, until the execve replaces it.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

static long target; // the container's process, for messages

static void fail(const char *what, int err) __attribute__((noreturn));
static void fail(const char *what, int err)
{
	fprintf(stderr, "husk: joining the namespaces of container process %ld: %s (%s): is the container still running?\n",
		target, what, strerror(err));
	_exit(125);
}

static void gone(void) __attribute__((noreturn));
static void gone(void)
{
	fprintf(stderr, "husk: the container's process %ld is gone: the container is not running\n", target);
	_exit(125);
}

// The user namespace comes first: joining it as its owner is what grants
// CAP_SYS_ADMIN over the other namespaces, which it owns. Mount comes last
// only because it changes the root, which nothing after it depends on.
static const struct {
	const char *name;
	int type;
} nss[] = {
	{"user", CLONE_NEWUSER},
	{"cgroup", CLONE_NEWCGROUP},
	{"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},
	{"pid", CLONE_NEWPID},
	{"mnt", CLONE_NEWNS},
};
#define NNS (sizeof(nss) / sizeof(nss[0]))

// openns returns an fd for the target's namespace nss[i], or -1 when there
// is nothing to join: the kernel lacks the type, or it is already ours
// (setns into one's own user namespace fails with EINVAL).
static int openns(size_t i)
{
	char path[64], what[96];
	struct stat self, st;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", nss[i].name);
	if (stat(path, &self) < 0) {
		if (errno == ENOENT)
			return -1;
		snprintf(what, sizeof(what), "reading %s", path);
		fail(what, errno);
	}
	snprintf(path, sizeof(path), "/proc/%ld/ns/%s", target, nss[i].name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		// A process that is exiting (or a zombie) has lost its namespaces:
		// never mistake that for "nothing to join" and run on the host.
		if (errno == ENOENT || errno == ESRCH)
			gone();
		snprintf(what, sizeof(what), "opening %s", path);
		fail(what, errno);
	}
	if (fstat(fd, &st) < 0) {
		snprintf(what, sizeof(what), "reading %s", path);
		fail(what, errno);
	}
	if (st.st_dev == self.st_dev && st.st_ino == self.st_ino) {
		close(fd);
		return -1;
	}
	return fd;
}

// open_tun makes stdin /dev/net/tun, opened between the joins of the
// network and the mount namespaces: the device node is still the host's,
// and what is opened on it belongs to the namespace joined, where a TAP
// device made on it then appears (a network connected to a running
// container, sandbox.AttachTap).
static void open_tun(int joinednet)
{
	int t;

	if (!joinednet) {
		fprintf(stderr, "husk: the container has the host's network: it cannot join a network\n");
		_exit(125);
	}
	t = open("/dev/net/tun", O_RDWR);
	if (t < 0)
		fail("opening /dev/net/tun", errno);
	if (dup2(t, 0) < 0)
		fail("making /dev/net/tun the process's stdin", errno);
	close(t);
}

static volatile pid_t child;

// Signals the C parent relays to the child. SIGKILL and SIGSTOP cannot be
// caught: the child's PR_SET_PDEATHSIG covers the first, the stop mirroring
// in the wait loop the job-control side of the second.
static const int relayed[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP};
#define NRELAYED (sizeof(relayed) / sizeof(relayed[0]))

static void relay(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	// A terminal sends these to its whole foreground process group (that
	// is SI_KERNEL), which the child shares with this process: relaying
	// them would deliver each twice. (The terminal's SIGHUP and SIGCONT
	// can go to the session leader alone, so they are always relayed.)
	if (!(si->si_code == SI_KERNEL &&
	      (sig == SIGINT || sig == SIGQUIT || sig == SIGTSTP || sig == SIGWINCH)))
		kill(child, sig);
	errno = saved;
}

// parent relays signals to the child until it ends, then exits the way a
// shell reports it: its code, or 128+N for death by signal N.
__attribute__((noreturn)) static void parent(const sigset_t *mask)
{
	struct sigaction sa, old;
	int status;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = relay;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < NRELAYED; i++) {
		// An ignored signal stays ignored, as it is in the child.
		if (sigaction(relayed[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(relayed[i], &sa, NULL);
	}
	// Signals that arrived since the fork were held; they reach relay now.
	sigprocmask(SIG_SETMASK, mask, NULL);

	for (;;) {
		if (waitpid(child, &status, WUNTRACED) < 0) {
			if (errno == EINTR)
				continue;
			fail("waiting for the process in the container", errno);
		}
		if (WIFSTOPPED(status)) {
			// Stop with the child so the caller's shell sees the job
			// stopped, and resume it when this side is resumed.
			kill(getpid(), SIGSTOP);
			kill(child, SIGCONT);
			continue;
		}
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
	}
}

// run_spec is the child's part, inside the container: the process that
// the spec on HUSK_FD_EXEC_SPEC describes, started as the init starts its
// own. The spec's descriptor stays open, read-only, in the status pipe's
// place (abi.h), until the execve closes it.
__attribute__((noreturn)) static void run_spec(void)
{
	static struct husk_spec s;
	char err[512];
	size_t len;
	char *buf = husk_spec_read(HUSK_FD_EXEC_SPEC, &len, err, sizeof err);
	if (buf == NULL)
		husk_fail(125, "reading the exec spec: %s: this is husk's own error", err);
	if (husk_exec_spec_decode(buf, len, &s, err, sizeof err) != 0)
		husk_fail(125, "reading the exec spec: %s: this is husk's own error", err);
	husk_watch_binds(&s);
	husk_exec_user(&s);
}

// husk_nsenter_main is the exec entry: env is HUSK_NSENTER_PID's value.
// The parent stays outside the container's pid namespace and relays; the
// child, inside it, becomes the spec's process. Neither returns.
void husk_nsenter_main(const char *env)
{
	int fds[NNS], joinedpid = 0, joinednet = 0;
	struct sigaction dfl, chld;
	sigset_t set, mask;
	pid_t self, pid;
	char *end;
	size_t i;

	// Set but unreadable is an error, not a no-op: the caller meant the
	// container, and running its command on the host would be worse.
	errno = 0;
	target = strtol(env, &end, 10);
	if (errno != 0 || end == env || *end != '\0' || target <= 0 || target > INT_MAX) {
		fprintf(stderr, "husk: %s=\"%s\" is not a process id\n", HUSK_ENV_NSENTER_PID, env);
		_exit(125);
	}
	{
		char path[32];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%ld", target);
		if (stat(path, &st) < 0) {
			if (errno == ENOENT)
				gone();
			fail("reading /proc", errno);
		}
	}

	// From here on, nothing in the container may open this process's
	// /proc/PID/exe (the host's husk: CVE-2019-5736), trace it or read its
	// memory, which holds the spec; the execve resets it for the user's
	// program.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("making the process undumpable", errno);

	// Every fd first: /proc is the host's only until the mount namespace
	// changes.
	for (i = 0; i < NNS; i++)
		fds[i] = openns(i);
	for (i = 0; i < NNS; i++) {
		char what[64];

		if (nss[i].type == CLONE_NEWNS && getenv(HUSK_ENV_NSENTER_TUN) != NULL)
			open_tun(joinednet);
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], nss[i].type) < 0) {
			snprintf(what, sizeof(what), "joining the %s namespace", nss[i].name);
			fail(what, errno);
		}
		close(fds[i]);
		if (nss[i].type == CLONE_NEWPID)
			joinedpid = 1;
		if (nss[i].type == CLONE_NEWNET)
			joinednet = 1;
		// setns already moved root and cwd to the namespace's root; say
		// so here rather than trust every kernel's LOOKUP_DOWN.
		if (nss[i].type == CLONE_NEWNS && chdir("/") < 0)
			fail("changing to the container's root directory", errno);
	}

	// setns(CLONE_NEWPID) only places this process's children in the
	// namespace: fork one to be the process in the container.
	// Relayed signals are held across the fork so none is lost before the
	// parent's handlers exist. SIGCHLD goes to default so that a caller's
	// SIG_IGN cannot make the kernel reap the child and lose its status.
	sigemptyset(&set);
	for (i = 0; i < NRELAYED; i++)
		sigaddset(&set, relayed[i]);
	sigprocmask(SIG_BLOCK, &set, &mask);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &chld);
	self = getpid();
	pid = fork();
	if (pid < 0)
		fail("forking into the container's pid namespace", errno);
	if (pid > 0) {
		child = pid;
		// The spec, the console's and the binds' sockets are the
		// child's: with them closed here, the host side sees the end of
		// each when the child's execve or death closes it.
		syscall(SYS_close_range, 3, ~0U, 0);
		parent(&mask);
	}

	sigaction(SIGCHLD, &chld, NULL);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	// The parent is what the caller waits for: if it dies, so does this.
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		fail("setting the parent-death signal", errno);
	// It may have died before the prctl. Seen from a pid namespace it is
	// not in, the parent's pid reads as 0: any other value means this
	// process was already reparented.
	if (getppid() != (joinedpid ? 0 : self))
		kill(getpid(), SIGKILL);
	run_spec();
}
