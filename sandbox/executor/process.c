// The user's process, for the init and for exec alike: its user and
// groups from the image's files, its terminal, its command found in its
// own PATH, and the privilege drop in runc's order before the execve; the
// 126/127 codes for what failed.

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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

// ---- the user: the image's /etc/passwd and /etc/group, after the pivot ----

static void check_mapped(const char *spec_user, const char *what, long id, const char *map)
{
	if (id == 0)
		return;
	FILE *f = fopen(map, "re");
	if (f == NULL)
		return;
	long in, out, n;
	int ok = 0;
	while (fscanf(f, "%ld %ld %ld", &in, &out, &n) == 3)
		if (id >= in && id < in + n)
			ok = 1;
	fclose(f);
	if (!ok)
		husk_fail(125, "user \"%s\" (%s %ld): not mapped in husk's user namespace, because you have no subordinate id "
			       "range: ask the admin for one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "
			       "$USER), or run as root in the sandbox with -u 0",
			  spec_user, what, id);
}

static void resolve_user(const struct husk_spec *s, struct husk_cred *c)
{
	char err[1024];
	if (husk_resolve_user(s->user, "/etc/passwd", "/etc/group", c, err, sizeof err) != 0)
		husk_fail(125, "%s", err);
	check_mapped(s->user, "uid", (long)c->uid, "/proc/self/uid_map");
	check_mapped(s->user, "gid", (long)c->gid, "/proc/self/gid_map");
	if (s->ngroups > 0 && s->no_setgroups)
		husk_fail(125, "--group-add: supplementary groups need setgroups, which husk's single-id user namespace "
			       "denies: ask the admin for a subordinate id range, or drop --group-add");
	for (int i = 0; i < s->ngroups; i++) {
		if (husk_add_group(s->groups[i], "/etc/group", c, err, sizeof err) != 0)
			husk_fail(125, "%s", err);
		check_mapped(s->groups[i], "gid", (long)c->groups[c->ngroups - 1], "/proc/self/gid_map");
	}
}

// ---- the user's process ----

static void send_console(int *slave_out);

// husk_early_tty is the pty's slave opened before the process's user is
// known (husk_console_early), or -1.
static int husk_early_tty = -1;

// husk_console_early sends the pty's master at OCI create, as runc's
// --console-socket wants it (conmon waits for it before create is done);
// the process takes the slave at start.
void husk_console_early(void)
{
	send_console(&husk_early_tty);
}

static int open_console(const struct husk_cred *c, int keep_id)
{
	if (husk_early_tty >= 0) {
		if (!keep_id && fchown(husk_early_tty, c->uid, c->gid) != 0)
			husk_fail(125, "handing the pty to uid %d: %s", (int)c->uid, strerror(errno));
		return husk_early_tty;
	}
	int slave;
	send_console(&slave);
	if (!keep_id && fchown(slave, c->uid, c->gid) != 0)
		husk_fail(125, "handing the pty to uid %d: %s", (int)c->uid, strerror(errno));
	return slave;
}

// send_console opens a pty, sends its master to husk (or the OCI caller's
// console socket) and waits for the answer; the slave goes to *slave_out.
static void send_console(int *slave_out)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || unlockpt(master) != 0)
		husk_fail(125, "opening a pty in the sandbox: %s", strerror(errno));
	char *name = ptsname(master);
	int slave = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	if (slave < 0)
		husk_fail(125, "opening a pty in the sandbox: %s", strerror(errno));
	if (husk_send_fd(HUSK_FD_CONSOLE, "", 1, master) != 0)
		husk_fail(125, "sending the pty to husk: %s", strerror(errno));
	close(master);
	// husk answers once it has given the pty its window size, so that the
	// process never finds it 0x0 (stty, full-screen programs); EOF, when
	// husk went, starts the process all the same.
	char ack;
	while (read(HUSK_FD_CONSOLE, &ack, 1) < 0 && errno == EINTR)
		;
	close(HUSK_FD_CONSOLE);
	*slave_out = slave;
}

static const char *env_get(const struct husk_spec *s, const char *key)
{
	size_t n = strlen(key);
	const char *v = NULL;
	for (int i = 0; i < s->nenv; i++)
		if (strncmp(s->env[i], key, n) == 0 && s->env[i][n] == '=')
			v = s->env[i] + n + 1;
	return v;
}

// look_path finds the command in the sandbox's own PATH, after the pivot.
static int look_path(const struct husk_spec *s, char *out, size_t n)
{
	const char *name = s->args[0];
	if (strchr(name, '/')) {
		snprintf(out, n, "%s", name);
		return 0;
	}
	const char *path = env_get(s, "PATH");
	if (path == NULL)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	// Each element of PATH, an empty one meaning ".", as Go's LookPath.
	for (const char *p = path;;) {
		const char *end = strchrnul(p, ':');
		int len = end - p;
		snprintf(out, n, "%.*s/%s", len ? len : 1, len ? p : ".", name);
		struct stat st;
		if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
			return 0;
		if (*end == 0)
			break;
		p = end + 1;
	}
	return -1;
}

