// Prelaunch: a `husk run` that ran before with the same arguments up to
// the image, environment, directory and user starts its sandbox here, in
// C, before the Go runtime does, whatever command follows the image. The
// Go side of that earlier run wrote down the launch it made
// (cli/prelaunch.go): the clone flags, the ID maps, the C init's spec
// without the process's arguments, the entrypoint and default command,
// and the files whose change would have changed any of it, each with its
// identity. When every one is unchanged, the prelaunch entry (entry.c)
// clones the sandbox, maps it and lets its init run. A run that ends at
// once ends here; otherwise the Go runtime starts and only keeps the books
// (the record, signals, the builtin network's stack, the exit). Anything
// unexpected leaves no trace and the Go side starts the sandbox the usual
// way.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "executor.h"

// The descriptors of a launch, by index.
enum { FD_STATUS_R, FD_STATUS_W, FD_SYNC_R, FD_SYNC_W, FD_NET_HOST, FD_NET_INIT, FD_COUNT };

struct husk_prelaunch husk_pre = {.pid = -1, .status_fd = -1, .net_fd = -1, .tap_fd = -1, .claim_fd = -1};

// ---- the key: who runs what, where, with which environment ----

struct buf {
	char *p;
	size_t len, cap;
};

static int put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len++] = 0;
	return 0;
}

// putn puts v in decimal.
static int putn(struct buf *b, long v)
{
	char s[64];
	int n = snprintf(s, sizeof s, "%ld", v);
	return put(b, s, (size_t)n);
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// The invocation, as the constructor saw it: arguments, and the
// environment sorted (the order of variables means nothing to husk; a
// later setenv does not change this copy).
static int inv_argc;
static char **inv_argv, **inv_env;
static int inv_nenv;

static int save_invocation(int argc, char **argv, char **environ_)
{
	while (environ_[inv_nenv])
		inv_nenv++;
	inv_env = malloc((inv_nenv + 1) * sizeof *inv_env);
	if (inv_env == NULL)
		return -1;
	memcpy(inv_env, environ_, (inv_nenv + 1) * sizeof *inv_env);
	qsort(inv_env, inv_nenv, sizeof *inv_env, by_text);
	inv_argc = argc, inv_argv = argv;
	return 0;
}

// key_header is what every launch key of this invocation starts with:
// uid, gid, directory, then every variable (counted), each NUL-terminated.
static int key_header(struct buf *b)
{
	char cwd[4096];
	if (inv_argv == NULL || getcwd(cwd, sizeof cwd) == NULL)
		return -1;
	int bad = putn(b, (long)getuid()) || putn(b, (long)getgid()) || put(b, cwd, strlen(cwd)) || putn(b, inv_nenv);
	for (int i = 0; i < inv_nenv && !bad; i++)
		bad = put(b, inv_env[i], strlen(inv_env[i]));
	return bad ? -1 : 0;
}

// husk_launch_key is the identity of a run whose arguments up to the
// image are argv[1..k] (the command after it may change): the header,
// then those arguments, each NUL-terminated. The arguments come last, so
// that each prefix's key is the start of the next one's and one pass
// hashes them all (find_launch). NULL when it cannot be made.
char *husk_launch_key(int k, size_t *len)
{
	struct buf b = {0};
	if (k < 1 || k >= inv_argc || key_header(&b) != 0) {
		free(b.p);
		return NULL;
	}
	for (int i = 1; i <= k; i++)
		if (put(&b, inv_argv[i], strlen(inv_argv[i])) != 0) {
			free(b.p);
			return NULL;
		}
	*len = b.len;
	return b.p;
}

// fnv64 names the launch's file; the file holds the whole key to compare.
// fnv64_add goes on from h, so that a key's hash is its prefix's, added to.
#define FNV64_START 14695981039346656037ULL

static uint64_t fnv64_add(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

// launch_dir is where cli/prelaunch.go keeps the launches: store.Paths'
// root, then startcache/. A relative HUSK_ROOT is left to Go. Where Go
// placed the store elsewhere (store/place.go: the data directory is on a
// network filesystem), the data directory's startcache is a file of Go's
// that names the placed root's: this side follows what Go resolved
// (husk_open_launch_dir), never decides.
static int launch_dir(char *out, size_t n)
{
	const char *r = getenv(HUSK_ENV_ROOT), *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
	int k;
	if (r && *r) {
		if (*r != '/')
			return -1;
		k = snprintf(out, n, "%s/" HUSK_LAUNCH_DIR, r);
	} else if (x && *x == '/') {
		k = snprintf(out, n, "%s/husk/" HUSK_LAUNCH_DIR, x);
	} else if (h && *h == '/') {
		k = snprintf(out, n, "%s/.local/share/husk/" HUSK_LAUNCH_DIR, h);
	} else {
		return -1;
	}
	return k > 0 && (size_t)k < n ? 0 : -1;
}

static int by_hash(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

// launch_hashes lists, sorted, the hashes of the launches in dir: one
// directory read, where probing a path per argument would cost a lookup
// for each of a long command's arguments.
static size_t launch_hashes(int dfd, uint64_t **out)
{
	int fd = dup(dfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	size_t n = 0, cap = 0;
	*out = NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	const size_t plen = strlen(HUSK_LAUNCH_PREFIX);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		char *end;
		if (strncmp(e->d_name, HUSK_LAUNCH_PREFIX, plen) != 0 || strlen(e->d_name) != plen + 16)
			continue;
		uint64_t h = strtoull(e->d_name + plen, &end, 16);
		if (*end != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			uint64_t *p = realloc(*out, cap * sizeof *p);
			if (p == NULL)
				break;
			*out = p;
		}
		(*out)[n++] = h;
	}
	closedir(d);
	qsort(*out, n, sizeof **out, by_hash);
	return n;
}

// ---- the launch file (launch.c parses it) ----

char *husk_read_file(int dfd, const char *name, size_t *len)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *p = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20) && (p = malloc(st.st_size + 1))) {
		size_t got = 0;
		ssize_t k;
		while (got < (size_t)st.st_size && (k = read(fd, p + got, st.st_size - got)) > 0)
			got += k;
		if (got != (size_t)st.st_size) {
			free(p);
			p = NULL;
		} else {
			p[got] = 0;
			*len = got;
		}
	}
	close(fd);
	return p;
}

