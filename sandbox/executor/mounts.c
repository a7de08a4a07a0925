// The init's mounts: the scratch tmpfs, the root, the setup operations
// applied in one loop (one case per kind, each target resolved inside the
// root by paths.c, never out of it), the read-only remounts and the pivot.

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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

// ---- mounts: targets resolved inside the root, never out of it ----

static const char *flag_names(unsigned long f, char *buf, size_t n)
{
	static const struct { unsigned long f; const char *name; } list[] = {
		{MS_RDONLY, "ro"}, {MS_NOSUID, "nosuid"}, {MS_NODEV, "nodev"}, {MS_NOEXEC, "noexec"},
		{MS_BIND, "bind"}, {MS_REC, "rec"}, {MS_REMOUNT, "remount"}, {MS_PRIVATE, "private"},
		{MS_SLAVE, "slave"}, {MS_STRICTATIME, "strictatime"},
	};
	buf[0] = 0;
	for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
		if (f & list[i].f) {
			if (buf[0])
				strncat(buf, ",", n - strlen(buf) - 1);
			strncat(buf, list[i].name, n - strlen(buf) - 1);
		}
	}
	return buf;
}

// do_mount mounts and, on failure, names the mount and its target.
static void do_mount(const char *source, const char *target, const char *shown, const char *fstype,
		     unsigned long flags, const char *data)
{
	if (mount(source, target, fstype && *fstype ? fstype : NULL, flags, data && *data ? data : NULL) == 0)
		return;
	int e = errno;
	char fl[128], src[512] = "";
	if (source && *source && !(fstype && strcmp(source, fstype) == 0))
		snprintf(src, sizeof src, " %s", source);
	flag_names(flags, fl, sizeof fl);
	husk_fail(125, "mount%s%s%s on %s%s%s%s: %s", fstype && *fstype ? " " : "", fstype ? fstype : "", src, shown,
	     fl[0] ? " (" : "", fl, fl[0] ? ")" : "", strerror(e));
}

// at opens target inside the root for a mount on it: the returned
// /proc/self/fd path names exactly what was resolved.
static int at(const char *target, char *procpath, size_t n)
{
	int fd = husk_resolve(target, 0);
	if (fd >= 0)
		snprintf(procpath, n, "/proc/self/fd/%d", fd);
	return fd;
}


// set_readonly makes the mount at target and every mount below it
// read-only.
static void set_readonly(const char *target, const char *shown)
{
	struct mount_attr attr = {0};
	attr.attr_set = MOUNT_ATTR_RDONLY;
	if (syscall(SYS_mount_setattr, -1, target, AT_RECURSIVE, &attr, sizeof attr) == 0)
		return;
	if (errno != ENOSYS)
		husk_fail(125, "mount_setattr ro on %s: %s", shown, strerror(errno));
	husk_remount_readonly(target, shown);
}

// remount_readonly makes the one mount at target read-only, keeping the
// flags a user namespace may not clear.
void husk_remount_readonly(const char *target, const char *shown)
{
	struct statvfs st;
	if (statvfs(target, &st) != 0)
		husk_fail(125, "statfs on %s: %s", shown, strerror(errno));
	unsigned long locked = st.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	do_mount("", target, shown, "", MS_REMOUNT | MS_BIND | MS_RDONLY | locked, "");
}

// squashfs_prefix marks a mount program's data as husk's squashfs root
// (squash.RootOps): the init starts husk's FUSE server itself, with no
// mount program between, and the server says on fd 3 that the root is
// mounted ("ok") or why not, then stays as the mount's server, in the
// sandbox's pid namespace, until the sandbox ends.
static const char squashfs_prefix[] = "husk-squashfs=";

