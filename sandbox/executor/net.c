// The init's network: lo, the builtin stack's TAP device (made here, sent
// to the host side), the wait for slirp4netns or pasta, and the bind
// listener for port_handler=direct.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/audit.h>
#include <stddef.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"

static void if_flags_up(int sock, const char *name)
{
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
		husk_fail(125, "setting up the network: reading the flags of %s: %s", name, strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0)
		husk_fail(125, "setting up the network: bringing up %s: %s", name, strerror(errno));
}

static void set_addr(int sock, const char *name, unsigned long req, const char *ip, const char *what)
{
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	struct sockaddr_in *a = (struct sockaddr_in *)&ifr.ifr_addr;
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	if (ioctl(sock, req, &ifr) != 0)
		husk_fail(125, "setting up the network: setting the %s of %s: %s", what, name, strerror(errno));
}

// setup_net: the builtin stack gets a TAP device made here and sent to
// the host side; slirp4netns and pasta configure the namespace themselves
// and the host side says when they have (as sandbox.setupNet).
void husk_setup_net(const struct husk_spec *s)
{
	if (!s->has_net)
		return;
	const struct husk_net *n = &s->net;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		husk_fail(125, "setting up the network: opening a socket: %s", strerror(errno));
	if_flags_up(sock, "lo");
	if (strcmp(n->mode, "builtin") != 0) {
		char b;
		struct timeval tv = {60, 0};
		setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (read(n->fd, &b, 1) != 1)
			husk_fail(125, "setting up the network: waiting for %s to configure the network: %s", n->mode,
			     strerror(errno));
		tv.tv_sec = 0;
		setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		close(sock);
		return;
	}
	int tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap < 0)
		husk_fail(125, "setting up the network: /dev/net/tun is not usable by you (%s): ask the admin to run chmod "
			  "0666 /dev/net/tun, or use --network none or host", strerror(errno));
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, n->tap, IFNAMSIZ - 1);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	// Persistent: the namespace's own teardown removes it, in the
	// background, instead of the last close (see network.openTap).
	if (ioctl(tap, TUNSETIFF, &ifr) != 0 || ioctl(tap, TUNSETPERSIST, 1) != 0)
		husk_fail(125, "setting up the network: creating the tap device %s in the sandbox: %s", n->tap, strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, n->tap, IFNAMSIZ - 1);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, n->mac, sizeof n->mac);
	if (ioctl(sock, SIOCSIFHWADDR, &ifr) != 0)
		husk_fail(125, "setting up the network: setting the address of %s: %s", n->tap, strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, n->tap, IFNAMSIZ - 1);
	ifr.ifr_mtu = n->mtu;
	if (ioctl(sock, SIOCSIFMTU, &ifr) != 0)
		husk_fail(125, "setting up the network: setting the MTU of %s: %s", n->tap, strerror(errno));
	set_addr(sock, n->tap, SIOCSIFADDR, n->ip, "address");
	set_addr(sock, n->tap, SIOCSIFNETMASK, n->mask, "netmask");
	if_flags_up(sock, n->tap);
	struct rtentry rt = {0};
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gw = (struct sockaddr_in *)&rt.rt_gateway,
			   *mask = (struct sockaddr_in *)&rt.rt_genmask;
	dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
	inet_pton(AF_INET, n->gw, &gw->sin_addr);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = (char *)n->tap;
	if (ioctl(sock, SIOCADDRT, &rt) != 0)
		husk_fail(125, "setting up the network: adding the default route via %s: %s", n->gw, strerror(errno));
	close(sock);
	if (husk_send_fd(n->fd, "", 1, tap) != 0)
		husk_fail(125, "setting up the network: sending the tap device to husk: %s", strerror(errno));
	close(tap);
}

// watch_binds hands the host side a seccomp listener that hears of every
// bind(2) in the sandbox (network.ServeBinds), for port_handler=direct: a
// server binding a published TCP port is given the host's listening
// socket instead, so the host's connections reach it with no relay in
// between. The init takes the filter itself and the user's process
// inherits it, under its own profile. Where the kernel has no listeners
// (before 5.0) the published ports go through the relay alone.
void husk_watch_binds(const struct husk_spec *s)
{
	if (!s->has_net || !s->net.direct)
		return;
#if defined(__x86_64__)
	const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const unsigned arch = AUDIT_ARCH_AARCH64;
#else
	return;
#endif
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd < 0)
		return;
	// Sent or not, the init keeps no copy: with the host side gone, a
	// bind fails at once (ENOSYS) instead of waiting for an answer.
	husk_send_fd(s->net.fd, "", 1, lfd);
	close(lfd);
}

// husk_loopback_up brings up lo in a network namespace of the sandbox's
// own with nothing else in it.
void husk_loopback_up(void)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		husk_fail(125, "bringing up lo: opening a socket: %s", strerror(errno));
	if_flags_up(sock, "lo");
	close(sock);
}

// husk_write_sysctls writes a bundle's sysctls through the host's /proc,
// still this process's before the pivot: a network or IPC sysctl there is
// the one of the namespace of the process that opens it, the sandbox's.
void husk_write_sysctls(const struct husk_spec *s)
{
	for (int i = 0; i < s->nsysctls; i++) {
		char path[512];
		int n = snprintf(path, sizeof path, "/proc/sys/%s", s->sysctl_key[i]);
		if (n < 0 || (size_t)n >= sizeof path)
			husk_fail(125, "sysctl %s: the name is too long", s->sysctl_key[i]);
		for (char *p = path + strlen("/proc/sys/"); *p; p++)
			if (*p == '.')
				*p = '/';
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		size_t len = strlen(s->sysctl_value[i]);
		if (fd < 0 || write(fd, s->sysctl_value[i], len) != (ssize_t)len)
			husk_fail(125, "setting sysctl %s=%s: %s", s->sysctl_key[i], s->sysctl_value[i], strerror(errno));
		close(fd);
	}
}
