// The user namespace's entry: a store command that runs wholly in husk's
// user and mount namespace (save, load, push, pull, images, history,
// rmi, tag, each also as `husk image VERB`) would have its Go side
// re-execute husk into it (userns.Enter), a second Go runtime to start.
// Here, before any Go runtime, this process clones itself into the
// namespace the Go side wrote down (the entry file, start/entry.go: the
// clone flags, the ID maps, the files whose change voids them), maps the
// child as the prelaunch does, and stays in C: it relays signals as
// userns/signals.go does and exits with the child's code (128+N after
// signal N). The child returns to Go at once, and husk_entered tells main,
// which waits until the parent has mapped it.
// Anything unexpected returns before the clone, or after it with the child
// gone, and the Go side takes the usual path, which names any failure.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

const char *husk_entered;
int husk_entered_sync = -1;

// The verbs whose whole work is in the namespace: nothing on the host
// first. A question (image prune's) is asked by the child, which reads
// the same terminal.
static const char *const verbs[] = {"save", "load", "push", "pull", "images", "history", "rmi", "tag", NULL};

// The same commands as `husk image VERB` (cli/image.go's ImageCmd), and
// inspect and prune, which have no short form of their own here (`husk
// inspect` reads containers on the host too).
static const char *const image_verbs[] = {"save", "load", "push", "pull", "ls", "list", "history", "rm", "remove", "tag", "inspect", "prune", NULL};

// `husk system VERB`: df reads the store, the containers and the volumes.
static const char *const system_verbs[] = {"df", NULL};

// The signals userns/signals.go relays: `kill PID` names the parent.
static const int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, 0};

static int one_of(const char *v, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(v, list[i]) == 0)
			return 1;
	return 0;
}

// store_verb says whether the command line names one of those commands,
// directly or under `image` or `system`; a flag before the verb takes the
// usual path.
static int store_verb(int argc, char **argv)
{
	if (argc >= 2 && one_of(argv[1], verbs))
		return 1;
	if (argc < 3)
		return 0;
	if (strcmp(argv[1], "image") == 0)
		return one_of(argv[2], image_verbs);
	return strcmp(argv[1], "system") == 0 && one_of(argv[2], system_verbs);
}

// in_foreground says whether this process's group owns its terminal:
// Ctrl-C and Ctrl-\ then reached the child too, and are not sent again.
static int in_foreground(void)
{
	for (int fd = 0; fd < 3; fd++) {
		pid_t fg = tcgetpgrp(fd);
		if (fg >= 0)
			return fg == getpgrp();
	}
	return 0;
}

static int code_of(int st)
{
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

// relay passes the relayed signals (blocked, with SIGCHLD, in set) on to
// pid until it ends, and returns its code. Without a signalfd it only
// waits: the terminal's signals still reach the child, but those sent to
// this process alone stay pending here.
static int relay(pid_t pid, const sigset_t *set)
{
	int st, sfd = signalfd(-1, set, SFD_CLOEXEC);
	for (;;) {
		pid_t w = waitpid(pid, &st, sfd >= 0 ? WNOHANG : 0);
		if (w == pid)
			return code_of(st);
		if (w < 0 && errno != EINTR)
			return 125;
		struct signalfd_siginfo si;
		if (sfd < 0 || read(sfd, &si, sizeof si) != sizeof si || si.ssi_signo == SIGCHLD)
			continue;
		if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT) && in_foreground())
			continue;
		kill(pid, (int)si.ssi_signo);
	}
}

// child goes on to Go at once, its runtime starting while the parent maps
// it: Go waits on sync_r for the parent's word before it does anything as
// root (userns.EnteredInit). A parent that died already leaves it to exit.
// A child of a raw clone running the Go runtime is runc's nsexec pattern:
// glibc's cached thread ID stays its parent's, which only glibc's raise
// and pthread_kill of the main thread use; the Go runtime calls neither.
static int child(pid_t parent, int sync_r, const char *mode, const sigset_t *old)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(125);
	sigprocmask(SIG_SETMASK, old, NULL);
	husk_entered = mode, husk_entered_sync = sync_r;
	return 1;
}

// entry reads the entry file: 0 and l filled (its strings in *file), or -1.
static int entry(struct husk_launch *l, char **file)
{
	size_t len;
	int dfd = husk_open_launch_dir();
	if (dfd < 0)
		return -1;
	*file = husk_read_file(dfd, HUSK_ENTRY_NAME, &len);
	close(dfd);
	if (*file != NULL && husk_entry_parse(*file, len, l) == 0 && husk_unchanged(l->watch, l->watch_len))
		return 0;
	free(*file);
	return -1;
}

int husk_userns_entry(int argc, char **argv)
{
	struct husk_launch l;
	char *file;
	int sync[2];
	if (!store_verb(argc, argv) || husk_reexecuted() || geteuid() == 0 || entry(&l, &file) != 0)
		return 0;
	if (pipe2(sync, O_CLOEXEC) != 0) {
		free(file);
		return 0;
	}
	// Blocked before the clone, so that none is lost before the relay.
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; relayed[i]; i++)
		sigaddset(&set, relayed[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	pid_t parent = getpid(), pid = syscall(SYS_clone, strtoul(l.flags, NULL, 10) | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		return child(parent, sync[0], l.mode, &old); // file stays: husk_entered is in it
	}
	close(sync[0]);
	int ok = pid > 0 && husk_map(&l, pid, sync[1]) == 0;
	close(sync[1]);
	free(file);
	if (!ok) {
		if (pid > 0)
			husk_abandon(pid);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 0;
	}
	exit(relay(pid, &set));
}
