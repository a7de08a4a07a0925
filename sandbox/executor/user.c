// The user of the sandbox's process, from the image's /etc/passwd and
// /etc/group, as moby/sys/user's GetExecUser resolves it. Lines and group
// lists have no fixed limit: getline reads a line whole, and the groups
// grow as they are found.

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"

__attribute__((format(printf, 3, 4))) static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int numeric(const char *s, long *v)
{
	char *end;
	if (*s == 0)
		return 0;
	errno = 0;
	*v = strtol(s, &end, 10);
	return *end == 0 && errno == 0 && *v >= 0;
}

// fields splits a line of /etc/passwd or /etc/group at its colons into
// fld[0..n-1], NULL where the line has fewer.
static void fields(char *line, char **fld, int n)
{
	line[strcspn(line, "\n")] = 0;
	char *p = line;
	for (int i = 0; i < n; i++) {
		fld[i] = p;
		if (p && (p = strchr(p, ':')) != NULL)
			*p++ = 0;
	}
}

// An entry of the passwd file.
struct pwent {
	char *name, *home;
	long uid, gid;
};

// passwd_find: the entry whose name is name or, with name NULL, whose uid
// is uid (1), none (0), or -1 out of memory. Fields:
// name:pw:uid:gid:gecos:home:shell.
static int passwd_find(const char *path, const char *name, long uid, struct pwent *pw)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	while (!found && getline(&line, &cap, f) >= 0) {
		char *fld[7];
		fields(line, fld, 7);
		if (fld[0] == NULL || fld[2] == NULL || fld[3] == NULL || fld[0][0] == '#')
			continue;
		long u = atol(fld[2]);
		if (name ? strcmp(fld[0], name) == 0 : u == uid) {
			pw->name = strdup(fld[0]);
			pw->home = strdup(fld[5] ? fld[5] : "/");
			pw->uid = u;
			pw->gid = atol(fld[3]);
			found = pw->name && pw->home ? 1 : -1;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static int add_group(struct husk_cred *c, gid_t gid, int *cap)
{
	if (c->ngroups == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		gid_t *g = realloc(c->groups, (size_t)*cap * sizeof *g);
		if (g == NULL)
			return -1;
		c->groups = g;
	}
	c->groups[c->ngroups++] = gid;
	return 0;
}

// group_scan: with name set, the gid of that group (returned, -1 when
// there is none); with member set, every group listing member is added to
// c's groups (-2: out of memory).
static long group_scan(const char *path, const char *name, const char *member, struct husk_cred *c)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	char *line = NULL, *save;
	size_t len = 0;
	long gid = -1;
	int cap = 0;
	while (getline(&line, &len, f) >= 0) {
		char *fld[4];
		fields(line, fld, 4);
		if (fld[0] == NULL || fld[2] == NULL || fld[0][0] == '#')
			continue;
		if (name && strcmp(fld[0], name) == 0) {
			gid = atol(fld[2]);
			break;
		}
		if (member && fld[3]) {
			for (char *m = strtok_r(fld[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
				if (strcmp(m, member) == 0 && add_group(c, (gid_t)atol(fld[2]), &cap) != 0)
					gid = -2;
		}
	}
	free(line);
	fclose(f);
	return gid;
}

// husk_resolve_user: user[:group], names or ids; supplementary groups are
// those listing the user unless a group was given; HOME from the passwd
// entry.
int husk_resolve_user(const char *spec_user, const char *passwd, const char *group_file, struct husk_cred *c,
		      char *err, size_t errlen)
{
	char *spec = strdup(spec_user ? spec_user : "");
	struct pwent pw = {0};
	long uid = 0, gid = 0, v;
	int r = spec ? 0 : refuse(err, errlen, "user \"%s\": out of memory", spec_user);
	char *group = spec ? strchr(spec, ':') : NULL;
	if (group)
		*group++ = 0;
	if (r == 0 && (spec[0] == 0 || numeric(spec, &v))) {
		uid = spec[0] ? v : 0;
		int found = passwd_find(passwd, NULL, uid, &pw);
		if (found > 0)
			gid = pw.gid;
		else if (found < 0)
			r = refuse(err, errlen, "reading %s: out of memory", passwd);
	} else if (r == 0) {
		int found = passwd_find(passwd, spec, 0, &pw);
		if (found < 0)
			r = refuse(err, errlen, "reading %s: out of memory", passwd);
		else if (found == 0)
			r = refuse(err, errlen,
				   "user \"%s\": unable to find user %s: no matching entries in passwd file: give a uid, or a "
				   "name in the image's /etc/passwd",
				   spec_user, spec);
		uid = pw.uid;
		gid = pw.gid;
	}
	if (r == 0 && group && *group) {
		if (numeric(group, &v))
			gid = v;
		else if ((gid = group_scan(group_file, group, NULL, c)) < 0)
			r = refuse(err, errlen,
				   "user \"%s\": unable to find group %s: no matching entries in group file: give a gid, or a "
				   "name in the image's /etc/group",
				   spec_user, group);
	} else if (r == 0 && pw.name && group_scan(group_file, NULL, pw.name, c) == -2) {
		r = refuse(err, errlen, "reading %s: out of memory", group_file);
	}
	c->uid = (uid_t)uid;
	c->gid = (gid_t)gid;
	c->home = pw.home;
	if (r == 0 && c->home == NULL && (c->home = strdup("/")) == NULL)
		r = refuse(err, errlen, "user \"%s\": out of memory", spec_user);
	free(pw.name);
	free(spec);
	if (r != 0)
		husk_cred_free(c);
	return r;
}

int husk_add_group(const char *group, const char *group_file, struct husk_cred *c, char *err, size_t errlen)
{
	long gid;
	if (!numeric(group, &gid) && (gid = group_scan(group_file, group, NULL, c)) < 0)
		return refuse(err, errlen,
			      "--group-add %s: unable to find group %s: no matching entries in the image's group file: "
			      "give a gid, or a name in the image's /etc/group",
			      group, group);
	gid_t *g = realloc(c->groups, ((size_t)c->ngroups + 1) * sizeof *g);
	if (g == NULL)
		return refuse(err, errlen, "--group-add %s: out of memory", group);
	c->groups = g;
	c->groups[c->ngroups++] = (gid_t)gid;
	return 0;
}

void husk_cred_free(struct husk_cred *c)
{
	free(c->groups);
	free(c->home);
	c->groups = NULL;
	c->home = NULL;
	c->ngroups = 0;
}
