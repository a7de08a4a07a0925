// PID 1 once the user's process runs (issue 12, item 8): from then on it
// only forwards signals, reaps and serves dials, so it keeps no privilege
// and no system call that the container could turn against it.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "executor.h"

// drop_caps empties the bounding, inheritable and ambient sets and keeps
// CAP_KILL alone in the permitted and effective ones: forwarding a signal
// to a process that changed its user (a root entrypoint that switches to
// an unprivileged one, as gosu or su do) needs it.
static void drop_caps(void)
{
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			husk_fail(125, "the init dropping its capabilities from the bounding set: %s", strerror(errno));
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0}};
	d[CAP_KILL / 32].permitted = d[CAP_KILL / 32].effective = 1u << (CAP_KILL % 32);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 || syscall(SYS_capset, &h, d) != 0)
		husk_fail(125, "the init dropping its capabilities: %s", strerror(errno));
}

static void load_filter(void)
{
	struct sock_filter f[128];
	int n = husk_filter_build(husk_pid1_allow, husk_pid1_nallow, f, 128);
	if (n == 0)
		return; // an architecture husk has no numbers for
	struct sock_fprog prog = {(unsigned short)n, f};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		husk_fail(125, "the init loading its own seccomp filter: %s", strerror(errno));
}

// husk_pid1_lockdown is the last step before the loop. no_new_privs comes
// first: it lets the filter load once the capabilities are gone, and the
// init never execs again.
void husk_pid1_lockdown(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		husk_fail(125, "the init setting no_new_privs: %s", strerror(errno));
	drop_caps();
	load_filter();
}

// husk_hide_invocation blanks this process's environment where the kernel
// shows it (/proc/PID/environ): the init was exec'd with, or cloned from,
// the user's own husk, whose variables may hold secrets. Its argv is
// husk's own already ("husk container-init ID", or "husk" once the
// prelaunch has cleared it). The kernel's bounds are fields 50 and 51 of
// /proc/self/stat. Nothing reads the environment after this.
void husk_hide_invocation(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long start, end;
	// After the command's ")": fields 3 to 49, then the two bounds.
	for (int field = 2; p && field < 50; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu", &start, &end) != 2 || end < start)
		return;
	memset((char *)start, 0, end - start);
}

// husk_close_except closes every descriptor but the n in keep (a negative
// one keeps nothing).
void husk_close_except(const int *keep, int n)
{
	unsigned from = 0;
	for (;;) {
		// The lowest kept descriptor at or above from.
		long next = -1;
		for (int i = 0; i < n; i++)
			if (keep[i] >= 0 && (unsigned)keep[i] >= from && (next < 0 || keep[i] < next))
				next = keep[i];
		unsigned to = next < 0 ? ~0U : (unsigned)next;
		if (to > from)
			syscall(SYS_close_range, from, to - 1, 0);
		if (next < 0)
			return;
		from = (unsigned)next + 1;
	}
}
