// A prelaunch's launch file: every record as written, and any other file
// refused without a read past it (each in a heap block of exactly its
// size).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../executor.h"
#include "check.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *launch_file(size_t *len)
{
	static const struct {
		char tag;
		const char *v;
		size_t n;
	} recs[] = {
		{'k', "1000\0" "1000\0", 10}, {'w', "/etc/passwd\0-\0", 14}, {'f', "268566528", 9}, {'m', "single", 6},
		{'u', "0 1000 1\n", 9}, {'g', "0 1000 1\n", 9}, {'i', ID, 64}, {'n', "0", 1}, {'t', "1", 1},
		{'s', "V\0" "1\0", 4}, {'e', "", 0}, {'d', "sh\0", 3}, {'j', "{}", 2}, {'x', "sha", 3},
	};
	char *b = NULL;
	FILE *f = open_memstream(&b, len);
	fputs(HUSK_LAUNCH_MAGIC, f);
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
		fprintf(f, "%c%zu\n", recs[i].tag, recs[i].n);
		fwrite(recs[i].v, 1, recs[i].n, f);
		fputc('\n', f);
	}
	fclose(f);
	return b;
}

static int parse(const char *b, size_t n, struct husk_launch *l)
{
	char *copy = malloc(n ? n : 1);
	memcpy(copy, b, n);
	int r = husk_launch_parse(copy, n, l);
	free(copy);
	return r;
}

void test_launch(void)
{
	size_t len;
	char *b = launch_file(&len);
	char *copy = malloc(len);
	memcpy(copy, b, len);
	struct husk_launch l;
	CHECK(husk_launch_parse(copy, len, &l) == 0, "the launch file was refused");
	CHECK(l.key_len == 10 && memcmp(l.key, "1000\0" "1000\0", 10) == 0, "key");
	CHECK(strcmp(l.flags, "268566528") == 0 && strcmp(l.mode, "single") == 0 && strcmp(l.id, ID) == 0, "flags");
	CHECK(l.spec_len == 4 && l.dflt_len == 3 && l.entry_len == 0 && strcmp(l.net, "1") == 0, "spec");
	free(copy);
	// Cut anywhere, it is no launch; but for a cut after a whole record
	// once the records it needs are in (the spec is the last of them:
	// entry and default may be missing, j and x are the Go side's).
	size_t needed = (size_t)((char *)memmem(b, len, "\ne0\n", 4) - b) + 1;
	size_t go_own = (size_t)((char *)memmem(b, len, "\nj2\n", 4) - b) + 1;
	for (size_t n = 0; n < len; n++)
		CHECK(parse(b, n, &l) == -1 || (n >= needed && b[n - 1] == '\n'), "cut at %zu parsed", n);
	// A length past the end, or not a number: j's record is "j2\n{}\n".
	char *bad = malloc(len);
	memcpy(bad, b, len);
	char *rec = bad + go_own;
	CHECK(rec[0] == 'j' && rec[1] == '2', "j's record is not at %zu", go_own);
	rec[1] = '9';
	rec[2] = '9'; // "j99{}": no newline after the length
	CHECK(parse(bad, len, &l) == -1, "a length without its newline parsed");
	memcpy(rec, "j9\n", 3); // 9 bytes from there end just before the last newline
	CHECK(parse(bad, len - 1, &l) == -1, "a length past the end parsed");
	memcpy(rec, "j-\n", 3);
	CHECK(parse(bad, len, &l) == -1, "a length that is no number parsed");
	memcpy(rec, "j2\n", 3);
	bad[0] = 'X';
	CHECK(parse(bad, len, &l) == -1, "a wrong magic parsed");
	free(bad);
	free(b);
}

// The user namespace's entry file: its five records, each needed; a
// launch's magic is not an entry's.
void test_entry(void)
{
	static const char whole[] = HUSK_ENTRY_MAGIC "w14\n/etc/passwd\0-\0\nf9\n268566528\nm6\nsubuid\n"
				    "u21\n/usr/bin/newuidmap\0" "0\0\ng21\n/usr/bin/newgidmap\0" "0\0\n";
	size_t len = sizeof whole - 1;
	char *copy = malloc(len);
	struct husk_launch l;
	memcpy(copy, whole, len);
	CHECK(husk_entry_parse(copy, len, &l) == 0, "the entry file was refused");
	CHECK(strcmp(l.flags, "268566528") == 0 && strcmp(l.mode, "subuid") == 0, "flags or mode");
	CHECK(l.watch_len == 14 && l.uidmap_len == 21 && strcmp(l.uidmap, "/usr/bin/newuidmap") == 0, "watch or uidmap");
	CHECK(l.gidmap_len == 21 && memcmp(l.gidmap, "/usr/bin/newgidmap\0" "0\0", 21) == 0, "gidmap");
	// Without any one record (cut at each record's start), it is none.
	for (const char *r = whole + strlen(HUSK_ENTRY_MAGIC); r < whole + len; r++) {
		if (r[-1] != '\n' || strchr("wfmug", *r) == NULL)
			continue;
		memcpy(copy, whole, len);
		CHECK(husk_entry_parse(copy, (size_t)(r - whole), &l) == -1, "an entry cut before '%c' parsed", *r);
	}
	memcpy(copy, whole, len);
	copy[5] = 'p'; // husk-pserns
	CHECK(husk_entry_parse(copy, len, &l) == -1, "an entry with another magic parsed");
	free(copy);
}