// husk_file_identity is what the Go side wrote for each watched file.
int husk_file_identity(const char *path, char *out, size_t n)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return snprintf(out, n, "-");
	return snprintf(out, n, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
			(unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec);
}

// husk_unchanged checks the watch list: path, identity, path, identity...
int husk_unchanged(const char *w, size_t len)
{
	const char *end = w + len;
	while (w < end) {
		const char *path = w, *want = w + strlen(w) + 1;
		if (want >= end)
			return 0;
		char got[128];
		husk_file_identity(path, got, sizeof got);
		// An identity ending in ':' is a prefix: the same file, whatever
		// its size and time (a volume's source).
		size_t n = strlen(want);
		if (n > 0 && want[n - 1] == ':' ? strncmp(got, want, n) != 0 : strcmp(got, want) != 0)
			return 0;
		w = want + strlen(want) + 1;
	}
	return 1;
}

// ---- this run's ID, in the spec the earlier run made ----

static int new_id(char *out)
{
	unsigned char r[32];
	if (getrandom(r, sizeof r, 0) != sizeof r)
		return -1;
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	return 0;
}

// replace puts id in place of old (the whole ID, then its short form, as
// the host name and /etc/hostname carry it) in spec.
static void replace(char *spec, size_t len, const char *old, const char *id)
{
	static const size_t lens[] = {64, 12};
	for (int i = 0; i < 2; i++)
		for (char *p = spec; (p = memmem(p, len - (p - spec), old, lens[i])) != NULL; p += lens[i])
			memcpy(p, id, lens[i]);
}

// ---- the sandbox ----

static int write_to(pid_t pid, const char *file, const char *s, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t k = write(fd, s, n);
	close(fd);
	return k == (ssize_t)n ? 0 : -1;
}

