package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The published ports' direct path (--network MODE:port_handler=direct;
// cli's netOptions says what it costs in isolation). The sandbox's init
// reports every bind(2) of its processes through a seccomp listener
// (net.c's husk_watch_binds), and so does a process husk exec starts,
// with the same function. When a server binds a published TCP port,
// ServeBinds binds the server's own socket inside the sandbox as asked,
// then puts the host's listening socket in its place
// (SECCOMP_IOCTL_NOTIF_ADDFD). The server accepts the host's connections
// itself: no relay, no second TCP connection, and it sees each client's
// own address and port, as with Docker's iptables path. Inside the
// sandbox, its socket still listens on the container port and is relayed
// to the host port, so localhost:PORT answers there as before. The relay
// (Serve) still serves the rest: UDP, a server whose address family the
// host address has no form in, and kernels before 5.9.

// ServeBinds answers the binds that the seccomp listener f reports until
// the sandbox's last process is gone or ctx ends; then the sockets taken
// inside the sandbox are closed. It closes f.
func (l *Listeners) ServeBinds(ctx context.Context, f *os.File) {
	l.serveBinds(ctx, f)
	l.closeInside()
}

// ServeExecBinds answers the binds of a process started by husk exec, whose
// listener f hears of them, until that process and its children are gone
// or ctx ends. It closes f. The sockets taken inside stay: the sandbox's
// other servers may still use them.
func (l *Listeners) ServeExecBinds(ctx context.Context, f *os.File) {
	l.serveBinds(ctx, f)
}

func (l *Listeners) serveBinds(ctx context.Context, f *os.File) {
	defer f.Close()
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			unix.Write(stop, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		case <-done:
		}
		unix.Close(stop)
	}()
	b := &binds{l: l, fd: int(f.Fd())}
	b.direct = b.canAddFD()
	for b.next(stop) {
	}
}

type binds struct {
	l      *Listeners
	fd     int  // the seccomp listener
	direct bool // the kernel can put a descriptor into the caller (5.9)
}

// next waits for one notification and answers it; false when the
// sandbox is gone or stop was signalled.
func (b *binds) next(stop int) bool {
	pfd := []unix.PollFd{{Fd: int32(b.fd), Events: unix.POLLIN}, {Fd: int32(stop), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, -1); err != nil {
		return errors.Is(err, unix.EINTR)
	}
	if pfd[1].Revents != 0 || pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
		return false
	}
	var req seccompNotif
	if err := ioctl(b.fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		return errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOENT) // ENOENT: the caller died
	}
	resp := seccompResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	if errno, handled := b.handOver(&req); handled {
		resp.Flags, resp.Error = 0, -int32(errno)
	}
	ioctl(b.fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)) // ENOENT: the caller died meanwhile
	return true
}

// handOver gives the caller of one bind the host's socket, if it binds a
// published TCP port; handled is false to let the bind go on unchanged.
func (b *binds) handOver(req *seccompNotif) (errno unix.Errno, handled bool) {
	if !b.direct || req.Data.Nr != unix.SYS_BIND {
		return 0, false
	}
	addr, port, ok := readSockaddr(req)
	if !ok {
		return 0, false
	}
	b.l.mu.Lock() // against Close
	defer b.l.mu.Unlock()
	if b.l.conns == nil {
		return 0, false // closed, or nothing published
	}
	t := b.l.tcpFor(port)
	if t == nil || !b.valid(req) {
		return 0, false
	}
	fd := int(req.Data.Args[0])
	sock, err := stealFD(int(req.Pid), fd)
	if err != nil || !b.valid(req) {
		return 0, false
	}
	dom, ok := tcpDomain(sock)
	if !ok {
		unix.Close(sock)
		return 0, false
	}
	fl, _ := unix.FcntlInt(uintptr(sock), unix.F_GETFL, 0)
	// First the bind the server asked for, inside the sandbox: its
	// answer is the server's, and a port taken there takes nothing here.
	inner := t.inner // a bind again, after the server closed its first socket: that one still listens inside
	if inner {
		unix.Close(sock)
		sock = -1
	} else if err := rawBind(sock, addr); err != nil {
		unix.Close(sock)
		return err.(unix.Errno), true
	}
	host, err := t.hostSocket(dom)
	if err != nil {
		b.l.report(fmt.Errorf("handing %s to its server: %w", t.port, err))
		if inner {
			return 0, false
		}
		unix.Close(sock) // bound as asked; the relay serves it
		return 0, true
	}
	unix.FcntlInt(uintptr(host), unix.F_SETFL, fl&unix.O_NONBLOCK) // as the server made its socket
	add := seccompAddfd{ID: req.ID, Flags: unix.SECCOMP_ADDFD_FLAG_SETFD, Srcfd: uint32(host), Newfd: uint32(fd), NewfdFlags: fdFlags(int(req.Pid), fd)}
	if err := ioctl(b.fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&add)); err != nil {
		if sock >= 0 {
			unix.Close(sock)
		}
		return err.(unix.Errno), true
	}
	if sock >= 0 {
		b.relayInside(sock, t)
	}
	return 0, true
}

// canAddFD asks the kernel to add a descriptor for a notification that
// does not exist: ENOENT where it knows the request, EINVAL before 5.9.
func (b *binds) canAddFD() bool {
	add := seccompAddfd{ID: ^uint64(0), Flags: unix.SECCOMP_ADDFD_FLAG_SETFD, Srcfd: uint32(b.fd)}
	return errors.Is(ioctl(b.fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&add)), unix.ENOENT)
}

// valid: the notification's caller is still waiting, so its pid and
// memory are still the caller's.
func (b *binds) valid(req *seccompNotif) bool {
	id := req.ID
	return ioctl(b.fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// relayInside listens on the server's own socket, bound in the sandbox,
// and relays its connections to the host port, where the server accepts.
// The caller holds l.mu.
func (b *binds) relayInside(sock int, t *tcpListener) {
	f := os.NewFile(uintptr(sock), "inside")
	defer f.Close()
	if err := unix.Listen(sock, unix.SOMAXCONN); err != nil {
		return
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return
	}
	t.inner = true
	b.l.inside = append(b.l.inside, ln)
	target := t.dialAddr()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.l.forward(c.(*net.TCPConn), t.port, func() (net.Conn, error) { return net.Dial("tcp", target) })
		}
	}()
}

// closeInside closes the servers' own sockets once the sandbox is gone:
// a next start binds them again in its new network namespace.
func (l *Listeners) closeInside() {
	l.mu.Lock()
	for i := range l.tcp {
		l.tcp[i].inner = false
	}
	inside := l.inside
	l.inside = nil
	l.mu.Unlock()
	for _, ln := range inside {
		ln.Close()
	}
}
