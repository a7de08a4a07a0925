// The sandbox's init in C: when the host side has decided everything (the
// Spec, encoded by sandbox.CSpec.Encode), husk is executed as PID 1 of the
// new namespaces with HUSK_CINIT naming the spec's descriptor, and the
// init entry (entry.c) builds the root, starts the user's process and
// becomes its reaper, all before (and instead of) the Go runtime: a Go
// runtime's start costs several times what the rest of the init does.
//
// The steps and their messages are those of the Go init (sandbox.run).

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

// do_mount mounts and, on failure, names it as the Go init's mountError.
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

static void remount_readonly(const char *target, const char *shown);

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
	remount_readonly(target, shown);
}

// remount_readonly makes the one mount at target read-only, keeping the
// flags a user namespace may not clear.
static void remount_readonly(const char *target, const char *shown)
{
	struct statvfs st;
	if (statvfs(target, &st) != 0)
		husk_fail(125, "statfs on %s: %s", shown, strerror(errno));
	unsigned long locked = st.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	do_mount("", target, shown, "", MS_REMOUNT | MS_BIND | MS_RDONLY | locked, "");
}

static void fuse_overlay(const struct husk_op *o, const char *target)
{
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
static void apply_op(const struct husk_op *o)
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

static void make_private(void)
{
	do_mount("", "/", "/", "", MS_REC | MS_PRIVATE, "");
}

static char root_path[4096];

static void mount_scratch(const struct husk_spec *s)
{
	do_mount("tmpfs", s->scratch, s->scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700");
	static const char *subs[] = {"root", "files", "upper", "work"};
	for (int i = 0; i < 4; i++) {
		char d[4096];
		snprintf(d, sizeof d, "%s/%s", s->scratch, subs[i]);
		if (mkdir(d, 0755) != 0)
			husk_fail(125, "mounting the scratch tmpfs: making %s in the scratch tmpfs: %s", subs[i], strerror(errno));
	}
	snprintf(root_path, sizeof root_path, "%s/root", s->scratch);
}

static void build_root(const struct husk_spec *s)
{
	for (int i = 0; i < s->nroot; i++) {
		const struct husk_op *o = &s->root_ops[i];
		if (o->kind == HUSK_OP_FUSE_OVERLAY)
			fuse_overlay(o, root_path);
		else if (o->kind == HUSK_OP_BIND)
			do_mount(o->source, root_path, "/", "", MS_BIND | MS_REC, "");
		else
			do_mount(o->source, root_path, "/", o->fstype, o->flags, o->data);
	}
	// The fuse-overlayfs daemon stays in this mount namespace; the init
	// goes on in a copy of it. Otherwise the pivot would move the
	// daemon's own root and working directory onto the mount it serves,
	// and its first lookup by path would wait on itself (podman keeps it
	// outside the container's mount namespace likewise).
	if (s->nroot > 0 && s->root_ops[0].kind == HUSK_OP_FUSE_OVERLAY && unshare(CLONE_NEWNS) != 0)
		husk_fail(125, "building the root filesystem: leaving fuse-overlayfs's mount namespace: %s", strerror(errno));
	husk_root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (husk_root_fd < 0)
		husk_fail(125, "building the root filesystem: opening %s: %s", root_path, strerror(errno));
}

static void write_files(const struct husk_spec *s)
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

static void if_flags_up(int sock, const char *name)
{
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
		husk_fail(125, "setting up the network: reading the flags of %s: %s", name, strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0)
		husk_fail(125, "setting up the network: bringing up %s: %s", name, strerror(errno));
}

static void set_addr(int sock, const char *name, unsigned long req, const char *ip, const char *what)
{
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	struct sockaddr_in *a = (struct sockaddr_in *)&ifr.ifr_addr;
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	if (ioctl(sock, req, &ifr) != 0)
		husk_fail(125, "setting up the network: setting the %s of %s: %s", what, name, strerror(errno));
}

// setup_net: the builtin stack gets a TAP device made here and sent to
// the host side; slirp4netns and pasta configure the namespace themselves
// and the host side says when they have (as sandbox.setupNet).
static void setup_net(const struct husk_spec *s)
{
	if (!s->has_net)
		return;
	const struct husk_net *n = &s->net;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		husk_fail(125, "setting up the network: opening a socket: %s", strerror(errno));
	if_flags_up(sock, "lo");
	if (strcmp(n->mode, "builtin") != 0) {
		char b;
		struct timeval tv = {60, 0};
		setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (read(n->fd, &b, 1) != 1)
			husk_fail(125, "setting up the network: waiting for %s to configure the network: %s", n->mode,
			     strerror(errno));
		tv.tv_sec = 0;
		setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		close(sock);
		return;
	}
	int tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap < 0)
		husk_fail(125, "setting up the network: /dev/net/tun is not usable by you (%s): ask the admin to run chmod "
			  "0666 /dev/net/tun, or use --network none or host", strerror(errno));
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, n->tap, IFNAMSIZ - 1);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	// Persistent: the namespace's own teardown removes it, in the
	// background, instead of the last close (see network.openTap).
	if (ioctl(tap, TUNSETIFF, &ifr) != 0 || ioctl(tap, TUNSETPERSIST, 1) != 0)
		husk_fail(125, "setting up the network: creating the tap device %s in the sandbox: %s", n->tap, strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, n->tap, IFNAMSIZ - 1);
	ifr.ifr_mtu = n->mtu;
	if (ioctl(sock, SIOCSIFMTU, &ifr) != 0)
		husk_fail(125, "setting up the network: setting the MTU of %s: %s", n->tap, strerror(errno));
	set_addr(sock, n->tap, SIOCSIFADDR, n->ip, "address");
	set_addr(sock, n->tap, SIOCSIFNETMASK, n->mask, "netmask");
	if_flags_up(sock, n->tap);
	struct rtentry rt = {0};
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gw = (struct sockaddr_in *)&rt.rt_gateway,
			   *mask = (struct sockaddr_in *)&rt.rt_genmask;
	dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
	inet_pton(AF_INET, n->gw, &gw->sin_addr);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = (char *)n->tap;
	if (ioctl(sock, SIOCADDRT, &rt) != 0)
		husk_fail(125, "setting up the network: adding the default route via %s: %s", n->gw, strerror(errno));
	close(sock);
	if (husk_send_fd(n->fd, "", 1, tap) != 0)
		husk_fail(125, "setting up the network: sending the tap device to husk: %s", strerror(errno));
	close(tap);
}

