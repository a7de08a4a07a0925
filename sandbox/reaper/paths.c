// Paths inside the root being built: every lookup resolves in it (symlinks
// included, as filepath-securejoin does) and never out of it, with
// openat2's RESOLVE_IN_ROOT.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
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

// open_parent makes path's directory inside the root and opens it; base
// is what is left of path.
static int open_parent(const char *path, char *base, size_t n)
{
	char dir[4096];
	husk_split(path, dir, base, n < sizeof dir ? n : sizeof dir);
	husk_make_dirs(dir);
	int parent = husk_resolve(dir, O_DIRECTORY);
	if (parent < 0)
		husk_fail(125, "making %s inside the root: %s", dir, strerror(errno));
	return parent;
}

// husk_make_dirs makes path and its parents inside the root, as
// os.MkdirAll over a securejoin'ed path does.
void husk_make_dirs(const char *path)
{
	int fd = husk_resolve(path, O_DIRECTORY);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno != ENOENT)
		husk_fail(125, "making %s inside the root: %s", path, strerror(errno));
	char base[4096];
	int parent = open_parent(path, base, sizeof base);
	if (mkdirat(parent, base, 0755) != 0 && errno != EEXIST)
		husk_fail(125, "making %s inside the root: %s", path, strerror(errno));
	close(parent);
}

// husk_make_file makes an empty file at path (and its directory) unless
// something is there.
void husk_make_file(const char *path)
{
	int fd = husk_resolve(path, 0);
	if (fd >= 0) {
		close(fd);
		return;
	}
	char base[4096];
	int parent = open_parent(path, base, sizeof base);
	int f = openat(parent, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (f < 0 && errno != EEXIST)
		husk_fail(125, "making %s inside the root: %s", path, strerror(errno));
	if (f >= 0)
		close(f);
	close(parent);
}
