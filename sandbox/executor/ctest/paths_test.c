// Paths inside the root: whatever symlinks the image holds, what the
// executor makes lands inside the root, never on the host.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../executor.h"
#include "check.h"

static int exists(const char *a, const char *b)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof p, "%s%s", a, b);
	return lstat(p, &st) == 0;
}

static void test_split(void)
{
	static const struct {
		const char *path, *dir, *base;
	} cases[] = {{"/a/b", "/a", "b"}, {"/a", "/", "a"}, {"a", "/", "a"}, {"/a/b/", "/a/b", ""}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char dir[64], base[64];
		husk_split(cases[i].path, dir, base, sizeof dir);
		CHECK(strcmp(dir, cases[i].dir) == 0 && strcmp(base, cases[i].base) == 0, "%s: %s %s", cases[i].path,
		      dir, base);
	}
}

// Dangling symlinks lead where the directory or file goes, inside the
// root, as securejoin resolves them; a loop of them is refused.
static void test_dangling(const char *root)
{
	char link[512];
	snprintf(link, sizeof link, "%s/run-abs", root);
	CHECK(symlink("/real/run", link) == 0, "symlink %s", link);
	snprintf(link, sizeof link, "%s/a/rel", root);
	CHECK(symlink("../made/here", link) == 0, "symlink %s", link);
	snprintf(link, sizeof link, "%s/ping", root);
	CHECK(symlink("pong", link) == 0, "symlink %s", link);
	snprintf(link, sizeof link, "%s/pong", root);
	CHECK(symlink("ping", link) == 0, "symlink %s", link);
	snprintf(link, sizeof link, "%s/hostsfile", root);
	CHECK(symlink("/etc/dangling-hosts", link) == 0, "symlink %s", link);

	husk_make_dirs("/run-abs/sub");
	CHECK(exists(root, "/real/run/sub"), "/run-abs/sub not made at /real/run/sub");
	husk_make_dirs("/a/rel/x");
	CHECK(exists(root, "/made/here/x"), "/a/rel/x not made at /made/here/x");
	husk_make_file("/hostsfile");
	CHECK(exists(root, "/etc/dangling-hosts"), "/hostsfile not made at /etc/dangling-hosts");
	CHECK(!exists("", "/etc/dangling-hosts"), "/hostsfile was made on the host");
	EXPECT_FAIL(husk_make_dirs("/ping/x"), "Too many levels of symbolic links");
	EXPECT_FAIL(husk_make_file("/pong"), "Too many levels of symbolic links");
}

// A path of a thousand elements costs heap, not a stack frame each.
static void test_deep(const char *root)
{
	char path[2100] = "";
	for (int i = 0; i < 1000; i++)
		strcat(path, "/d");
	husk_make_dirs(path);
	CHECK(exists(root, path), "the deep path was not made");
	strcat(path, "/f");
	husk_make_file(path);
	CHECK(exists(root, path), "the deep file was not made");
}

// making runs the making tests in a fresh root, through openat2 or the
// walk.
static void making(int openat2)
{
	char root[256], outside[256], link[512];
	snprintf(root, sizeof root, "%s", make_temp());
	snprintf(outside, sizeof outside, "%s", make_temp());
	// The image's symlinks: to the host's absolute path of another
	// directory, to /, and up past the root.
	snprintf(link, sizeof link, "%s/out", root);
	CHECK(symlink(outside, link) == 0, "symlink %s", link);
	// The link's target exists inside the root too: that is where it leads.
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s%s'", root, outside);
	CHECK(system(cmd) == 0, "%s", cmd);
	snprintf(link, sizeof link, "%s/up", root);
	CHECK(symlink("../../../../..", link) == 0, "symlink %s", link);
	snprintf(link, sizeof link, "%s/file", root);
	write_file(link, "");
	husk_root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(husk_root_fd >= 0, "opening %s", root);
	husk_openat2 = openat2;

	husk_make_dirs("/a/b/c");
	CHECK(exists(root, "/a/b/c"), "/a/b/c not made");
	husk_make_dirs("/out/x");
	CHECK(!exists(outside, "/x"), "/out/x was made outside the root, in %s", outside);
	char inside[512];
	snprintf(inside, sizeof inside, "%s/x", outside);
	CHECK(exists(root, inside), "/out/x not made inside the root at %s", inside);
	husk_make_file("/up/f");
	CHECK(exists(root, "/f"), "/up/f not made at the root's /f");
	husk_make_file("/a/b/c/g");
	CHECK(exists(root, "/a/b/c/g"), "/a/b/c/g not made");

	// .. at the root stays at the root.
	struct stat want, got;
	int fd = husk_resolve("/../../..", O_DIRECTORY);
	CHECK(fd >= 0 && fstat(fd, &got) == 0 && stat(root, &want) == 0 && got.st_ino == want.st_ino,
	      "/../../.. left the root");
	if (fd >= 0)
		close(fd);
	CHECK(husk_resolve("/missing", 0) < 0, "/missing resolved");

	EXPECT_FAIL(husk_make_dirs("/file/sub"), "making /file/sub inside the root: Not a directory");
	test_dangling(root);
	test_deep(root);
	CHECK(husk_openat2 == openat2, "the lookups went the other way: %d", husk_openat2);
	close(husk_root_fd);
	husk_root_fd = -1;
	husk_openat2 = -1;
}

void test_paths(void)
{
	test_split();
	int openat2 = has_openat2();
	if (openat2)
		making(1);
	else
		fprintf(stderr, "ctest: this kernel has no openat2: the walk alone is tested\n");
	making(0);
	test_in_root(openat2);
}
