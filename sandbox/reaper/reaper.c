// The C half of package reaper: a container's init after hand-off. Once
// the container's process has run for a while, husk's Go init execs husk
// again with HUSK_REAP_PID set, and this constructor takes over before the
// Go runtime starts: it forwards signals to the process, reaps every child
// and exits with the process's code. It holds a few pages instead of a Go
// runtime's heap and the binary's pages.

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_PID "HUSK_REAP_PID"

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

__attribute__((constructor)) static void husk_reaper(void)
{
	const char *v = getenv(ENV_PID);
	if (v == NULL || *v == '\0')
		return;
	// Processes of the container must not reach husk's binary through
	// /proc/1/exe (CVE-2019-5736): first thing after the exec.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// The exec may have cleared the parent-death signal: the sandbox must
	// still end with the husk that supervises it.
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	pid_t child = (pid_t)atol(v);
	if (child <= 0)
		_exit(125);

	sigset_t all;
	sigfillset(&all);
	// The Go init execed with every signal blocked; they stay blocked and
	// are taken one by one below.
	sigprocmask(SIG_BLOCK, &all, NULL);
	struct sigaction sa = {0};
	sa.sa_handler = noop;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);

	reap_all(child); // it may have ended before the handlers existed
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&all, &info);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD)
			reap_all(child);
		else
			kill(child, sig);
	}
}
