// The user's process (and exec's) enters a Landlock domain of its own, so
// that nothing in the container can trace or inspect its PID 1 (issue 12,
// item 8). PID 1 is undumpable, but the kernel lets whoever has
// CAP_SYS_PTRACE in the user namespace of the init's memory trace an
// undumpable process anyway, and an init exec'd in the container's user
// namespace is the container's: `--cap-add SYS_PTRACE` would reach it.
// Landlock refuses ptrace, and the ptrace-checked parts of /proc
// (/proc/PID/mem, environ, fd, maps, exe, root), from a domain to any
// process outside it, whatever the capabilities; PID 1 is in none.
//
// The domain handles the filesystem rights and grants every one beneath
// the container's /, so files, devices, volumes and sockets behave as
// before. What a filesystem domain does change: mount, umount and
// pivot_root are refused inside it. A process that keeps CAP_SYS_ADMIN
// may mean to mount; it gets a domain that scopes abstract unix sockets
// instead (Landlock ABI 6), which leaves mounts alone, and where the
// kernel has no such scope it gets no domain (and PID 1 stays traceable
// by it, as it would be by anything that holds CAP_SYS_ADMIN there).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "executor.h"

// Rights and flags newer than the build host's headers.
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif

// The ruleset's attributes as of ABI 6, whatever the headers say: the
// kernel takes the size it is given.
struct ruleset_attr {
	uint64_t fs, net, scoped;
};

int husk_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

// fs_rights is every filesystem right the kernel's ABI knows. Each must
// be handled and granted: REFER unhandled would refuse every rename and
// link across directories.
static uint64_t fs_rights(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

static int ruleset(int abi, int may_mount)
{
	struct ruleset_attr a = {0};
	if (!may_mount) {
		a.fs = fs_rights(abi);
		return (int)syscall(SYS_landlock_create_ruleset, &a, sizeof a.fs, 0);
	}
	a.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
	return (int)syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
}

static int grant_root(int rs, int abi)
{
	struct landlock_path_beneath_attr pb = {0};
	pb.allowed_access = fs_rights(abi);
	pb.parent_fd = open("/", O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return -1;
	int r = (int)syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	close(pb.parent_fd);
	return r;
}

// husk_landlock puts the calling process, after the pivot, in a domain of
// its own (may_mount: the process keeps CAP_SYS_ADMIN). 0 also where the
// kernel has none (husk info says so); -1 with errno when it failed.
// Before the capabilities go: without no_new_privs, restricting needs
// CAP_SYS_ADMIN in the user namespace.
int husk_landlock(int may_mount)
{
	int abi = husk_landlock_abi();
	if (abi < 1 || (may_mount && abi < 6))
		return 0;
	int rs = ruleset(abi, may_mount);
	if (rs < 0)
		return -1;
	int r = may_mount ? 0 : grant_root(rs, abi);
	if (r == 0)
		r = (int)syscall(SYS_landlock_restrict_self, rs, 0);
	int e = errno;
	close(rs);
	errno = e;
	return r;
}
