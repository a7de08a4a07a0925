// Lookups inside the root: the walk that stands in for openat2 on older
// kernels gives what openat2(RESOLVE_IN_ROOT) gives, case by case, on a
// real tree of directories, files and symlinks.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../executor.h"
#include "check.h"

int has_openat2(void)
{
	struct open_how how = {0};
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT;
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static char root[256];

static void dir(const char *rel)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s%s'", root, rel);
	CHECK(system(cmd) == 0, "%s", cmd);
}

static void ln(const char *rel, const char *target)
{
	char p[512];
	snprintf(p, sizeof p, "%s%s", root, rel);
	CHECK(symlink(target, p) == 0, "symlink %s -> %s", p, target);
}

// tree makes the root's contents: what an image could hold.
static void tree(const char *outside)
{
	char p[512];
	dir("/a/b/c");
	snprintf(p, sizeof p, "%s/a/f", root);
	write_file(p, "");
	dir(outside);
	ln("/a/lnk", "b/c");
	ln("/a/flink", "f");
	ln("/a/b/up", "..");
	ln("/abs", "/a/b");
	ln("/esc", "../../../../..");
	ln("/escabs", "/../../a");
	ln("/hostabs", outside);
	ln("/ping", "pong");
	ln("/pong", "ping");
	ln("/self", "self");
	ln("/dang", "/missing/file");
	// A chain of 40 links, the most a lookup follows, and one of 41.
	for (int i = 0; i < 40; i++) {
		char name[32], target[32];
		snprintf(name, sizeof name, "/c%d", i);
		snprintf(target, sizeof target, i == 39 ? "/a" : "c%d", i + 1);
		ln(name, target);
	}
	ln("/over", "c0");
}

struct lookup {
	const char *path;
	int flags;
	const char *want; // where it leads, inside the root; NULL: err
	int err;
};

// check_one resolves c->path one way and compares with c's expectation.
static void check_one(const struct lookup *c, int openat2, const char *shown)
{
	errno = 0;
	int fd = openat2 ? husk_resolve(shown, c->flags) : husk_resolve_walk(shown, c->flags);
	int e = errno;
	const char *how = openat2 ? "openat2" : "the walk";
	char abbrev[48];
	snprintf(abbrev, sizeof abbrev, "%.40s%s", shown, strlen(shown) > 40 ? "..." : "");
	if (c->want == NULL) {
		CHECK(fd < 0 && e == c->err, "%s: %s: got fd %d, %s; want %s", how, abbrev, fd, strerror(e),
		      strerror(c->err));
	} else {
		char p[512];
		struct stat want, got;
		snprintf(p, sizeof p, "%s%s", root, c->want);
		CHECK(fd >= 0 && fstat(fd, &got) == 0 && lstat(p, &want) == 0 && got.st_dev == want.st_dev &&
			      got.st_ino == want.st_ino,
		      "%s: %s: got fd %d (%s); want %s", how, abbrev, fd, fd < 0 ? strerror(e) : "elsewhere", c->want);
	}
	if (fd >= 0)
		close(fd);
}

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

// refused runs husk_resolve in a child whose kernel answers openat2 with
// err, as one without it (ENOSYS) or an older seccomp profile (EPERM)
// does: the lookup must still resolve, by the walk, and stay on it.
static void refused(int err)
{
#ifdef NATIVE_ARCH
	pid_t pid = fork();
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4), // seccomp_data.arch
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), // seccomp_data.nr
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {sizeof f / sizeof f[0], f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
			_exit(3);
		husk_openat2 = -1;
		struct stat got, want;
		char p[512];
		snprintf(p, sizeof p, "%s/a/b/c", root);
		int fd = husk_resolve("/abs/c", 0);
		int ok = fd >= 0 && fstat(fd, &got) == 0 && stat(p, &want) == 0 && got.st_ino == want.st_ino;
		ok = ok && husk_openat2 == 0 && husk_resolve("/esc/a/missing", 0) < 0 && errno == ENOENT;
		_exit(ok ? 0 : 1);
	}
	int st = -1;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "openat2 refused with %s: the lookup did not take the walk (status %#x)", strerror(err), st);
#else
	(void)err;
#endif
}

void test_in_root(int openat2)
{
	char outside[256];
	snprintf(root, sizeof root, "%s", make_temp());
	snprintf(outside, sizeof outside, "%s", make_temp());
	tree(outside);
	char longname[NAME_MAX + 3] = "/", longpath[PATH_MAX + 1] = "/a", maxpath[PATH_MAX] = "/a";
	memset(longname + 1, 'x', NAME_MAX + 1);
	longname[NAME_MAX + 2] = 0;
	while (strlen(maxpath) < PATH_MAX - 2)
		strcat(maxpath, "/.");
	strcat(maxpath, "/");
	snprintf(longpath, sizeof longpath, "%s.", maxpath);
	const struct lookup cases[] = {
		{"/a/b/c", 0, "/a/b/c", 0},
		{"a/b/c", O_DIRECTORY, "/a/b/c", 0},
		{"//a//./b/", 0, "/a/b", 0},
		{"/", 0, "", 0},
		{"/a/lnk", 0, "/a/b/c", 0},
		{"/a/lnk/..", 0, "/a/b", 0},
		{"/a/b/up/b/up/b/up/f", 0, "/a/f", 0},
		{"/abs/c", 0, "/a/b/c", 0},
		{"/abs", O_NOFOLLOW, "/abs", 0},
		{"/abs/", O_NOFOLLOW, "/a/b", 0},
		{"/esc/a", 0, "/a", 0},
		{"/esc/esc/escabs/b", 0, "/a/b", 0},
		{"/a/b/../../../../a/b/c", 0, "/a/b/c", 0},
		{"/../../..", O_DIRECTORY, "", 0},
		{"/hostabs", 0, outside, 0},
		{"/c0", 0, "/a", 0},
		{"/over", 0, NULL, ELOOP},
		{"/ping", 0, NULL, ELOOP},
		{"/self/x", 0, NULL, ELOOP},
		{"/ping", O_NOFOLLOW, "/ping", 0},
		{"/dang", 0, NULL, ENOENT},
		{"/dang", O_NOFOLLOW, "/dang", 0},
		{"/missing", 0, NULL, ENOENT},
		{"/a/f", 0, "/a/f", 0},
		{"/a/f", O_DIRECTORY, NULL, ENOTDIR},
		{"/a/f/", 0, NULL, ENOTDIR},
		{"/a/f/x", 0, NULL, ENOTDIR},
		{"/a/f/..", 0, NULL, ENOTDIR},
		{"/a/flink/", 0, NULL, ENOTDIR},
		{"/a/flink", 0, "/a/f", 0},
		{"", 0, NULL, ENOENT},
		{longname, 0, NULL, ENAMETOOLONG},
		{maxpath, 0, "/a", 0},
		{longpath, 0, NULL, ENAMETOOLONG},
	};
	husk_root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(husk_root_fd >= 0, "opening %s", root);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (openat2) {
			husk_openat2 = 1;
			check_one(&cases[i], 1, cases[i].path);
		}
		check_one(&cases[i], 0, cases[i].path);
	}
	CHECK(husk_openat2 == (openat2 ? 1 : -1), "openat2 was given up: %d", husk_openat2);
	refused(ENOSYS);
	refused(EPERM);
	close(husk_root_fd);
	husk_root_fd = -1;
	husk_openat2 = -1;
	
}
