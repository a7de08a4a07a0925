// Paths inside the root being built: every lookup resolves in it (symlinks
// included, as filepath-securejoin does) and never out of it, with
// openat2's RESOLVE_IN_ROOT; where the kernel has no openat2 (before 5.6,
// as RHEL 8), by a walk of one component at a time that does the same.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "executor.h"

int husk_root_fd = -1;
int husk_openat2 = -1;

// A lookup follows at most this many symlinks, as the kernel's; one more
// is ELOOP.
#define MAX_LINKS 40

// husk_resolve opens path inside the root as an O_PATH descriptor, or
// returns -1 with errno. The first ENOSYS sends this and every later
// lookup to the walk; so does EPERM, which seccomp profiles older than
// openat2 answer for it (an O_PATH open has no other reason to give it).
int husk_resolve(const char *path, int flags)
{
	if (husk_openat2 != 0) {
		struct open_how how = {0};
		how.flags = O_PATH | O_CLOEXEC | (unsigned)flags;
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
		int fd = (int)syscall(SYS_openat2, husk_root_fd, path, &how, sizeof how);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
			husk_openat2 = 1;
			return fd;
		}
		husk_openat2 = 0;
	}
	return husk_resolve_walk(path, flags);
}

// A walk's state: the directory reached, how deep below the root it is,
// the identity of each directory on the way down (to check what ".."
// leads to), the path left to walk, and the links followed so far.
struct ident {
	dev_t dev;
	ino_t ino;
};

struct walk {
	int cur, depth, cap, links;
	struct ident *up;
	char rest[PATH_MAX];
};

static int walk_err(struct walk *w, int e)
{
	if (w->cur >= 0)
		close(w->cur);
	free(w->up);
	errno = e;
	return -1;
}

static struct ident ident_of(const struct stat *st)
{
	struct ident id = {st->st_dev, st->st_ino};
	return id;
}

// to_root starts over at the root, as "/" and an absolute symlink do.
static int to_root(struct walk *w)
{
	if (w->cur >= 0)
		close(w->cur);
	w->cur = fcntl(husk_root_fd, F_DUPFD_CLOEXEC, 0);
	w->depth = 0;
	return w->cur < 0 ? -1 : 0;
}

// down enters the directory fd, whose identity is st.
static int down(struct walk *w, int fd, const struct stat *st)
{
	if (w->depth + 1 >= w->cap) {
		int cap = w->cap * 2;
		struct ident *up = realloc(w->up, (size_t)cap * sizeof *up);
		if (up == NULL) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
		w->up = up;
		w->cap = cap;
	}
	close(w->cur);
	w->cur = fd;
	w->up[++w->depth] = ident_of(st);
	return 0;
}

// dotdot goes up one directory, never above the root: it must reach the
// directory the walk came down through, else something moved it during
// the lookup and the walk stops (EXDEV).
static int dotdot(struct walk *w)
{
	if (w->depth == 0)
		return 0;
	if (w->depth == 1)
		return to_root(w);
	struct stat st;
	int fd = openat(w->cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_dev != w->up[w->depth - 1].dev || st.st_ino != w->up[w->depth - 1].ino) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	close(w->cur);
	w->cur = fd;
	w->depth--;
	return 0;
}

// follow puts the symlink fd's target in front of what is left to walk
// (after rest, the part past the link), from the root when absolute.
static int follow(struct walk *w, int fd, const char *rest)
{
	char target[PATH_MAX];
	if (++w->links > MAX_LINKS) {
		errno = ELOOP;
		return -1;
	}
	// An O_PATH descriptor's own link, read with an empty name.
	ssize_t n = readlinkat(fd, "", target, sizeof target);
	if (n < 0)
		return -1;
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	size_t left = strlen(rest);
	if ((size_t)n + 1 + left >= sizeof w->rest) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memmove(w->rest + n + 1, rest, left + 1);
	memcpy(w->rest, target, (size_t)n);
	w->rest[n] = '/';
	return target[0] == '/' ? to_root(w) : 0;
}