// hide_argv leaves the init's argv as "husk": it is this invocation's
// memory, whose flags (-e values, -v host paths) every local user would
// read in /proc/PID/cmdline, and the container at /proc/1/cmdline.
static void hide_argv(void)
{
	char *end = inv_argv[inv_argc - 1] + strlen(inv_argv[inv_argc - 1]);
	memset(inv_argv[0], 0, end - inv_argv[0]);
	strncpy(inv_argv[0], "husk", end - inv_argv[0]);
}

// child is the sandbox's PID 1 before it becomes the C init: the file
// descriptors and variables an exec'd init would have had. Without an
// exec, close-on-exec closes nothing: the parent's ends close here, or a
// failed map would leave the init waiting on its own sync pipe.
static void child(const int *fd, int keep_stdin, char *spec, size_t spec_len)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	setsid();
	hide_argv();
	close(fd[FD_STATUS_R]);
	close(fd[FD_SYNC_W]);
	if (fd[FD_NET_HOST] >= 0)
		close(fd[FD_NET_HOST]);
	if (!keep_stdin) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0)
			_exit(125);
		close(null);
	}
	// Above every target first, so that no dup2 overwrites a source.
	static const int from[] = {FD_STATUS_W, FD_SYNC_R, FD_NET_INIT},
			 to[] = {HUSK_FD_STATUS, HUSK_FD_PRELAUNCH_SYNC, HUSK_FD_PRELAUNCH_NET};
	int high[3];
	for (int i = 0; i < 3; i++)
		if (fd[from[i]] >= 0 && (high[i] = fcntl(fd[from[i]], F_DUPFD, 10)) < 0)
			_exit(125);
	for (int i = 0; i < 3; i++)
		if (fd[from[i]] >= 0 && (dup2(high[i], to[i]) < 0 || close(high[i]) < 0))
			_exit(125);
	char num[16];
	snprintf(num, sizeof num, "%d", HUSK_FD_PRELAUNCH_NET);
	if (fd[FD_NET_INIT] >= 0)
		setenv(HUSK_ENV_SANDBOX_NET, num, 1);
	setenv(HUSK_ENV_SANDBOX, "1", 1);
	setenv(HUSK_ENV_CONTAINER, husk_pre.id, 1);
	snprintf(num, sizeof num, "%d", HUSK_FD_PRELAUNCH_SYNC);
	setenv(HUSK_ENV_USERNS_SYNC, num, 1);
	husk_cinit_spec(spec, spec_len);
}

// spawn_helper starts newuidmap or newgidmap (PATH, then its ranges) on
// pid. posix_spawn's vfork spares copying this process for an exec.
static pid_t spawn_helper(const char *tokens, size_t len, pid_t pid)
{
	char pidstr[16], *argv[64];
	int n = 0;
	const char *end = tokens + len;
	snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
	for (const char *t = tokens; t < end && n < 62; t += strlen(t) + 1) {
		argv[n++] = (char *)t;
		if (n == 1)
			argv[n++] = pidstr;
	}
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	pid_t h = -1;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	if (posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) == 0 &&
	    posix_spawn_file_actions_adddup2(&fa, 1, 2) == 0 && posix_spawn(&h, argv[0], &fa, NULL, argv, environ) != 0)
		h = -1;
	posix_spawn_file_actions_destroy(&fa);
	return h;
}

// map_helpers writes a subuid sandbox's maps through the setuid helpers,
// side by side, and releases the sandbox when both did. A failure is the
// usual path's to name.
static int map_helpers(const struct husk_launch *l, pid_t pid, int sync_w)
{
	pid_t u = spawn_helper(l->uidmap, l->uidmap_len, pid), g = spawn_helper(l->gidmap, l->gidmap_len, pid);
	int su = -1, sg = -1;
	if (u > 0)
		waitpid(u, &su, 0);
	if (g > 0)
		waitpid(g, &sg, 0);
	return su == 0 && sg == 0 && write(sync_w, (char[]){HUSK_USERNS_MAPPED}, 1) == 1 ? 0 : -1;
}

