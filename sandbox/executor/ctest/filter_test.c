// PID 1's own seccomp filter and the user's Landlock domain, each tried in
// a child process: what they allow still works, the rest is refused.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../executor.h"
#include "check.h"

// in_child runs fn in a child and returns what it wrote: one letter per
// check, y for what happened as wanted.
static void in_child(void (*fn)(int out, const void *arg), const void *arg, char *got, size_t n)
{
	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t k;
	while (len < n - 1 && (k = read(p[0], got + len, n - 1 - len)) > 0)
		len += (size_t)k;
	got[len] = 0;
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void report(int out, int ok)
{
	if (syscall(SYS_write, out, ok ? "y" : "n", 1) != 1)
		_exit(3);
}

static int refused(long r)
{
	return r == -1 && errno == EPERM;
}

static void filtered(int out, const void *arg)
{
	(void)arg;
	struct sock_filter f[128];
	struct sock_fprog prog = {(unsigned short)husk_filter_build(husk_pid1_allow, husk_pid1_nallow, f, 128), f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		_exit(4);
	report(out, 1); // write is allowed
	report(out, refused(syscall(SYS_getpid)));
	report(out, refused(syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY)));
	report(out, refused(syscall(SYS_execve, "/bin/true", NULL, NULL)));
	report(out, refused(syscall(SYS_ptrace, 16, 1, 0, 0)));
	report(out, refused(syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0)));
	long s = syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	report(out, s >= 0);
	report(out, syscall(SYS_close, s) == 0);
	report(out, syscall(SYS_kill, 0, 0) == 0);
}

static void test_filter(void)
{
	struct sock_filter f[128];
	int n = husk_filter_build(husk_pid1_allow, husk_pid1_nallow, f, 128);
	CHECK(n > husk_pid1_nallow, "PID 1's filter: %d instructions for %d calls", n, husk_pid1_nallow);
	CHECK(husk_filter_build(husk_pid1_allow, husk_pid1_nallow, f, 8) == 0, "a filter too long for its room");
#ifdef __SANITIZE_ADDRESS__
	// The sanitizers' runtime makes calls of its own that the filter
	// refuses, and spins: the plain build runs this check.
	return;
#endif
	char got[32];
	in_child(filtered, NULL, got, sizeof got);
	CHECK(strcmp(got, "yyyyyyyyy") == 0,
	      "under PID 1's filter (write; getpid, openat, execve, ptrace, unix socket refused; IPv4 socket, "
	      "close, kill allowed): %s",
	      got);
}

// landlocked: the parent is out of reach of ptrace, while files,
// renames and links across directories, and truncation work as before.
static void landlocked(int out, const void *arg)
{
	const char *dir = arg;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || husk_landlock(0) != 0)
		_exit(4);
	// A seize does not stop the parent, should it succeed.
	report(out, refused(syscall(SYS_ptrace, PTRACE_SEIZE, getppid(), 0, 0)));
	char path[256], a[300], b[300];
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/sub/b", dir);
	report(out, mkdir(a, 0755) == 0 && rmdir(a) == 0);
	int fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	report(out, fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0);
	snprintf(path, sizeof path, "%s/sub", dir);
	report(out, mkdir(path, 0755) == 0 && rename(a, b) == 0 && link(b, a) == 0);
	report(out, truncate(a, 0) == 0);
}

static void test_landlock(void)
{
	if (husk_landlock_abi() < 1) {
		printf("ctest: this kernel has no Landlock: its checks are not run\n");
		return;
	}
	char got[32];
	in_child(landlocked, make_temp(), got, sizeof got);
	CHECK(strcmp(got, "yyyyy") == 0,
	      "in the Landlock domain (ptrace of the parent refused; mkdir, create, rename and link across "
	      "directories, truncate allowed): %s",
	      got);
}

void test_pid1(void)
{
	test_filter();
	test_landlock();
}
