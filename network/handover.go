package network

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The published ports' direct path. The sandbox's init reports every
// bind(2) of its processes through a seccomp listener (init.c's
// watch_binds). When a server binds a published TCP port, ServeBinds
// binds the server's own socket inside the sandbox as asked, then puts the
// host's listening socket in its place (SECCOMP_IOCTL_NOTIF_ADDFD). The
// server accepts the host's connections itself: no relay, no second TCP
// connection, and it sees each client's own address and port, as with
// Docker's iptables path. Inside the sandbox, its socket still listens on
// the container port and is relayed to the host port, so localhost:PORT
// answers there as before. Anything else the relay serves as before
// (Serve): UDP, a bind before the monitor listens, an old kernel.

// The kernel's structures (linux/seccomp.h); x/sys has the ioctls only.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

// ServeBinds answers the binds that the seccomp listener f reports until
// the sandbox's last process is gone or ctx ends; then the sockets it
// took inside the sandbox are closed. It closes f.
func (l *Listeners) ServeBinds(ctx context.Context, f *os.File) {
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
	defer b.closeInside()
	for b.next(stop) {
	}
}

type binds struct {
	l      *Listeners
	fd     int            // the seccomp listener
	direct bool           // the kernel can put a descriptor into the caller (5.9)
	inside []net.Listener // the servers' own sockets, relayed to the host ports
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
		return 0, false // closed
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
	b.inside = append(b.inside, ln)
	target := t.dialAddr()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.l.forwardTo(c.(*net.TCPConn), target)
		}
	}()
}

func (b *binds) closeInside() {
	b.l.mu.Lock()
	for i := range b.l.tcp {
		b.l.tcp[i].inner = false
	}
	b.l.mu.Unlock()
	for _, ln := range b.inside {
		ln.Close()
	}
}

// forwardTo relays c to the host address target.
func (l *Listeners) forwardTo(c *net.TCPConn, target string) {
	if !l.track(c) {
		return
	}
	defer l.untrack(c)
	out, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	if !l.track(out) {
		return
	}
	defer l.untrack(out)
	join(c, out.(*net.TCPConn))
}

// readSockaddr reads the bind's address from the caller's memory.
func readSockaddr(req *seccompNotif) (addr []byte, port int, ok bool) {
	n := min(int(req.Data.Args[2]), unix.SizeofSockaddrInet6+8)
	if n < unix.SizeofSockaddrInet4 {
		return nil, 0, false
	}
	addr = make([]byte, n)
	local := []unix.Iovec{{Base: &addr[0]}}
	local[0].SetLen(n)
	remote := []unix.RemoteIovec{{Base: uintptr(req.Data.Args[1]), Len: n}}
	if got, err := unix.ProcessVMReadv(int(req.Pid), local, remote, 0); err != nil || got != n {
		return nil, 0, false
	}
	switch binary.NativeEndian.Uint16(addr) {
	case unix.AF_INET:
	case unix.AF_INET6:
		if n < unix.SizeofSockaddrInet6 {
			return nil, 0, false
		}
	default:
		return nil, 0, false
	}
	return addr, int(binary.BigEndian.Uint16(addr[2:])), true
}

// stealFD is a copy of the caller's descriptor fd.
func stealFD(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

// tcpDomain is the address family of a TCP socket; false for any other.
func tcpDomain(sock int) (int, bool) {
	typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return 0, false
	}
	dom, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || (dom != unix.AF_INET && dom != unix.AF_INET6) {
		return 0, false
	}
	return dom, true
}

// fdFlags is O_CLOEXEC if the caller's descriptor fd has it.
func fdFlags(pid, fd int) uint32 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			fl, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err == nil && fl&unix.O_CLOEXEC != 0 {
				return unix.O_CLOEXEC
			}
		}
	}
	return 0
}

func rawBind(sock int, addr []byte) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(sock), uintptr(unsafe.Pointer(&addr[0])), uintptr(len(addr)))
	if e != 0 {
		return e
	}
	return nil
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// hostSocket is the listening socket to give a server of family dom:
// the monitor's own, taken from the relay, or bound anew in dom on the
// same address and port when the families differ (a server on [::] behind
// -p 127.0.0.1:...: the address as ::ffff:127.0.0.1). It stays the
// monitor's, for the server's next bind, until the listeners close.
func (t *tcpListener) hostSocket(dom int) (int, error) {
	if t.held >= 0 {
		if t.heldDom != dom {
			return -1, fmt.Errorf("the server's socket is of another address family than the one it was given before")
		}
		return t.held, nil
	}
	at := t.ln.Addr().(*net.TCPAddr).AddrPort()
	bindAt, ok := inFamily(at, dom)
	if !ok {
		return -1, fmt.Errorf("%s has no %s form", at.Addr(), familyName(dom))
	}
	own, err := listenerDomain(t.ln)
	if err != nil {
		return -1, err
	}
	if own == dom {
		fd, err := dupListener(t.ln)
		if err != nil {
			return -1, err
		}
		t.ln.Close() // the relay stops; the socket lives on in fd
		t.held, t.heldDom = fd, dom
		return fd, nil
	}
	t.ln.Close()
	fd, err := listenIn(dom, bindAt)
	if err != nil {
		return -1, err
	}
	t.held, t.heldDom = fd, dom
	return fd, nil
}

// dialAddr is where a connection from inside the sandbox reaches the
// host port: its address, or loopback for every address.
func (t *tcpListener) dialAddr() string {
	sa, err := unix.Getsockname(t.held)
	var a netip.Addr
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		a = netip.AddrFrom4(s.Addr)
	case *unix.SockaddrInet6:
		a = netip.AddrFrom16(s.Addr).Unmap()
	}
	if err != nil || !a.IsValid() || a.IsUnspecified() {
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.AddrPortFrom(a, uint16(t.port.HostPort)).String()
}

// inFamily is the address at in family dom, if it has a form there.
func inFamily(at netip.AddrPort, dom int) (netip.AddrPort, bool) {
	a := at.Addr()
	switch {
	case dom == unix.AF_INET6 && a.Is4():
		if a.IsUnspecified() {
			a = netip.IPv6Unspecified()
		} else {
			a = netip.AddrFrom16(a.As16())
		}
	case dom == unix.AF_INET && a.Is6():
		switch {
		case a.IsUnspecified():
			a = netip.IPv4Unspecified()
		case a.Is4In6():
			a = a.Unmap()
		default:
			return at, false
		}
	}
	return netip.AddrPortFrom(a, at.Port()), true
}

func familyName(dom int) string {
	if dom == unix.AF_INET6 {
		return "IPv6"
	}
	return "IPv4"
}

func listenerDomain(ln *net.TCPListener) (int, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return 0, err
	}
	var dom int
	var derr error
	if err := rc.Control(func(fd uintptr) { dom, derr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN) }); err != nil {
		return 0, err
	}
	return dom, derr
}

func dupListener(ln *net.TCPListener) (int, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return nfd, derr
}

// listenIn binds a new listening TCP socket of family dom to at.
func listenIn(dom int, at netip.AddrPort) (int, error) {
	fd, err := unix.Socket(dom, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(at.Port()), Addr: at.Addr().As4()}
	if dom == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		sa = &unix.SockaddrInet6{Port: int(at.Port()), Addr: at.Addr().As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("binding %s again in the server's address family: %w", at, err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