static int map_single(const struct husk_launch *l, pid_t pid, int sync_w)
{
	if (write_to(pid, "setgroups", "deny", 4) || write_to(pid, "uid_map", l->uidmap, l->uidmap_len) ||
	    write_to(pid, "gid_map", l->gidmap, l->gidmap_len))
		return -1;
	return write(sync_w, (char[]){HUSK_USERNS_MAPPED}, 1) == 1 ? 0 : -1;
}

// husk_map writes the child's ID maps as the mode says and releases it.
int husk_map(const struct husk_launch *l, pid_t pid, int sync_w)
{
	return strcmp(l->mode, "single") == 0 ? map_single(l, pid, sync_w) : map_helpers(l, pid, sync_w);
}

void husk_abandon(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

// forget closes this side's ends of a launch that will not be followed.
static void forget(void)
{
	if (husk_pre.status_fd >= 0)
		close(husk_pre.status_fd);
	if (husk_pre.net_fd >= 0)
		close(husk_pre.net_fd);
	if (husk_pre.tap_fd >= 0)
		close(husk_pre.tap_fd);
	if (husk_pre.claim_fd >= 0)
		close(husk_pre.claim_fd);
	husk_pre.status_fd = husk_pre.net_fd = husk_pre.tap_fd = husk_pre.claim_fd = -1;
}

// claim takes the address a launch on a user-defined network reserved
// (usernet.Store.Reserve): its lease file locked, still the one at its
// path, and still holding the reservation. The lock lasts as long as this
// process (the Go side keeps it when it follows), so two runs never share
// the address; a run that cannot claim it takes the usual path, which
// leases another. 0, or -1.
static int claim(const struct husk_launch *l)
{
	if (l->claim == NULL)
		return 0;
	const char *path = l->claim, *tag = path + strlen(path) + 1;
	if (tag >= l->claim + l->claim_len)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat a, b;
	char buf[128] = {0};
	ssize_t n = -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		n = read(fd, buf, sizeof buf - 1);
	if (n < 0 || (size_t)n != strlen(tag) || memcmp(buf, tag, (size_t)n) != 0) {
		close(fd);
		return -1;
	}
	husk_pre.claim_fd = fd;
	return 0;
}

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int launch(struct husk_launch *l, char *spec_copy)
{
	int fd[FD_COUNT];
	for (int i = 0; i < FD_COUNT; i++)
		fd[i] = -1;
	int ok = pipe2(fd + FD_STATUS_R, O_CLOEXEC) == 0 && pipe2(fd + FD_SYNC_R, O_CLOEXEC) == 0;
	// The builtin network: the init sends its TAP device on this socket
	// (cli's netHost.options makes the same pair).
	if (ok && strcmp(l->net, "1") == 0)
		ok = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd + FD_NET_HOST) == 0;
	pid_t pid = -1;
	if (ok)
		pid = syscall(SYS_clone, strtoul(l->flags, NULL, 10) | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		// The usual path meets the same refusal and names it.
		close_all(fd, FD_COUNT);
		return -1;
	}
	if (pid == 0)
		child(fd, strcmp(l->stdin_, "1") == 0, spec_copy, l->spec_len);
	int sync_w = fd[FD_SYNC_W];
	fd[FD_SYNC_W] = -1;
	husk_pre.status_fd = fd[FD_STATUS_R], husk_pre.net_fd = fd[FD_NET_HOST];
	fd[FD_STATUS_R] = fd[FD_NET_HOST] = -1;
	close_all(fd, FD_COUNT);
	ok = husk_map(l, pid, sync_w) == 0;
	close(sync_w);
	if (!ok) {
		forget();
		husk_abandon(pid);
		return -1;
	}
	husk_pre.pid = pid;
	return 0;
}

// ---- a run that ends at once ----

