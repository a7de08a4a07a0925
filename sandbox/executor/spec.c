// The spec's decoder: the only input of the C init and of exec's joining
// process, written by the Go encoder (sandbox.CSpec.Encode and
// sandbox.Spec.EncodeExec) in the format abi.h defines. It reads nothing
// outside [buf, buf+len), refuses what it does not know instead of
// guessing, and leaves every string pointing into buf.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor.h"

struct cursor {
	const char *start, *p, *end;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int refuse(struct cursor *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

// next is the next token, or NULL at the end of the buffer. The caller
// checked that the buffer ends with a NUL, so every token has one.
static const char *next(struct cursor *c)
{
	if (c->p >= c->end)
		return NULL;
	const char *s = c->p, *nul = memchr(s, 0, (size_t)(c->end - s));
	if (nul == NULL)
		return NULL;
	c->p = nul + 1;
	return s;
}

// number parses a decimal without sign or spaces, at most max.
static int number(const char *s, unsigned long max, unsigned long *v)
{
	if (*s == 0 || strlen(s) > 20)
		return -1;
	unsigned long n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (n > (ULONG_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (n > max)
		return -1;
	*v = n;
	return 0;
}

static int boolean(const char *s, int *v)
{
	if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
		return -1;
	*v = s[0] == '1';
	return 0;
}

static const char *const op_names[] = {
	[HUSK_OP_MOUNT] = "mount",     [HUSK_OP_BIND] = "bind",         [HUSK_OP_BIND_DEV] = "bind-dev",
	[HUSK_OP_MKDIR] = "mkdir",     [HUSK_OP_SYMLINK] = "symlink",   [HUSK_OP_MASK] = "mask",
	[HUSK_OP_READONLY] = "readonly", [HUSK_OP_FILE] = "file", [HUSK_OP_FUSE_OVERLAY] = "fuse-overlayfs",
};

const char *husk_op_name(int kind)
{
	return kind >= HUSK_OP_MOUNT && kind <= HUSK_OP_LAST ? op_names[kind] : "unknown";
}

// fields takes a record's n fields, or says which record was cut short.
static int fields(struct cursor *c, char tag, const char **f, int n)
{
	for (int i = 0; i < n; i++)
		if ((f[i] = next(c)) == NULL)
			return refuse(c, "record %c is cut short", tag);
	return 0;
}

// read_op reads an operation; root says it builds the root itself, where
// only a mount, a bind or fuse-overlayfs make sense.
static int read_op(struct cursor *c, char tag, struct husk_op *o, int root)
{
	const char *f[HUSK_OP_FIELDS];
	unsigned long kind, flags;
	if (fields(c, tag, f, HUSK_OP_FIELDS) != 0)
		return -1;
	if (number(f[0], HUSK_OP_LAST, &kind) != 0 || kind < HUSK_OP_MOUNT)
		return refuse(c, "unknown setup operation \"%s\"", f[0]);
	int builds_root = kind == HUSK_OP_MOUNT || kind == HUSK_OP_BIND || kind == HUSK_OP_FUSE_OVERLAY;
	if (root ? !builds_root : kind == HUSK_OP_FUSE_OVERLAY)
		return refuse(c, "a %s operation cannot be in record %c", husk_op_name((int)kind), tag);
	o->kind = (int)kind;
	o->source = f[1];
	o->target = f[2];
	const char *longer = strlen(o->target) > strlen(o->source) ? o->target : o->source;
	if (strlen(longer) > HUSK_PATH_MAX)
		return refuse(c, "the path %.64s... is too long (%zu bytes): keep it under %d bytes", longer,
			      strlen(longer), HUSK_PATH_MAX);
	o->fstype = f[3];
	if (number(f[4], ULONG_MAX, &flags) != 0)
		return refuse(c, "the mount flags \"%s\" of %s are not a number", f[4], o->target);
	o->flags = flags;
	o->data = f[5];
	if (boolean(f[6], &o->optional) != 0)
		return refuse(c, "the optional field \"%s\" of %s is not 0 or 1", f[6], o->target);
	return 0;
}

// hex_digit holds each hex digit's value plus one; 0 is no digit. A table,
// for the start path: the program is some ten thousand digits.
static const unsigned char hex_digit[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

// read_seccomp decodes the program: whole BPF instructions, at most what
// a sock_fprog can count.
static int read_seccomp(struct cursor *c, struct husk_spec *s, const char *hex)
{
	size_t n = strlen(hex);
	if (n % 16 != 0 || n == 0 || n / 16 > USHRT_MAX)
		return refuse(c, "the seccomp program is %zu hex digits, not whole instructions", n);
	s->seccomp = malloc(n / 2);
	if (s->seccomp == NULL)
		return refuse(c, "out of memory");
	const unsigned char *h = (const unsigned char *)hex;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned hi = hex_digit[h[2 * i]], lo = hex_digit[h[2 * i + 1]];
		if (hi == 0 || lo == 0)
			return refuse(c, "the seccomp program has a byte that is not hex at %zu", 2 * i);
		s->seccomp[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
	}
	s->seccomp_len = n / 2;
	return 0;
}

static int read_net(struct cursor *c, struct husk_spec *s)
{
	const char *f[HUSK_NET_FIELDS];
	struct husk_net *n = &s->net;
	unsigned long mtu;
	struct in_addr a;
	if (fields(c, HUSK_TAG_NET, f, HUSK_NET_FIELDS) != 0)
		return -1;
	n->mode = f[0], n->tap = f[1], n->ip = f[2], n->mask = f[3], n->gw = f[4];
	if (*n->mode == 0)
		return refuse(c, "the network has no mode");
	if (strlen(n->tap) >= IFNAMSIZ)
		return refuse(c, "the tap device's name %s is too long", n->tap);
	for (int i = 2; i <= 4; i++)
		if (inet_pton(AF_INET, f[i], &a) != 1)
			return refuse(c, "\"%s\" is not an IPv4 address", f[i]);
	if (number(f[5], 65535, &mtu) != 0 || mtu < 68)
		return refuse(c, "the MTU \"%s\" is not one from 68 to 65535", f[5]);
	n->mtu = (int)mtu;
	if (boolean(f[6], &n->dials) != 0 || boolean(f[7], &n->direct) != 0)
		return refuse(c, "the network's switches \"%s\" \"%s\" are not 0 or 1", f[6], f[7]);
	unsigned char *m = n->mac;
	char end;
	if (sscanf(f[8], "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &end) != 6 ||
	    strlen(f[8]) != 17)
		return refuse(c, "\"%s\" is not a MAC address", f[8]);
	n->fd = -1;
	s->has_net = 1;
	return 0;
}

// once is for records that may appear once: their pointer is NULL until
// then.
static int once(struct cursor *c, char tag, const char **slot)
{
	if (*slot != NULL)
		return refuse(c, "record %c appears twice", tag);
	return (*slot = next(c)) != NULL ? 0 : refuse(c, "record %c is cut short", tag);
}

static int flag(struct cursor *c, char tag, int *slot)
{
	if (*slot)
		return refuse(c, "record %c appears twice", tag);
	*slot = 1;
	return 0;
}

// exec_record says whether an exec spec may hold a record: only what
// starts a process, since the container exists already.
static int exec_record(char tag)
{
	static const char tags[] = {HUSK_TAG_CWD, HUSK_TAG_USER, HUSK_TAG_ARG, HUSK_TAG_ENV, HUSK_TAG_KEEP_ID,
				    HUSK_TAG_NO_SETGROUPS, HUSK_TAG_NO_NEW_PRIVS, HUSK_TAG_TERMINAL, HUSK_TAG_CAP,
				    HUSK_TAG_SECCOMP, HUSK_TAG_WATCH_BINDS, HUSK_TAG_GROUP_ADD, HUSK_TAG_RLIMIT,
				    HUSK_TAG_HOLD, 0};
	return tag != 0 && strchr(tags, tag) != NULL;
}

// watch_binds marks an exec'd process's bind listener for the host side:
// of the container's network, exec has only its direct ports to serve
// (husk_watch_binds).
static int watch_binds(struct cursor *c, struct husk_spec *s)
{
	if (!s->exec)
		return refuse(c, "record %c has no place in an init's spec", HUSK_TAG_WATCH_BINDS);
	if (s->has_net)
		return refuse(c, "record %c appears twice", HUSK_TAG_WATCH_BINDS);
	s->has_net = 1;
	s->net.direct = 1;
	s->net.fd = HUSK_FD_EXEC_BINDS;
	return 0;
}

static int read_rlimit(struct cursor *c, struct husk_spec *s)
{
	const char *f[3];
	unsigned long res, soft, hard;
	if (s->nrlimits == HUSK_MAX_RLIMITS)
		return refuse(c, "more than %d rlimits", HUSK_MAX_RLIMITS);
	if (fields(c, HUSK_TAG_RLIMIT, f, 3) != 0)
		return -1;
	if (number(f[0], HUSK_MAX_RLIMITS - 1, &res) != 0 || number(f[1], ULONG_MAX, &soft) != 0 ||
	    number(f[2], ULONG_MAX, &hard) != 0 || soft > hard)
		return refuse(c, "the rlimit \"%s\" \"%s\" \"%s\" is not a resource with soft and hard limits", f[0], f[1], f[2]);
	s->rlimits[s->nrlimits++] = (struct husk_rlimit){(int)res, soft, hard};
	return 0;
}

// read_hook takes a hook: its fixed fields, then its arguments and
// variables, each list NULL-terminated in hook_strs.
static int read_hook(struct cursor *c, struct husk_spec *s)
{
	const char *f[HUSK_HOOK_FIELDS];
	unsigned long timeout, nargs, nenv;
	if (s->nhooks == HUSK_MAX_HOOKS)
		return refuse(c, "more than %d hooks", HUSK_MAX_HOOKS);
	if (fields(c, HUSK_TAG_HOOK, f, HUSK_HOOK_FIELDS) != 0)
		return -1;
	if ((strcmp(f[0], (char[]){HUSK_HOOK_CREATE, 0}) != 0 && strcmp(f[0], (char[]){HUSK_HOOK_START, 0}) != 0) ||
	    number(f[1], 86400, &timeout) != 0 || f[2][0] != '/' || number(f[3], 4096, &nargs) != 0 || nargs == 0 ||
	    number(f[4], 4096, &nenv) != 0)
		return refuse(c, "the hook \"%.8s\" \"%.8s\" \"%.64s\" is not a kind, timeout and absolute path", f[0], f[1], f[2]);
	struct husk_hook *h = &s->hooks[s->nhooks++];
	*h = (struct husk_hook){f[0][0], timeout, f[2], NULL, NULL};
	const char ***lists[] = {&h->argv, &h->envp};
	unsigned long counts[] = {nargs, nenv};
	for (int l = 0; l < 2; l++) {
		*lists[l] = s->hook_strs + s->nhook_strs;
		for (unsigned long i = 0; i < counts[l]; i++)
			if ((s->hook_strs[s->nhook_strs++] = next(c)) == NULL)
				return refuse(c, "record %c is cut short", HUSK_TAG_HOOK);
		s->hook_strs[s->nhook_strs++] = NULL;
	}
	return 0;
}

static int record(struct cursor *c, char tag, struct husk_spec *s)
{
	const char *f[2];
	unsigned long cap;
	if (s->exec && !exec_record(tag))
		return refuse(c, "record %c has no place in an exec spec", tag);
	switch (tag) {
	case HUSK_TAG_HOSTNAME: return once(c, tag, &s->hostname);
	case HUSK_TAG_CWD: return once(c, tag, &s->cwd);
	case HUSK_TAG_USER: return once(c, tag, &s->user);
	case HUSK_TAG_SCRATCH: return once(c, tag, &s->scratch);
	case HUSK_TAG_INUSE: return once(c, tag, &s->inuse);
	case HUSK_TAG_IMAGE_DIR: return once(c, tag, &s->image_dir);
	case HUSK_TAG_KEEP_ID: return flag(c, tag, &s->keep_id);
	case HUSK_TAG_NO_SETGROUPS: return flag(c, tag, &s->no_setgroups);
	case HUSK_TAG_LOOPBACK: return flag(c, tag, &s->loopback);
	case HUSK_TAG_READONLY: return flag(c, tag, &s->readonly);
	case HUSK_TAG_NO_NEW_PRIVS: return flag(c, tag, &s->no_new_privs);
	case HUSK_TAG_TERMINAL: return flag(c, tag, &s->terminal);
	case HUSK_TAG_HOLD: return flag(c, tag, &s->hold);
	case HUSK_TAG_ARG: return (s->args[s->nargs++] = next(c)) ? 0 : refuse(c, "record a is cut short");
	case HUSK_TAG_ENV: return (s->env[s->nenv++] = next(c)) ? 0 : refuse(c, "record e is cut short");
	case HUSK_TAG_OP: return read_op(c, tag, &s->ops[s->nops++], 0);
	case HUSK_TAG_ROOT_OP:
		if (s->nroot == HUSK_MAX_ROOT_OPS)
			return refuse(c, "more than %d root operations", HUSK_MAX_ROOT_OPS);
		return read_op(c, tag, &s->root_ops[s->nroot++], 1);
	case HUSK_TAG_FILE:
		if (s->nfiles == HUSK_MAX_FILES)
			return refuse(c, "more than %d generated files", HUSK_MAX_FILES);
		if (fields(c, tag, f, 2) != 0)
			return -1;
		s->file_path[s->nfiles] = f[0];
		s->file_content[s->nfiles++] = f[1];
		return 0;
	case HUSK_TAG_CAP:
		if (s->ncaps == HUSK_MAX_CAPS)
			return refuse(c, "more than %d capabilities", HUSK_MAX_CAPS);
		if (fields(c, tag, f, 1) != 0)
			return -1;
		if (number(f[0], HUSK_MAX_CAPS - 1, &cap) != 0)
			return refuse(c, "\"%s\" is not a capability's number", f[0]);
		s->caps[s->ncaps++] = (int)cap;
		return 0;
	case HUSK_TAG_SECCOMP:
		if (s->seccomp != NULL)
			return refuse(c, "record b appears twice");
		return fields(c, tag, f, 1) != 0 ? -1 : read_seccomp(c, s, f[0]);
	case HUSK_TAG_WATCH_BINDS: return watch_binds(c, s);
	case HUSK_TAG_GROUP_ADD:
		if (s->ngroups == HUSK_MAX_GROUPS)
			return refuse(c, "more than %d added groups", HUSK_MAX_GROUPS);
		return (s->groups[s->ngroups++] = next(c)) ? 0 : refuse(c, "record G is cut short");
	case HUSK_TAG_RLIMIT: return read_rlimit(c, s);
	case HUSK_TAG_HOOK_STATE: return once(c, tag, &s->hook_state);
	case HUSK_TAG_START_FIFO: return once(c, tag, &s->start_fifo);
	case HUSK_TAG_NETNS: return once(c, tag, &s->netns);
	case HUSK_TAG_SYSCTL:
		if (s->nsysctls == HUSK_MAX_SYSCTLS)
			return refuse(c, "more than %d sysctls", HUSK_MAX_SYSCTLS);
		if (fields(c, tag, f, 2) != 0)
			return -1;
		s->sysctl_key[s->nsysctls] = f[0];
		s->sysctl_value[s->nsysctls++] = f[1];
		return 0;
	case HUSK_TAG_HOOK: return read_hook(c, s);
	case HUSK_TAG_NET:
		if (s->has_net)
			return refuse(c, "record n appears twice");
		return read_net(c, s);
	}
	return refuse(c, "unknown record %c", tag);
}

// version takes the first record, which must be this decoder's version.
static int version(struct cursor *c)
{
	const char *tag = next(c), *v = next(c);
	unsigned long n;
	if (tag == NULL || strcmp(tag, (char[]){HUSK_TAG_VERSION, 0}) != 0 || v == NULL)
		return refuse(c, "it does not start with its version");
	if (number(v, ULONG_MAX, &n) != 0 || n != HUSK_SPEC_VERSION)
		return refuse(c, "version %s, where this husk reads version %d", v, HUSK_SPEC_VERSION);
	return 0;
}

// complete_exec checks an exec spec for what starting a process needs.
static int complete_exec(struct cursor *c, const struct husk_spec *s)
{
	if (s->cwd == NULL || s->user == NULL)
		return refuse(c, "record %c is missing", s->cwd == NULL ? HUSK_TAG_CWD : HUSK_TAG_USER);
	if (s->cwd[0] != '/')
		return refuse(c, "the working directory \"%.64s\" must be absolute", s->cwd);
	if (s->nargs == 0)
		return refuse(c, "the process has no command");
	return 0;
}

static int complete(struct cursor *c, const struct husk_spec *s)
{
	if (s->exec)
		return complete_exec(c, s);
	static const char tags[] = {HUSK_TAG_HOSTNAME, HUSK_TAG_CWD, HUSK_TAG_USER, HUSK_TAG_SCRATCH,
				    HUSK_TAG_INUSE, HUSK_TAG_IMAGE_DIR};
	const char *const have[] = {s->hostname, s->cwd, s->user, s->scratch, s->inuse, s->image_dir};
	for (size_t i = 0; i < sizeof tags; i++)
		if (have[i] == NULL)
			return refuse(c, "record %c is missing", tags[i]);
	if (s->cwd[0] != '/' || s->scratch[0] != '/')
		return refuse(c, "the working directory \"%.64s\" and the scratch directory \"%.64s\" must be absolute",
			      s->cwd, s->scratch);
	if (strlen(s->scratch) > HUSK_PATH_MAX)
		return refuse(c, "the scratch directory's path is too long: keep it under %d bytes", HUSK_PATH_MAX);
	if (s->nargs == 0 && !s->hold) // run --join: each task gives its own
		return refuse(c, "the sandbox has no command");
	if (s->nhooks > 0 && s->hook_state == NULL)
		return refuse(c, "record %c is missing", HUSK_TAG_HOOK_STATE);
	return 0;
}

// kind takes the record that says an exec spec, which comes right after
// the version, where exec wants one; an init's spec has none.
static int kind(struct cursor *c, struct husk_spec *s, int exec)
{
	const char *save = c->p, *tag = next(c);
	s->exec = tag != NULL && strcmp(tag, (char[]){HUSK_TAG_EXEC, 0}) == 0;
	if (!s->exec)
		c->p = save;
	if (s->exec != exec)
		return refuse(c, "%s", exec ? "it is not an exec spec" : "it is an exec spec, not an init's");
	return 0;
}

static int decode(const char *buf, size_t len, struct husk_spec *s, char *err, size_t errlen, int exec)
{
	struct cursor c = {buf, buf, buf + len, err, errlen};
	memset(s, 0, sizeof *s);
	if (len > HUSK_SPEC_MAX)
		return refuse(&c, "%zu bytes, more than the %d a spec may have", len, HUSK_SPEC_MAX);
	if (len == 0 || buf[len - 1] != 0)
		return refuse(&c, "its last token has no terminator");
	size_t tokens = 0;
	for (const char *p = buf; (p = memchr(p, 0, (size_t)(buf + len - p))) != NULL; p++)
		tokens++;
	// Each record has at least a tag: tokens bounds the number of any
	// record. Room for a terminating NULL, and HOME added to the
	// environment.
	s->args = calloc(tokens + 2, sizeof *s->args);
	s->env = calloc(tokens + 2, sizeof *s->env);
	s->ops = calloc(tokens + 1, sizeof *s->ops);
	// Each hook's two lists end with a NULL: two more each.
	s->hook_strs = calloc(tokens + 2 * HUSK_MAX_HOOKS, sizeof *s->hook_strs);
	if (s->args == NULL || s->env == NULL || s->ops == NULL || s->hook_strs == NULL)
		return refuse(&c, "out of memory");
	if (version(&c) != 0 || kind(&c, s, exec) != 0)
		return -1;
	const char *tag;
	while ((tag = next(&c)) != NULL) {
		if (tag[0] == 0 || tag[1] != 0)
			return refuse(&c, "a record's tag \"%.16s\" at byte %zu is not one letter", tag,
				      (size_t)(tag - c.start));
		if (record(&c, tag[0], s) != 0)
			return -1;
	}
	return complete(&c, s);
}

int husk_spec_decode(const char *buf, size_t len, struct husk_spec *s, char *err, size_t errlen)
{
	return decode(buf, len, s, err, errlen, 0);
}

int husk_exec_spec_decode(const char *buf, size_t len, struct husk_spec *s, char *err, size_t errlen)
{
	return decode(buf, len, s, err, errlen, 1);
}

// husk_spec_read reads a spec from fd to its end, refusing more than a
// spec may hold: the buffer, its length in len, or NULL with the reason
// in err. fd stays open.
char *husk_spec_read(int fd, size_t *len, char *err, size_t errlen)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (b == NULL) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		if (n == cap && cap > HUSK_SPEC_MAX) {
			free(b);
			snprintf(err, errlen, "it is larger than %d bytes", HUSK_SPEC_MAX);
			return NULL;
		}
		if (n == cap) {
			char *more = realloc(b, cap *= 2);
			if (more == NULL)
				free(b);
			b = more;
			continue;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			free(b);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return b;
}

void husk_spec_free(struct husk_spec *s)
{
	free(s->args);
	free(s->env);
	free(s->ops);
	free(s->hook_strs);
	free(s->seccomp);
	memset(s, 0, sizeof *s);
}
