// The spec's decoder: each field as written, and hostile input refused
// without a read past it (every input sits in a heap block of exactly its
// size, which AddressSanitizer guards).
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "../executor.h"
#include "check.h"

// A spec as the Go encoder writes it; T(...) spells NUL-terminated tokens.
#define T(s) s "\0"
static const char good[] = T("V") T("1") T("h") T("box") T("c") T("/w") T("u") T("1000:100") T("s") T("/scratch")
	T("i") T("/inuse") T("x") T("/img") T("a") T("sh") T("a") T("-c") T("a") T("") T("e") T("A=1") T("k") T("t")
	T("r") T("9") T("/bin/fuse-overlayfs") T("/") T("") T("0") T("lowerdir=/l") T("0")
	T("o") T("1") T("proc") T("/proc") T("proc") T("14") T("") T("1")
	T("f") T("/etc/hosts") T("127.0.0.1 localhost\n")
	T("p") T("0") T("p") T("21")
	T("b") T("0600000000000000") // one instruction
	T("n") T("builtin") T("tap0") T("10.0.2.100") T("255.255.255.0") T("10.0.2.2") T("65520") T("1") T("0") T("02:42:0a:00:02:64");

// decode decodes a copy of b's n bytes in a block of exactly n bytes.
static int decode(const char *b, size_t n, struct husk_spec *s, char *err, size_t errlen)
{
	char *copy = malloc(n ? n : 1);
	memcpy(copy, b, n);
	int r = husk_spec_decode(copy, n, s, err, errlen);
	// The strings point into the copy: compare before it goes.
	if (r == 0 && s->nargs > 0)
		r = strcmp(s->args[0], "sh") == 0 || strcmp(s->args[0], "true") == 0 ? 0 : 1;
	husk_spec_free(s);
	free(copy);
	return r;
}

static void test_fields(void)
{
	struct husk_spec s;
	char err[256];
	char *copy = malloc(sizeof good - 1);
	memcpy(copy, good, sizeof good - 1);
	CHECK(husk_spec_decode(copy, sizeof good - 1, &s, err, sizeof err) == 0, "%s", err);
	CHECK(strcmp(s.hostname, "box") == 0 && strcmp(s.cwd, "/w") == 0 && strcmp(s.user, "1000:100") == 0, "%s %s %s",
	      s.hostname, s.cwd, s.user);
	CHECK(strcmp(s.scratch, "/scratch") == 0 && strcmp(s.inuse, "/inuse") == 0 && strcmp(s.image_dir, "/img") == 0,
	      "%s", s.scratch);
	CHECK(s.nargs == 3 && strcmp(s.args[2], "") == 0 && s.nenv == 1 && strcmp(s.env[0], "A=1") == 0, "%d %d", s.nargs,
	      s.nenv);
	CHECK(s.keep_id && s.terminal && !s.readonly && !s.no_new_privs, "flags");
	CHECK(s.nroot == 1 && s.root_ops[0].kind == HUSK_OP_FUSE_OVERLAY && strcmp(s.root_ops[0].data, "lowerdir=/l") == 0,
	      "root op");
	CHECK(s.nops == 1 && s.ops[0].kind == HUSK_OP_MOUNT && s.ops[0].flags == 14 && s.ops[0].optional, "op");
	CHECK(s.nfiles == 1 && strcmp(s.file_content[0], "127.0.0.1 localhost\n") == 0, "file");
	CHECK(s.ncaps == 2 && s.caps[1] == 21, "caps");
	CHECK(s.seccomp_len == 8 && s.seccomp[0] == 6, "seccomp %zu", s.seccomp_len);
	CHECK(s.has_net && s.net.mtu == 65520 && s.net.dials && !s.net.direct && strcmp(s.net.gw, "10.0.2.2") == 0, "net");
	husk_spec_free(&s);
	free(copy);
}

static void test_truncated(void)
{
	struct husk_spec s;
	char err[256];
	// Every cut that ends inside a token, or before the command, is
	// refused; the only cuts that decode end after a whole record.
	for (size_t n = 0; n < sizeof good - 1; n++) {
		int r = decode(good, n, &s, err, sizeof err);
		CHECK(r != 0 || good[n - 1] == 0, "cut at %zu decoded", n);
	}
}

static void refused(const char *what, const char *b, size_t n, const char *want)
{
	struct husk_spec s;
	char err[256] = "";
	CHECK(decode(b, n, &s, err, sizeof err) == -1, "%s: decoded", what);
	CHECK(strstr(err, want) != NULL, "%s: \"%s\" lacks \"%s\"", what, err, want);
}