static int load_seccomp(const struct husk_spec *s)
{
	if (s->seccomp_len == 0)
		return 0;
	struct sock_fprog prog = {(unsigned short)(s->seccomp_len / sizeof(struct sock_filter)),
				  (struct sock_filter *)s->seccomp};
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static int keeps(const struct husk_spec *s, int cap)
{
	for (int i = 0; i < s->ncaps; i++)
		if (s->caps[i] == cap)
			return 1;
	return 0;
}

static int last_cap(void)
{
	int last = 40;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 40;
		fclose(f);
	}
	return last;
}

// The child's side of a failure: errno and the step, to the init.
struct child_err {
	int err;
	char what[200];
};

__attribute__((noreturn)) static void user_failed(const struct husk_spec *s, const struct husk_cred *c,
						  const struct child_err *ce);

// What exec's process, which reports its own failures, was starting.
static struct {
	const struct husk_spec *s;
	const struct husk_cred *c;
} self_report;

// child_fail ends the process on a failed step: the init's clone tells
// the init on pipe; exec's process (pipe -1) says it itself.
__attribute__((noreturn)) static void child_fail(int pipe, const char *what)
{
	struct child_err ce = {errno, ""};
	snprintf(ce.what, sizeof ce.what, "%s", what);
	if (pipe < 0)
		user_failed(self_report.s, self_report.c, &ce);
	if (write(pipe, &ce, sizeof ce) < 0) {
	}
	_exit(125);
}

// keep_parent_death sets again the parent-death signal that a change of
// ids cleared: exec's process dies with husk's side outside the
// container, as before, and at once if that side is gone already.
static void keep_parent_death(int sig, pid_t ppid, int errp)
{
	if (sig == 0)
		return;
	if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0)
		child_fail(errp, "setting the parent-death signal");
	if (getppid() != ppid)
		kill(getpid(), SIGKILL);
}