// step walks one element, name, of what is left; rest is what follows
// it, last says whether nothing does. 1: a symlink's target is now in
// front of what is left, to walk from its start.
static int step(struct walk *w, const char *name, const char *rest, int last, int flags)
{
	if (strcmp(name, ".") == 0)
		return 0;
	if (strcmp(name, "..") == 0)
		return dotdot(w);
	struct stat st;
	int fd = openat(w->cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
		int r = follow(w, fd, rest);
		int e = errno;
		close(fd);
		errno = e;
		return r < 0 ? -1 : 1;
	}
	if (S_ISDIR(st.st_mode))
		return down(w, fd, &st);
	if (!last) {
		close(fd);
		errno = ENOTDIR;
		return -1;
	}
	close(w->cur);
	w->cur = fd;
	return 0;
}

// walk_run walks path from the root: the descriptor reached, or -1 with
// errno.
static int walk_run(struct walk *w, const char *path, int flags)
{
	char name[NAME_MAX + 1];
	if (w->up == NULL)
		return walk_err(w, ENOMEM);
	struct stat st;
	if (to_root(w) != 0 || fstat(w->cur, &st) != 0)
		return walk_err(w, errno);
	w->up[0] = ident_of(&st);
	memcpy(w->rest, path, strlen(path) + 1);
	const char *p = w->rest;
	for (;;) {
		p += strspn(p, "/");
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n > NAME_MAX)
			return walk_err(w, ENAMETOOLONG);
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		int r = step(w, name, p, p[strspn(p, "/")] == 0, flags);
		if (r < 0)
			return walk_err(w, errno);
		if (r > 0)
			p = w->rest;
	}
	if ((flags & O_DIRECTORY) && (fstat(w->cur, &st) != 0 || !S_ISDIR(st.st_mode)))
		return walk_err(w, ENOTDIR);
	free(w->up);
	return w->cur;
}

// husk_resolve_walk is husk_resolve without openat2, as securejoin's
// lookup: one element at a time from the root with
// O_PATH|O_NOFOLLOW, each symlink's target walked in its place (an
// absolute one from the root), ".." stopping at the root. A magic link
// of /proc is read as the path its text names, never jumped through.
// Nothing writes the root while the init builds it but its own user;
// still, a ".." that does not lead back the way the walk came ends it.
int husk_resolve_walk(const char *path, int flags)
{
	if (flags & ~(O_DIRECTORY | O_NOFOLLOW)) {
		errno = EINVAL;
		return -1;
	}
	size_t len = strlen(path);
	if (len == 0 || len >= PATH_MAX) {
		errno = len ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	// A trailing slash asks for a directory, and follows a last symlink.
	if (path[len - 1] == '/')
		flags = (flags | O_DIRECTORY) & ~O_NOFOLLOW;
	struct walk *w = calloc(1, sizeof *w);
	if (w == NULL)
		return -1;
	w->cur = -1;
	w->cap = 16;
	w->up = malloc((size_t)w->cap * sizeof *w->up);
	int fd = walk_run(w, path, flags);
	free(w);
	return fd;
}

// husk_split puts path's directory in dir and its last element in base,
// each of n bytes.
void husk_split(const char *path, char *dir, char *base, size_t n)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(dir, n, "/");
		snprintf(base, n, "%s", path);
		return;
	}
	size_t len = (size_t)(slash - path);
	snprintf(dir, n, "%.*s", (int)len, path);
	if (len == 0)
		snprintf(dir, n, "/");
	snprintf(base, n, "%s", slash + 1);
}

// A dangling symlink inside the root leads to where the directory or file
// goes, as securejoin resolves it (the chain of links is bounded by
// MAX_LINKS as a lookup's).
static void make_dirs(const char *path, int links);
static void make_file(const char *path, int links);

static char *dup_or_fail(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (d == NULL)
		husk_fail(125, "making %s inside the root: out of memory", s);
	return d;
}