// with returns good followed by extra's n bytes, in a buffer of its own.
static char *with(const char *extra, size_t n, size_t *len)
{
	*len = sizeof good - 1 + n;
	char *b = malloc(*len);
	memcpy(b, good, sizeof good - 1);
	memcpy(b + sizeof good - 1, extra, n);
	return b;
}

#define REFUSED(what, lit, want) refused(what, lit, sizeof lit - 1, want)

#define REFUSED_WITH(what, extra, want)                                 \
	do {                                                            \
		size_t len;                                             \
		char *b = with(extra, sizeof extra - 1, &len);          \
		refused(what, b, len, want);                            \
		free(b);                                                \
	} while (0)

static void test_hostile(void)
{
	refused("empty", "", 0, "no terminator");
	refused("no terminator", good, sizeof good - 2, "no terminator");
	REFUSED("no version", T("h") T("box"), "does not start with its version");
	REFUSED("wrong version", T("V") T("2"), "version 2, where this husk reads version 1");
	char *huge = calloc(1, (size_t)HUSK_SPEC_MAX + 1);
	refused("huge", huge, (size_t)HUSK_SPEC_MAX + 1, "more than");
	free(huge);
	REFUSED_WITH("unknown tag", T("Q"), "unknown record Q");
	REFUSED_WITH("long tag", T("hh") T("x"), "not one letter");
	REFUSED_WITH("twice", T("c") T("/again"), "record c appears twice");
	REFUSED_WITH("flag twice", T("k"), "record k appears twice");
	REFUSED_WITH("cut op", T("o") T("1") T("src"), "record o is cut short");
	REFUSED_WITH("kind 0", T("o") T("0") T("s") T("/t") T("") T("0") T("") T("0"), "unknown setup operation");
	REFUSED_WITH("kind past the last", T("o") T("10") T("s") T("/t") T("") T("0") T("") T("0"), "unknown setup operation");
	REFUSED_WITH("flags with a sign", T("o") T("1") T("s") T("/t") T("") T("+1") T("") T("0"), "not a number");
	REFUSED_WITH("flags overflow", T("o") T("1") T("s") T("/t") T("") T("18446744073709551616") T("") T("0"),
		     "not a number");
	REFUSED_WITH("cap 64", T("p") T("64"), "not a capability");
	REFUSED_WITH("cap negative", T("p") T("-1"), "not a capability");
	REFUSED_WITH("seccomp twice", T("b") T("0600000000000000"), "record b appears twice");
	REFUSED_WITH("net twice", T("n") T("builtin") T("tap0") T("10.0.2.100") T("255.255.255.0") T("10.0.2.2")
		     T("65520") T("1") T("0") T("02:42:0a:00:02:64"), "record n appears twice");
	REFUSED_WITH("too many files", T("f") T("a") T("") T("f") T("a") T("") T("f") T("a") T("") T("f") T("a") T("")
		     T("f") T("a") T("") T("f") T("a") T("") T("f") T("a") T("") T("f") T("a") T(""), "generated files");
	REFUSED("seccomp not hex", T("V") T("1") T("b") T("0g00000000000000"), "not hex");
	REFUSED("seccomp cut", T("V") T("1") T("b") T("06000000"), "not whole instructions");
	REFUSED("bad address", T("V") T("1") T("n") T("builtin") T("tap0") T("10.0.2") T("255.0.0.0") T("10.0.2.2") T("1500")
		T("0") T("0") T("02:42:0a:00:02:64"), "not an IPv4 address");
	REFUSED("bad mac", T("V") T("1") T("n") T("builtin") T("tap0") T("10.0.2.1") T("255.0.0.0") T("10.0.2.2") T("1500")
		T("0") T("0") T("02:42:0a:00:02"), "not a MAC address");
	REFUSED("missing user", T("V") T("1") T("h") T("b") T("c") T("/") T("s") T("/s") T("i") T("") T("x") T("") T("a") T("sh"),
		"record u is missing");
	REFUSED("relative cwd", T("V") T("1") T("h") T("b") T("c") T("w") T("u") T("") T("s") T("/s") T("i") T("") T("x")
		T("") T("a") T("sh"), "must be absolute");
}

// An exec spec as sandbox.Spec.EncodeExec writes it.
static const char exec_good[] = T("V") T("1") T("E") T("c") T("/w") T("u") T("app:staff") T("a") T("sh") T("a") T("-c")
	T("e") T("SECRET=1") T("g") T("z") T("t") T("p") T("5") T("b") T("0600000000000000") T("w");

static int exec_decode(const char *b, size_t n, struct husk_spec *s, char *err, size_t errlen)
{
	char *copy = malloc(n ? n : 1);
	memcpy(copy, b, n);
	int r = husk_exec_spec_decode(copy, n, s, err, errlen);
	husk_spec_free(s);
	free(copy);
	return r;
}

