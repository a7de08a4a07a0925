// Users and groups from an image's files: names and ids, a group given or
// the groups listing the user, HOME; lines and group lists of any length.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../executor.h"
#include "check.h"

static char passwd[256], group[256];

static char err[1024];

static void resolve(const char *user, struct husk_cred *c)
{
	memset(c, 0, sizeof *c);
	CHECK(husk_resolve_user(user, passwd, group, c, err, sizeof err) == 0, "%s: %s", user, err);
}

static void refused(const char *user, const char *want)
{
	struct husk_cred c = {0};
	err[0] = 0;
	CHECK(husk_resolve_user(user, passwd, group, &c, err, sizeof err) == -1, "%s resolved", user);
	CHECK(strstr(err, want) != NULL, "%s: \"%s\" lacks \"%s\"", user, err, want);
	CHECK(c.home == NULL && c.groups == NULL, "%s: not released", user);
}

static void test_lookups(void)
{
	struct husk_cred c;
	resolve("", &c);
	CHECK(c.uid == 0 && c.gid == 0 && strcmp(c.home, "/root") == 0 && c.ngroups == 1 && c.groups[0] == 10,
	      "root: %d %d %s %d", (int)c.uid, (int)c.gid, c.home, c.ngroups);
	husk_cred_free(&c);
	resolve("app", &c);
	CHECK(c.uid == 1000 && c.gid == 1000 && strcmp(c.home, "/home/app") == 0 && c.ngroups == 2, "app: %d %d %s %d",
	      (int)c.uid, (int)c.gid, c.home, c.ngroups);
	husk_cred_free(&c);
	resolve("1000:wheel", &c);
	CHECK(c.uid == 1000 && c.gid == 10 && c.ngroups == 0, "1000:wheel: %d %d %d", (int)c.uid, (int)c.gid, c.ngroups);
	husk_cred_free(&c);
	resolve("4242:77", &c);
	CHECK(c.uid == 4242 && c.gid == 77 && strcmp(c.home, "/") == 0, "4242:77: %d %d %s", (int)c.uid, (int)c.gid,
	      c.home);
	husk_cred_free(&c);
	refused("nobody-here", "unable to find user nobody-here");
	refused("app:nogroup", "unable to find group nogroup");
}

// A gecos field of 100 KB and a group listing 5000 members, and the user
// in 3000 groups: no fixed buffer cuts them.
static void test_long(void)
{
	size_t n = 100000;
	char *gecos = malloc(n + 1);
	memset(gecos, 'g', n);
	gecos[n] = 0;
	FILE *f = fopen(passwd, "w");
	fprintf(f, "long:x:7:7:%s:/home/long:/bin/sh\n", gecos);
	fclose(f);
	f = fopen(group, "w");
	fprintf(f, "big:x:8:");
	for (int i = 0; i < 5000; i++)
		fprintf(f, "member%d,", i);
	fprintf(f, "long\n");
	for (int i = 0; i < 3000; i++)
		fprintf(f, "g%d:x:%d:other,long\n", i, 10000 + i);
	fclose(f);
	struct husk_cred c;
	resolve("long", &c);
	CHECK(c.uid == 7 && strcmp(c.home, "/home/long") == 0, "long: %d %s", (int)c.uid, c.home);
	CHECK(c.ngroups == 3001 && c.groups[0] == 8 && c.groups[3000] == 12999, "long's groups: %d", c.ngroups);
	husk_cred_free(&c);
	free(gecos);
}

void test_user(void)
{
	const char *dir = make_temp();
	snprintf(passwd, sizeof passwd, "%s/passwd", dir);
	snprintf(group, sizeof group, "%s/group", dir);
	write_file(passwd, "# comment\nroot:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nshort:x\n");
	write_file(group, "root:x:0:\nwheel:x:10:root\napp:x:1000:\nstaff:x:50:app,other\ndev:x:51:other,app\n");
	test_lookups();
	test_long();
}