// drop_and_exec is runc's order: no_new_privs, seccomp (before the
// capabilities go, unless no_new_privs allows it without), the bounding
// set, the ids, the rest of the capabilities, then execve.
__attribute__((noreturn)) static void drop_and_exec(const struct husk_spec *s, const struct husk_cred *c,
						    const char *path, int tty, int errp, int lastcap)
{
	int pdeath = 0;
	pid_t ppid = getppid();
	prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0);
	// The init's process leads a session of its own. Exec's leads one only
	// for its terminal: without, it stays in its caller's process group,
	// where a terminal's signals reach it (nsenter.c's relay counts on it).
	if ((tty >= 0 || !s->exec) && setsid() < 0)
		child_fail(errp, "starting a session");
	if (tty >= 0) {
		if (ioctl(tty, TIOCSCTTY, 0) != 0)
			child_fail(errp, "taking the terminal");
		for (int fd = 0; fd < 3; fd++)
			dup2(tty, fd);
	}
	for (int i = 0; i < s->nrlimits; i++) {
		struct rlimit rl = {s->rlimits[i].soft, s->rlimits[i].hard};
		if (setrlimit(s->rlimits[i].resource, &rl) != 0)
			child_fail(errp, "setting the rlimits (--ulimit, --pids-limit)");
	}
	// run --join's tasks are execs that must reach each other's memory
	// (cross-memory attach), which sibling Landlock domains refuse; one
	// without CAP_SYS_PTRACE cannot trace the undumpable PID 1 anyway.
	int joined = s->exec && s->hold && !keeps(s, CAP_SYS_PTRACE);
	if (!joined && husk_landlock(keeps(s, CAP_SYS_ADMIN) || s->seccomp_len == 0) != 0)
		child_fail(errp, "entering a Landlock domain");
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		child_fail(errp, "setting no_new_privs");
	if (!s->no_new_privs && load_seccomp(s) != 0)
		child_fail(errp, "loading the seccomp filter");
	for (int cap = 0; cap <= lastcap; cap++)
		if (!keeps(s, cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			child_fail(errp, "dropping capabilities from the bounding set");
	if (!s->keep_id) {
		if (!s->no_setgroups && setgroups(c->ngroups, c->groups) != 0)
			child_fail(errp, "setting the groups");
		if (setresgid(c->gid, c->gid, c->gid) != 0)
			child_fail(errp, "setting the gid");
		if (setresuid(c->uid, c->uid, c->uid) != 0)
			child_fail(errp, "setting the uid");
	}
	keep_parent_death(pdeath, ppid, errp);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		child_fail(errp, "reading capabilities");
	for (int i = 0; i < 2; i++) {
		unsigned keep = 0;
		for (int b = 0; b < 32; b++)
			if (keeps(s, i * 32 + b))
				keep |= 1u << b;
		d[i].permitted &= keep;
		d[i].effective = d[i].permitted;
		d[i].inheritable = 0;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 || syscall(SYS_capset, &h, d) != 0)
		child_fail(errp, "dropping capabilities");
	if (s->no_new_privs && load_seccomp(s) != 0)
		child_fail(errp, "loading the seccomp filter");
	if (chdir(s->cwd) != 0)
		child_fail(errp, "changing to the working directory");
	// Nothing but stdio reaches the user's process.
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(path, (char *const *)s->args, (char *const *)s->env);
	child_fail(errp, "exec");
}

struct user_start {
	const struct husk_spec *s;
	const struct husk_cred *c;
	const char *path;
	int tty, errp, lastcap;
};

static int user_main(void *arg)
{
	const struct user_start *a = arg;
	// The child needs the signals its parent blocked, unblocked.
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	drop_and_exec(a->s, a->c, a->path, a->tty, a->errp, a->lastcap);
	return 125;
}

// prepare_user is what the init and exec do before the process's own
// steps: its user and groups, HOME, its terminal, its command in its PATH
// (127 when missing). It returns the terminal, or -1.
static int prepare_user(struct husk_spec *s, struct husk_cred *c, char *path, size_t n)
{
	if (!s->keep_id)
		resolve_user(s, c);
	if (!s->keep_id && env_get(s, "HOME") == NULL) {
		char *home;
		if (asprintf(&home, "HOME=%s", c->home) < 0)
			husk_fail(125, "starting the process: out of memory");
		s->env[s->nenv++] = home;
	}
	s->env[s->nenv] = NULL;
	s->args[s->nargs] = NULL;
	int tty = s->terminal ? open_console(c, s->keep_id) : -1;
	if (look_path(s, path, n) != 0)
		husk_fail(127, "running \"%s\": executable file not found in $PATH", s->args[0]);
	return tty;
}

// user_failed ends this process with Docker's code and one line for the
// step of drop_and_exec that failed.
static void user_failed(const struct husk_spec *s, const struct husk_cred *c, const struct child_err *ce)
{
	if (strcmp(ce->what, "exec") == 0) {
		if (ce->err == ENOENT)
			husk_fail(127, "running \"%s\": no such file or directory in the image", s->args[0]);
		if (ce->err == EACCES || ce->err == ENOEXEC || ce->err == EISDIR)
			husk_fail(126, "running \"%s\": %s", s->args[0], strerror(ce->err));
		husk_fail(125, "running \"%s\": %s", s->args[0], strerror(ce->err));
	}
	if (strcmp(ce->what, "loading the seccomp filter") == 0)
		husk_fail(125, "loading the seccomp filter: %s: use --security-opt seccomp=unconfined where seccomp is not allowed",
		     strerror(ce->err));
	if (strcmp(ce->what, "changing to the working directory") == 0)
		husk_fail(125, "changing to the working directory %s: %s", s->cwd, strerror(ce->err));
	if (strcmp(ce->what, "setting the uid") == 0)
		husk_fail(125, "setting uid %d: %s", (int)c->uid, strerror(ce->err));
	if (strcmp(ce->what, "setting the gid") == 0)
		husk_fail(125, "setting gid %d: %s", (int)c->gid, strerror(ce->err));
	husk_fail(125, "%s: %s", ce->what, strerror(ce->err));
}

// husk_start_user starts the user's process and waits for its execve; it
// returns the pid, or ends the init with Docker's code for what failed.
pid_t husk_start_user(struct husk_spec *s)
{
	struct husk_cred c = {0};
	char path[4096];
	int tty = prepare_user(s, &c, path, sizeof path);
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		husk_fail(125, "starting the process: %s", strerror(errno));
	struct user_start a = {s, &c, path, tty, p[1], last_cap()};
	// The child shares this memory until its execve, as posix_spawn's
	// does, instead of copying it: on a VM each page fault of a copy costs
	// tens of microseconds. This side is suspended meanwhile.
	static char stack[256 << 10] __attribute__((aligned(16)));
	pid_t pid = clone(user_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	if (pid < 0)
		husk_fail(125, "starting the process: %s", strerror(errno));
	close(p[1]);
	if (tty >= 0)
		close(tty);
	struct child_err ce;
	ssize_t n;
	while ((n = read(p[0], &ce, sizeof ce)) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (n != (ssize_t)sizeof ce)
		return pid; // the exec closed the pipe: it ran
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	user_failed(s, &c, &ce);
}

// husk_exec_user is exec's process: the init's steps for its process,
// here in this one, which the execve replaces (crun's shape: one set of
// functions for the init and for exec).
void husk_exec_user(struct husk_spec *s)
{
	static struct husk_cred c;
	char path[4096];
	int tty = prepare_user(s, &c, path, sizeof path);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	self_report.s = s;
	self_report.c = &c;
	drop_and_exec(s, &c, path, tty, -1, last_cap());
}

// husk_start_holder starts run --join's holding process: it only waits,
// so that the container lives while its tasks' execs come and go; the
// stop signal (default actions restored) or the init's death ends it, and
// with it the container. It runs no program, so it needs no credentials.
pid_t husk_start_holder(void)
{
	pid_t pid = fork();
	if (pid < 0)
		husk_fail(125, "starting the holding process: %s", strerror(errno));
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (;;)
		pause();
}