static void exec_refused(const char *what, const char *b, size_t n, const char *want)
{
	struct husk_spec s;
	char err[256] = "";
	CHECK(exec_decode(b, n, &s, err, sizeof err) == -1, "%s: decoded", what);
	CHECK(strstr(err, want) != NULL, "%s: \"%s\" lacks \"%s\"", what, err, want);
}

#define EXEC_REFUSED(what, lit, want) exec_refused(what, lit, sizeof lit - 1, want)

static void test_exec_fields(void)
{
	struct husk_spec s;
	char err[256];
	char *copy = malloc(sizeof exec_good - 1);
	memcpy(copy, exec_good, sizeof exec_good - 1);
	CHECK(husk_exec_spec_decode(copy, sizeof exec_good - 1, &s, err, sizeof err) == 0, "%s", err);
	CHECK(s.exec && strcmp(s.cwd, "/w") == 0 && strcmp(s.user, "app:staff") == 0, "%s %s", s.cwd, s.user);
	CHECK(s.nargs == 2 && strcmp(s.args[1], "-c") == 0 && s.nenv == 1 && strcmp(s.env[0], "SECRET=1") == 0, "args");
	CHECK(s.no_setgroups && s.no_new_privs && s.terminal && !s.keep_id, "flags");
	CHECK(s.ncaps == 1 && s.caps[0] == 5 && s.seccomp_len == 8, "caps, seccomp");
	CHECK(s.has_net && s.net.direct && s.net.fd == HUSK_FD_EXEC_BINDS, "watch binds");
	CHECK(s.hostname == NULL && s.scratch == NULL && s.nroot == 0 && s.nops == 0, "init's records");
	husk_spec_free(&s);
	free(copy);
}

static void test_exec_hostile(void)
{
	struct husk_spec s;
	char err[256];
	// Each decoder refuses the other's spec: an exec spec never builds a
	// root, and an init never runs without one.
	CHECK(decode(exec_good, sizeof exec_good - 1, &s, err, sizeof err) == -1 &&
		      strstr(err, "an exec spec, not an init's") != NULL,
	      "the init took an exec spec: %s", err);
	exec_refused("an init's spec", good, sizeof good - 1, "not an exec spec");
	for (size_t n = 0; n < sizeof exec_good - 1; n++)
		CHECK(exec_decode(exec_good, n, &s, err, sizeof err) != 0 || exec_good[n - 1] == 0, "cut at %zu decoded", n);
	EXEC_REFUSED("E late", T("V") T("1") T("c") T("/") T("E") T("u") T("") T("a") T("sh"), "not an exec spec");
	EXEC_REFUSED("E twice", T("V") T("1") T("E") T("E") T("c") T("/") T("u") T("") T("a") T("sh"),
		     "record E has no place");
	EXEC_REFUSED("hostname", T("V") T("1") T("E") T("h") T("box") T("c") T("/") T("u") T("") T("a") T("sh"),
		     "record h has no place in an exec spec");
	EXEC_REFUSED("a mount", T("V") T("1") T("E") T("o") T("1") T("proc") T("/proc") T("proc") T("0") T("") T("0"),
		     "record o has no place in an exec spec");
	EXEC_REFUSED("a network", T("V") T("1") T("E") T("n") T("builtin"), "record n has no place");
	EXEC_REFUSED("unknown", T("V") T("1") T("E") T("Q"), "record Q has no place");
	EXEC_REFUSED("w twice", T("V") T("1") T("E") T("w") T("w"), "record w appears twice");
	EXEC_REFUSED("no cwd", T("V") T("1") T("E") T("u") T("") T("a") T("sh"), "record c is missing");
	EXEC_REFUSED("no user", T("V") T("1") T("E") T("c") T("/") T("a") T("sh"), "record u is missing");
	EXEC_REFUSED("relative cwd", T("V") T("1") T("E") T("c") T("w") T("u") T("") T("a") T("sh"), "must be absolute");
	EXEC_REFUSED("no command", T("V") T("1") T("E") T("c") T("/") T("u") T(""), "no command");
	EXEC_REFUSED("cut arg", T("V") T("1") T("E") T("c") T("/") T("u") T("") T("a"), "record a is cut short");
	EXEC_REFUSED("no terminator", T("V") T("1") T("E") T("c") "/", "no terminator");
	EXEC_REFUSED("wrong version", T("V") T("2") T("E"), "version 2");
	REFUSED_WITH("w in an init's spec", T("w"), "record w has no place in an init's spec");
}

void test_spec(void)
{
	test_fields();
	test_truncated();
	test_hostile();
	test_exec_fields();
	test_exec_hostile();
}