// A run whose process ends within QUICK_MS is finished here: its record
// would be written and removed again after it ended (the Go runtime takes
// ~20 ms to start on a small machine), so nobody could ever see it. A
// longer run gets its record QUICK_MS late, its books kept by the Go side.
// A run with the builtin network is handed over at its first packet: only
// the Go side's stack can answer it.
#define QUICK_MS 30

static const int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, 0};

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// watch waits for the sandbox until the deadline, its first packet or its
// end, relaying signals meanwhile; 1 when it ended, with *st its status.
static int watch(int *st)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; relayed[i]; i++)
		sigaddset(&set, relayed[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC), done = 0;
	struct pollfd p[2] = {{sfd, POLLIN, 0}, {husk_pre.net_fd, POLLIN, 0}};
	long long deadline = now_ns() + QUICK_MS * 1000000LL;
	while (sfd >= 0) {
		if (waitpid(husk_pre.pid, st, WNOHANG) == husk_pre.pid) {
			done = 1;
			break;
		}
		long long left = deadline - now_ns();
		struct timespec ts = {left / 1000000000LL, left % 1000000000LL};
		if (left <= 0 || ppoll(p, 2, &ts, NULL) < 0)
			break;
		struct signalfd_siginfo si;
		if ((p[0].revents & POLLIN) && read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD)
			kill(husk_pre.pid, si.ssi_signo);
		if (p[1].revents & (POLLHUP | POLLERR))
			p[1].fd = -1; // the init is gone: waitpid says how
		else if ((p[1].revents & POLLIN) && husk_pre.tap_fd >= 0)
			break; // the first packet
		else if (p[1].revents & POLLIN)
			p[1].fd = husk_pre.tap_fd = husk_recv_fd(husk_pre.net_fd); // the init's TAP device
	}
	if (sfd >= 0)
		close(sfd);
	if (!done) {
		// Handed over: the relayed signals stay blocked, so that one
		// arriving before the Go side asks for them (os/signal, in
		// sandbox.Adopt) waits for it instead of ending this process by
		// Go's default; Go unblocks them as it asks.
		for (int i = 0; relayed[i]; i++)
			sigaddset(&old, relayed[i]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return done;
}

// ended is the sandbox's exit code once it has ended within the wait; -1
// when the Go side is to follow it.
static int ended(void)
{
	int st;
	if (!watch(&st))
		return -1;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

// A process husk started for itself (an init, a reaper, exec's joiner, a
// namespace child) is never a prelaunch, nor enters the namespace again.
int husk_reexecuted(void)
{
	static const char *marks[] = {HUSK_ENV_USERNS, HUSK_ENV_SANDBOX, HUSK_ENV_CINIT, NULL};
	for (int i = 0; marks[i]; i++)
		if (getenv(marks[i]))
			return 1;
	return 0;
}

// find_launch finds the launch of this invocation: the shortest argument
// prefix that has one (the arguments after it are the command), and fills
// l from it. The shortest is the right one: a launch was written for a
// prefix ending at its image, and the same prefix parses the same way, the
// image ending the flags. One pass over the arguments, each hashed once.
// The file stays allocated in *file.
// husk_open_launch_dir opens the launch directory when it is the user's and no
// one else can write in it: a placed root sits under /tmp, where anyone
// could have made the path first, and a launch is what the user will run.
// The files are then opened from this descriptor, not by path.
int husk_open_launch_dir(void)
{
	char dir[4096];
	struct stat st;
	if (launch_dir(dir, sizeof dir) != 0)
		return -1;
	int dfd = open(dir, O_RDONLY | O_CLOEXEC);
	if (dfd >= 0 && fstat(dfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
		// Go's pointer to the placed root's launches: one absolute path.
		ssize_t n = read(dfd, dir, sizeof dir - 1);
		close(dfd);
		dfd = -1;
		if (n > 1 && dir[0] == '/' && dir[n - 1] == '\n') {
			dir[n - 1] = 0;
			dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
	}
	if (dfd >= 0 && (fstat(dfd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)) {
		close(dfd);
		return -1;
	}
	return dfd;
}

static int find_launch(struct husk_launch *l, char **file, size_t *len, int *k)
{
	char name[64];
	uint64_t *have = NULL;
	size_t key_len, nhave;
	int dfd = husk_open_launch_dir();
	if (dfd < 0)
		return -1;
	if ((nhave = launch_hashes(dfd, &have)) == 0) {
		close(dfd);
		return -1;
	}
	char *key = husk_launch_key(inv_argc - 1, &key_len);
	int found = -1;
	if (key == NULL) {
		free(have);
		close(dfd);
		return -1;
	}
	size_t off = key_len;
	for (int i = 1; i < inv_argc; i++)
		off -= strlen(inv_argv[i]) + 1; // the header's length
	uint64_t h = fnv64_add(FNV64_START, key, off);
	for (*k = 1; *k < inv_argc; (*k)++) {
		size_t n = strlen(inv_argv[*k]) + 1;
		h = fnv64_add(h, key + off, n);
		off += n;
		if (bsearch(&h, have, nhave, sizeof h, by_hash) == NULL)
			continue;
		snprintf(name, sizeof name, HUSK_LAUNCH_PREFIX "%016llx", (unsigned long long)h);
		if ((*file = husk_read_file(dfd, name, len)) == NULL)
			continue;
		if (husk_launch_parse(*file, *len, l) == 0 && l->key_len == off && memcmp(l->key, key, off) == 0) {
			found = 0;
			break;
		}
		free(*file);
		break; // another invocation's launch under this hash: the usual path
	}
	free(key);
	free(have);
	close(dfd);
	return found;
}

// with_args is the spec (without arguments) followed by the process's
// arguments: the entrypoint and this invocation's command when it gives
// one, else the default the launch recorded.
static char *with_args(const struct husk_launch *l, int k, size_t *len)
{
	const char *list = l->dflt;
	size_t list_len = l->dflt_len, need = l->spec_len + 1;
	int own = k + 1 < inv_argc;
	if (own)
		list = l->entry, list_len = l->entry_len;
	if (list == NULL)
		return NULL;
	for (int i = k + 1; own && i < inv_argc; i++)
		need += strlen(inv_argv[i]) + 3;
	need += list_len * 3 + 64;
	char *out = malloc(need), *p = out;
	if (out == NULL)
		return NULL;
	memcpy(p, l->spec, l->spec_len);
	p += l->spec_len;
	int n = 0;
	for (const char *t = list; t < list + list_len; t += strlen(t) + 1, n++)
		p += sprintf(p, "%c%c%s%c", HUSK_TAG_ARG, 0, t, 0);
	for (int i = k + 1; own && i < inv_argc; i++, n++)
		p += sprintf(p, "%c%c%s%c", HUSK_TAG_ARG, 0, inv_argv[i], 0);
	*p = 0;
	*len = p - out;
	if (n == 0) {
		// No command at all: the usual path says so.
		free(out);
		return NULL;
	}
	return out;
}

// husk_prelaunch_main is the prelaunch entry, for any invocation no other
// entry took: it starts this run's sandbox when a launch is written down.
void husk_prelaunch_main(int argc, char **argv, char **envp)
{
	if (husk_reexecuted() || geteuid() == 0 || save_invocation(argc, argv, envp) != 0)
		return;
	size_t len, spec_len;
	char *file;
	int k;
	struct husk_launch l = {0};
	if (find_launch(&l, &file, &len, &k) != 0)
		return;
	char *spec = NULL;
	if (!husk_unchanged(l.watch, l.watch_len) || new_id(husk_pre.id) != 0 || (spec = with_args(&l, k, &spec_len)) == NULL) {
		free(file);
		return;
	}
	// The ID in the spec before the arguments, which are the user's.
	replace(spec, l.spec_len, l.id, husk_pre.id);
	l.spec_len = spec_len;
	int ok = claim(&l) == 0 && launch(&l, spec) == 0;
	if (!ok)
		forget();
	free(spec);
	if (!ok) {
		free(file);
		return;
	}
	int code = ended();
	if (code >= 0)
		exit(code);
	husk_pre.file = file, husk_pre.file_len = len;
}
