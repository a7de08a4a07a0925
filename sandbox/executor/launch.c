// A prelaunch's launch file, as the Go side wrote it (start/prelaunch.go):
// HUSK_LAUNCH_MAGIC, then records of TAG LENGTH NL BYTES NL; the user
// namespace's entry file is the same after HUSK_ENTRY_MAGIC. The parser
// reads nothing outside its len bytes; a file it cannot read whole is
// no launch, and the run takes the usual path.

#include <string.h>

#include "executor.h"

// length reads a record's decimal length, which must end in a newline
// before end; NULL when it does not.
static char *length(char *p, const char *end, size_t *n)
{
	char *q = p;
	*n = 0;
	// Bounded by what is left, the value cannot overflow.
	while (q < end && *q >= '0' && *q <= '9' && *n <= (size_t)(end - p))
		*n = *n * 10 + (size_t)(*q++ - '0');
	return q > p && q < end && *q == '\n' ? q : NULL;
}

static void keep(struct husk_launch *l, char tag, const char *v, size_t n)
{
	switch (tag) {
	case HUSK_LAUNCH_KEY: l->key = v, l->key_len = n; break;
	case HUSK_LAUNCH_WATCH: l->watch = v, l->watch_len = n; break;
	case HUSK_LAUNCH_FLAGS: l->flags = v; break;
	case HUSK_LAUNCH_MODE: l->mode = v; break;
	case HUSK_LAUNCH_UIDMAP: l->uidmap = v, l->uidmap_len = n; break;
	case HUSK_LAUNCH_GIDMAP: l->gidmap = v, l->gidmap_len = n; break;
	case HUSK_LAUNCH_ID: l->id = v; break;
	case HUSK_LAUNCH_SPEC: l->spec = v, l->spec_len = n; break;
	case HUSK_LAUNCH_STDIN: l->stdin_ = v; break;
	case HUSK_LAUNCH_NET: l->net = v; break;
	case HUSK_LAUNCH_ENTRY: l->entry = v, l->entry_len = n; break;
	case HUSK_LAUNCH_DEFAULT: l->dflt = v, l->dflt_len = n; break;
	case HUSK_LAUNCH_CLAIM: l->claim = v, l->claim_len = n; break;
	default: break; // the Go side's own records
	}
}

// records fills l from a file of magic and records: 0, or -1 when the
// file is not whole.
static int records(char *p, size_t len, const char *magic, struct husk_launch *l)
{
	size_t m = strlen(magic);
	memset(l, 0, sizeof *l);
	if (len < m || memcmp(p, magic, m) != 0)
		return -1;
	const char *end = p + len;
	p += m;
	while (p < end) {
		char tag = *p++;
		size_t n;
		char *nl = length(p, end, &n);
		// The value and its newline end before the buffer does.
		if (nl == NULL || n >= (size_t)(end - nl - 1))
			return -1;
		char *v = nl + 1;
		if (v[n] != '\n')
			return -1;
		v[n] = 0; // the records are text or NUL-separated tokens
		keep(l, tag, v, n);
		p = v + n + 1;
	}
	return 0;
}

int husk_launch_parse(char *p, size_t len, struct husk_launch *l)
{
	if (records(p, len, HUSK_LAUNCH_MAGIC, l) != 0)
		return -1;
	return l->key && l->watch && l->flags && l->mode && l->uidmap && l->gidmap && l->id && strlen(l->id) == 64 &&
			       l->spec && l->stdin_ && l->net
		       ? 0
		       : -1;
}

int husk_entry_parse(char *p, size_t len, struct husk_launch *l)
{
	if (records(p, len, HUSK_ENTRY_MAGIC, l) != 0)
		return -1;
	return l->watch && l->flags && l->mode && l->uidmap && l->gidmap ? 0 : -1;
}