// watch_binds hands the host side a seccomp listener that hears of every
// bind(2) in the sandbox (network.ServeBinds), for port_handler=direct: a
// server binding a published TCP port is given the host's listening
// socket instead, so the host's connections reach it with no relay in
// between. The init takes the filter itself and the user's process
// inherits it, under its own profile. Where the kernel has no listeners
// (before 5.0) the published ports go through the relay alone.
static void watch_binds(const struct husk_spec *s)
{
	if (!s->has_net || !s->net.direct)
		return;
#if defined(__x86_64__)
	const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const unsigned arch = AUDIT_ARCH_AARCH64;
#else
	return;
#endif
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd < 0)
		return;
	// Sent or not, the init keeps no copy: with the host side gone, a
	// bind fails at once (ENOSYS) instead of waiting for an answer.
	husk_send_fd(s->net.fd, "", 1, lfd);
	close(lfd);
}

static void pivot(void)
{
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0)
		husk_fail(125, "pivoting into the root: opening the old root: %s", strerror(errno));
	if (chdir(root_path) != 0)
		husk_fail(125, "pivoting into the root: entering the new root %s: %s", root_path, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") != 0)
		husk_fail(125, "pivoting into the root: pivot_root into %s: %s", root_path, strerror(errno));
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
}

// ---- the user's process ----

static int open_console(const struct husk_cred *c, int keep_id)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || unlockpt(master) != 0)
		husk_fail(125, "opening a pty in the sandbox: %s", strerror(errno));
	char *name = ptsname(master);
	int slave = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	if (slave < 0)
		husk_fail(125, "opening a pty in the sandbox: %s", strerror(errno));
	if (!keep_id && fchown(slave, c->uid, c->gid) != 0)
		husk_fail(125, "handing the pty to uid %d: %s", (int)c->uid, strerror(errno));
	if (husk_send_fd(HUSK_FD_CONSOLE, "", 1, master) != 0)
		husk_fail(125, "sending the pty to husk: %s", strerror(errno));
	close(master);
	close(HUSK_FD_CONSOLE);
	return slave;
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

__attribute__((noreturn)) static void child_fail(int pipe, const char *what)
{
	struct child_err ce = {errno, ""};
	snprintf(ce.what, sizeof ce.what, "%s", what);
	if (write(pipe, &ce, sizeof ce) < 0) {
	}
	_exit(125);
}