static void squashfs_serve(const struct husk_op *o, const char *target)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		husk_fail(125, "starting husk's squashfs server on %s: %s", target, strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		int status = fcntl(p[1], F_DUPFD, 10), null = open("/dev/null", O_RDWR);
		if (status < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(status, 3) < 0)
			_exit(127);
		// Nothing else of the init's (its status pipe, the network's
		// sockets) goes with the server: as Go's exec, fds 0 to 3 alone.
		if (syscall(SYS_close_range, 4, ~0U, 0) != 0)
			for (int fd = 4; fd < 4096; fd++)
				close(fd);
		// None of the user's host environment: only the function's name.
		char *argv[] = {"husk", "squashfs-serve", (char *)o->data + sizeof squashfs_prefix - 1, (char *)target, NULL};
		char *envp[] = {"HUSK_CALL=squashfs-serve", NULL};
		execve(o->source, argv, envp);
		dprintf(3, "starting husk's squashfs server %s: %s\n", o->source, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		husk_fail(125, "starting husk's squashfs server on %s: %s", target, strerror(errno));
	}
	char out[512] = "";
	ssize_t n = 0, r;
	while (n < (ssize_t)sizeof out - 1 && (r = read(p[0], out + n, sizeof out - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += r;
	}
	out[n] = 0;
	close(p[0]);
	if (strcmp(out, "ok\n") == 0)
		return; // the server goes on; the init reaps it at the end
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
	husk_fail(125, "%s", n > 0 ? out : "husk's squashfs server ended before mounting: this is husk's own error");
}

static void fuse_overlay(const struct husk_op *o, const char *target)
{
	if (strncmp(o->data, squashfs_prefix, sizeof squashfs_prefix - 1) == 0) {
		squashfs_serve(o, target);
		return;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		husk_fail(125, "mount fuse-overlayfs on %s: %s", target, strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		// The mount program may be husk itself (a squashfs root): it must
		// not take itself for the init.
		unsetenv(HUSK_ENV_CINIT);
		execl(o->source, o->source, "-o", o->data, target, (char *)NULL);
		dprintf(2, "%s", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	char out[512] = "";
	ssize_t n = 0, r;
	while (n < (ssize_t)sizeof out - 1 && (r = read(p[0], out + n, sizeof out - 1 - n)) > 0)
		n += r;
	out[n] = 0;
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
			out[--n] = 0;
		husk_fail(125, "mount fuse-overlayfs %s on %s: exit status %d: %s", o->source, target,
		     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out);
	}
}

// make_symlink makes the symlink o->target -> o->source inside the root.
static void make_symlink(const struct husk_op *o)
{
	char dir[4096], base[4096];
	husk_split(o->target, dir, base, sizeof dir);
	husk_make_dirs(dir);
	int parent = husk_resolve(dir, O_DIRECTORY);
	if (parent < 0 || (symlinkat(o->source, parent, base) != 0 && errno != EEXIST))
		husk_fail(125, "making the symlink %s: %s", o->target, strerror(errno));
	close(parent);
}

// apply_op is one step of the loop: one case per kind, as sandbox.applyOne.
void husk_apply_op(const struct husk_op *o)
{
	char p[64];
	struct stat st;
	int fd = -1;
	switch (o->kind) {
	case HUSK_OP_MOUNT:
		husk_make_dirs(o->target);
		fd = at(o->target, p, sizeof p);
		do_mount(o->source, p, o->target, o->fstype, o->flags, o->data);
		break;
	case HUSK_OP_BIND:
		if (stat(o->source, &st) != 0)
			goto missing;
		if (S_ISDIR(st.st_mode))
			husk_make_dirs(o->target);
		else
			husk_make_file(o->target);
		fd = at(o->target, p, sizeof p);
		do_mount(o->source, p, o->target, "", MS_BIND | MS_REC, "");
		if (o->flags & MS_RDONLY) {
			close(fd);
			fd = at(o->target, p, sizeof p); // the new mount, not what it covers
			set_readonly(p, o->target);
		}
		break;
	case HUSK_OP_BIND_DEV:
	case HUSK_OP_FILE:
		husk_make_file(o->target);
		fd = at(o->target, p, sizeof p);
		do_mount(o->source, p, o->target, "", MS_BIND, "");
		break;
	case HUSK_OP_MKDIR:
		husk_make_dirs(o->target);
		break;
	case HUSK_OP_SYMLINK:
		make_symlink(o);
		break;
	case HUSK_OP_MASK:
		fd = at(o->target, p, sizeof p);
		if (fd < 0 || fstat(fd, &st) != 0)
			goto missing;
		if (S_ISDIR(st.st_mode))
			do_mount("tmpfs", p, o->target, "tmpfs", MS_RDONLY, "size=0");
		else
			do_mount("/dev/null", p, o->target, "", MS_BIND, "");
		break;
	case HUSK_OP_READONLY:
		fd = at(o->target, p, sizeof p);
		if (fd < 0)
			goto missing;
		do_mount(p, p, o->target, "", MS_BIND | MS_REC, "");
		close(fd);
		fd = at(o->target, p, sizeof p);
		set_readonly(p, o->target);
		break;
	default:
		husk_fail(125, "unknown setup operation \"%s\"", husk_op_name(o->kind));
	}
	if (fd >= 0)
		close(fd);
	return;
missing:
	if (o->optional && errno == ENOENT)
		return;
	husk_fail(125, "%s %s: %s", husk_op_name(o->kind), o->target, strerror(errno));
}

// ---- the steps before the pivot ----

void husk_make_private(void)
{
	do_mount("", "/", "/", "", MS_REC | MS_PRIVATE, "");
}

char husk_root_path[4096];

void husk_mount_scratch(const struct husk_spec *s)
{
	do_mount("tmpfs", s->scratch, s->scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700");
	static const char *subs[] = {"root", "files", "upper", "work"};
	for (int i = 0; i < 4; i++) {
		char d[4096];
		snprintf(d, sizeof d, "%s/%s", s->scratch, subs[i]);
		if (mkdir(d, 0755) != 0)
			husk_fail(125, "mounting the scratch tmpfs: making %s in the scratch tmpfs: %s", subs[i], strerror(errno));
	}
	snprintf(husk_root_path, sizeof husk_root_path, "%s/root", s->scratch);
}

void husk_build_root(const struct husk_spec *s)
{
	for (int i = 0; i < s->nroot; i++) {
		const struct husk_op *o = &s->root_ops[i];
		if (o->kind == HUSK_OP_FUSE_OVERLAY)
			fuse_overlay(o, husk_root_path);
		else if (o->kind == HUSK_OP_BIND) {
			// A vfs copy, or the host's own root for husk shell, which
			// stays read-only down to every mount below it.
			do_mount(o->source, husk_root_path, "/", "", MS_BIND | MS_REC, "");
			if (o->flags & MS_RDONLY)
				set_readonly(husk_root_path, "/");
		}
		else
			do_mount(o->source, husk_root_path, "/", o->fstype, o->flags, o->data);
	}
	// The fuse-overlayfs daemon stays in this mount namespace; the init
	// goes on in a copy of it. Otherwise the pivot would move the
	// daemon's own root and working directory onto the mount it serves,
	// and its first lookup by path would wait on itself (podman keeps it
	// outside the container's mount namespace likewise).
	if (s->nroot > 0 && s->root_ops[0].kind == HUSK_OP_FUSE_OVERLAY && unshare(CLONE_NEWNS) != 0)
		husk_fail(125, "building the root filesystem: leaving fuse-overlayfs's mount namespace: %s", strerror(errno));
	husk_root_fd = open(husk_root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (husk_root_fd < 0)
		husk_fail(125, "building the root filesystem: opening %s: %s", husk_root_path, strerror(errno));
}

void husk_write_files(const struct husk_spec *s)
{
	for (int i = 0; i < s->nfiles; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/files/%d", s->scratch, i);
		int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
		size_t n = strlen(s->file_content[i]);
		if (fd < 0 || write(fd, s->file_content[i], n) != (ssize_t)n)
			husk_fail(125, "writing /etc/hosts, /etc/hostname, /etc/resolv.conf: writing %s: %s", s->file_path[i],
			     strerror(errno));
		close(fd);
	}
}
void husk_pivot(void)
{
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0)
		husk_fail(125, "pivoting into the root: opening the old root: %s", strerror(errno));
	if (chdir(husk_root_path) != 0)
		husk_fail(125, "pivoting into the root: entering the new root %s: %s", husk_root_path, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") != 0)
		husk_fail(125, "pivoting into the root: pivot_root into %s: %s", husk_root_path, strerror(errno));
	if (fchdir(old) != 0)
		husk_fail(125, "pivoting into the root: entering the old root: %s", strerror(errno));
	// The old root may still be shared with the host: keep its unmount here.
	do_mount("", ".", "the old root", "", MS_SLAVE | MS_REC, "");
	if (umount2(".", MNT_DETACH) != 0)
		husk_fail(125, "pivoting into the root: umount on the old root: %s", strerror(errno));
	if (chdir("/") != 0)
		husk_fail(125, "pivoting into the root: %s", strerror(errno));
	close(old);
	close(husk_root_fd);
}
