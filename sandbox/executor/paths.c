// Paths inside the root being built: every lookup resolves in it (symlinks
// included, as filepath-securejoin does) and never out of it, with
// openat2's RESOLVE_IN_ROOT.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "executor.h"

int husk_root_fd = -1;

// husk_resolve opens path inside the root as an O_PATH descriptor, or
// returns -1 with errno.
int husk_resolve(const char *path, int flags)
{
	struct open_how how = {0};
	how.flags = O_PATH | O_CLOEXEC | (unsigned)flags;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, husk_root_fd, path, &how, sizeof how);
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
// goes, as securejoin resolves it; a chain of more links than this is
// refused, as the kernel refuses one (ELOOP).
#define MAX_LINKS 40

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