// drop_and_exec is runc's order: no_new_privs, seccomp (before the
// capabilities go, unless no_new_privs allows it without), the bounding
// set, the ids, the rest of the capabilities, then execve.
static void drop_and_exec(const struct husk_spec *s, const struct husk_cred *c, const char *path, int tty, int errp,
			  int lastcap)
{
	if (setsid() < 0)
		child_fail(errp, "starting a session");
	if (tty >= 0) {
		if (ioctl(tty, TIOCSCTTY, 0) != 0)
			child_fail(errp, "taking the terminal");
		for (int fd = 0; fd < 3; fd++)
			dup2(tty, fd);
	}
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

// start_user starts the user's process and waits for its execve; it
// returns the pid, or ends the init with Docker's code for what failed.
static pid_t start_user(struct husk_spec *s)
{
	struct husk_cred c = {0};
	if (!s->keep_id)
		resolve_user(s, &c);
	if (!s->keep_id && env_get(s, "HOME") == NULL) {
		char *home;
		if (asprintf(&home, "HOME=%s", c.home) < 0)
			husk_fail(125, "starting the process: out of memory");
		s->env[s->nenv++] = home;
	}
	s->env[s->nenv] = NULL;
	s->args[s->nargs] = NULL;
	int tty = s->terminal ? open_console(&c, s->keep_id) : -1;
	char path[4096];
	if (look_path(s, path, sizeof path) != 0)
		husk_fail(127, "running \"%s\": executable file not found in $PATH", s->args[0]);
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
	if (strcmp(ce.what, "exec") == 0) {
		if (ce.err == ENOENT)
			husk_fail(127, "running \"%s\": no such file or directory in the image", s->args[0]);
		if (ce.err == EACCES || ce.err == ENOEXEC || ce.err == EISDIR)
			husk_fail(126, "running \"%s\": %s", s->args[0], strerror(ce.err));
		husk_fail(125, "running \"%s\": %s", s->args[0], strerror(ce.err));
	}
	if (strcmp(ce.what, "loading the seccomp filter") == 0)
		husk_fail(125, "loading the seccomp filter: %s: use --security-opt seccomp=unconfined where seccomp is not allowed",
		     strerror(ce.err));
	if (strcmp(ce.what, "changing to the working directory") == 0)
		husk_fail(125, "changing to the working directory %s: %s", s->cwd, strerror(ce.err));
	if (strcmp(ce.what, "setting the uid") == 0)
		husk_fail(125, "setting uid %d: %s", (int)c.uid, strerror(ce.err));
	if (strcmp(ce.what, "setting the gid") == 0)
		husk_fail(125, "setting gid %d: %s", (int)c.gid, strerror(ce.err));
	husk_fail(125, "%s: %s", ce.what, strerror(ce.err));
}

// hold_image marks the image in use for the init's life (store.HoldImage)
// and checks that it was not removed before the mark was taken.
static void hold_image(const struct husk_spec *s)
{
	if (s->inuse == NULL || *s->inuse == 0)
		return;
	int fd = open(s->inuse, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_SH) != 0)
		husk_fail(125, "marking the image in use (%s): %s", s->inuse, strerror(errno));
	struct stat st;
	if (s->image_dir && *s->image_dir && stat(s->image_dir, &st) != 0)
		husk_fail(125, "the image was removed while the container started: pull it again");
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

static void init_begin(void)
{
	// Signals wait until the reaper's loop takes them.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	wait_mapped();
}

// read_spec reads the spec from fd, refusing more than a spec may hold.
static char *read_spec(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (b == NULL)
			husk_fail(125, "reading the sandbox's spec: out of memory");
		if (n == cap) {
			if (cap > HUSK_SPEC_MAX)
				husk_fail(125, "reading the sandbox's spec: it is larger than %d bytes: this is husk's own error",
					  HUSK_SPEC_MAX);
			char *more = realloc(b, cap *= 2);
			if (more == NULL)
				free(b);
			b = more;
			continue;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			husk_fail(125, "reading the sandbox's spec: %s", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return b;
}

// husk_cinit_main is the init from an exec, its spec in the descriptor
// HUSK_CINIT names. It never returns.
void husk_cinit_main(const char *fd)
{
	init_begin();
	size_t len;
	char *buf = read_spec(atoi(fd), &len);
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

	hold_image(&s);
	make_private();
	mount_scratch(&s);
	build_root(&s);
	write_files(&s);
	setup_net(&s);
	for (int i = 0; i < s.nops; i++)
		apply_op(&s.ops[i]);
	// Last of the mounts: only the root itself, not /dev/shm and the
	// volumes below it.
	if (s.readonly)
		remount_readonly(root_path, "/");
	pivot();
	if (sethostname(s.hostname, strlen(s.hostname)) != 0)
		husk_fail(125, "setting the hostname: %s", strerror(errno));
	if (s.loopback && !s.has_net) {
		int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if_flags_up(sock, "lo");
		close(sock);
	}
	// Other processes in the sandbox must not reach husk's binary through
	// /proc/1/exe (CVE-2019-5736).
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	watch_binds(&s);
	pid_t child = start_user(&s);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)child);
	status(HUSK_STATUS_RUNNING, pid);
	husk_reap_loop(child, s.has_net && s.net.dials ? s.net.fd : -1);
}
