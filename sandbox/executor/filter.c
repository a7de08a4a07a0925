// PID 1's own seccomp filter, once the user's process runs: the system
// calls its loop still makes (reaper.c) and nothing else. The list is
// data; husk_filter_build turns any such list into a BPF program.
//
// Whatever is not listed fails with EPERM rather than killing the init:
// PID 1's death ends the whole container, so a call missed here (a libc
// that reaches a listed operation through another call) would cost the
// user's work, while an EPERM fails one dial and the loop goes on. An
// attacker who runs code in the init gains nothing from the difference.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "executor.h"

#define ANY (-1)

// What the loop does: take signals from its signalfd and forward them
// (read, kill), reap (wait4, waitid), poll, report (write), serve the
// published ports' dials (recvmsg, recv, socket for IPv4 only, connect,
// getsockopt, sendmsg, close), drop the binary's pages (madvise), exit.
const struct husk_allow husk_pid1_allow[] = {
	{SYS_read, ANY, 0},
	{SYS_write, ANY, 0},
	{SYS_close, ANY, 0},
	{SYS_wait4, ANY, 0},
	{SYS_waitid, ANY, 0},
	{SYS_kill, ANY, 0},
	{SYS_rt_sigreturn, ANY, 0},
	{SYS_restart_syscall, ANY, 0},
#ifdef SYS_poll
	{SYS_poll, ANY, 0},
#endif
	{SYS_ppoll, ANY, 0},
	{SYS_recvmsg, ANY, 0},
	{SYS_recvfrom, ANY, 0},
	{SYS_sendmsg, ANY, 0},
	{SYS_sendto, ANY, 0},
	{SYS_connect, ANY, 0},
	{SYS_getsockopt, ANY, 0},
	{SYS_madvise, ANY, 0},
	{SYS_clock_gettime, ANY, 0},
	{SYS_exit, ANY, 0},
	{SYS_exit_group, ANY, 0},
	{SYS_socket, 0, AF_INET},
};
const int husk_pid1_nallow = sizeof husk_pid1_allow / sizeof husk_pid1_allow[0];

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#define DENY (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

static struct sock_filter stmt(unsigned short code, unsigned k)
{
	return (struct sock_filter)BPF_STMT(code, k);
}

static struct sock_filter jeq(unsigned k, int jt, int jf)
{
	return (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, (unsigned char)jt, (unsigned char)jf);
}

// husk_filter_build writes the program that allows list's n calls into f
// (room for max instructions): its length, or 0 when it does not fit or
// the architecture is not one husk knows (no filter then). A call with an
// argument to match (arg >= 0) is allowed only with that argument's low
// 32 bits equal to val. Another architecture's calls are refused.
int husk_filter_build(const struct husk_allow *list, int n, struct sock_filter *f, int max)
{
#ifndef ARCH
	(void)list, (void)n, (void)f, (void)max;
	return 0;
#else
	int plain = 0, args = 0;
	for (int i = 0; i < n; i++)
		list[i].arg == ANY ? plain++ : args++;
	int len = 4 + plain + 4 * args + 2;
	if (len > max || len > 255)
		return 0;
	int deny = len - 2, allow = len - 1, k = 0;
	f[k++] = stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = jeq(ARCH, 1, 0);
	f[k++] = stmt(BPF_RET | BPF_K, DENY);
	f[k++] = stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++)
		if (list[i].arg == ANY) {
			f[k] = jeq((unsigned)list[i].nr, allow - k - 1, 0);
			k++;
		}
	for (int i = 0; i < n; i++)
		if (list[i].arg != ANY) {
			f[k++] = jeq((unsigned)list[i].nr, 0, 3);
			// The low half of the argument: what an int parameter holds.
			f[k++] = stmt(BPF_LD | BPF_W | BPF_ABS,
				      (unsigned)(offsetof(struct seccomp_data, args) + 8 * (unsigned)list[i].arg));
			f[k] = jeq((unsigned)list[i].val, allow - k - 1, 0);
			k++;
			f[k++] = stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		}
	f[deny] = stmt(BPF_RET | BPF_K, DENY);
	f[allow] = stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return len;
#endif
}