// parent_of opens path's directory, which exists, and points *base at
// path's last element.
static int parent_of(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash && slash != path ? dup_or_fail(path, (size_t)(slash - path)) : dup_or_fail("/", 1);
	*base = slash ? slash + 1 : path;
	int parent = husk_resolve(dir, O_DIRECTORY);
	if (parent < 0)
		husk_fail(125, "making %s inside the root: %s", dir, strerror(errno));
	free(dir);
	return parent;
}

// link_target is where the symlink base in parent leads, as a path inside
// the root: its target, relative to path's directory unless absolute.
// NULL when base is no symlink.
static char *link_target(int parent, const char *path, const char *base, int links)
{
	char t[4096];
	ssize_t n = readlinkat(parent, base, t, sizeof t - 1);
	if (n < 0)
		return NULL;
	t[n] = 0;
	if (links >= MAX_LINKS)
		husk_fail(125, "making %s inside the root: %s", path, strerror(ELOOP));
	char *out;
	int dir = (int)(base - path);
	if ((t[0] == '/' ? asprintf(&out, "%s", t) : asprintf(&out, "%.*s%s", dir, path, t)) < 0)
		husk_fail(125, "making %s inside the root: out of memory", path);
	return out;
}

// make_one makes path's last element as a directory, its directory being
// there already; a dangling symlink in its place is followed.
static void make_one(const char *path, int links)
{
	const char *base;
	int parent = parent_of(path, &base);
	if (mkdirat(parent, base, 0755) != 0) {
		if (errno != EEXIST)
			husk_fail(125, "making %s inside the root: %s", path, strerror(errno));
		char *target = link_target(parent, path, base, links);
		if (target != NULL) {
			make_dirs(target, links + 1);
			free(target);
		}
	}
	close(parent);
}

// make_dirs makes path and its parents inside the root, as os.MkdirAll
// over a securejoin'ed path does: up to the deepest directory that is
// there, then down making each. Its memory grows with the path, not its
// depth.
static void make_dirs(const char *path, int links)
{
	int fd = husk_resolve(path, O_DIRECTORY);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno != ENOENT)
		husk_fail(125, "making %s inside the root: %s", path, strerror(errno));
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	char *p = dup_or_fail(path, len), *slash;
	int there = 0;
	while (!there && (slash = strrchr(p, '/')) != NULL && slash != p) {
		*slash = 0;
		if ((fd = husk_resolve(p, O_DIRECTORY)) >= 0) {
			close(fd);
			there = 1;
		} else if (errno != ENOENT) {
			husk_fail(125, "making %s inside the root: %s", p, strerror(errno));
		}
	}
	if (!there)
		make_one(p, links);
	for (size_t i = strlen(p); i < len; i = strlen(p)) {
		p[i] = '/';
		make_one(p, links);
	}
	free(p);
}

void husk_make_dirs(const char *path)
{
	make_dirs(path, 0);
}

// make_file makes an empty file at path (and its directory) unless
// something is there; a dangling symlink in its place is followed.
static void make_file(const char *path, int links)
{
	int fd = husk_resolve(path, 0);
	if (fd >= 0) {
		close(fd);
		return;
	}
	const char *slash = strrchr(path, '/');
	if (slash != NULL && slash != path) {
		char *dir = dup_or_fail(path, (size_t)(slash - path));
		make_dirs(dir, links);
		free(dir);
	}
	const char *base;
	int parent = parent_of(path, &base);
	int f = openat(parent, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (f < 0 && errno == ELOOP) {
		char *target = link_target(parent, path, base, links);
		if (target != NULL) {
			make_file(target, links + 1);
			free(target);
			close(parent);
			return;
		}
		errno = ELOOP;
	}
	if (f < 0 && errno != EEXIST)
		husk_fail(125, "making %s inside the root: %s", path, strerror(errno));
	if (f >= 0)
		close(f);
	close(parent);
}

void husk_make_file(const char *path)
{
	make_file(path, 0);
}
