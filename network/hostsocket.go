package network

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

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
		fd, err := dupFD(t.ln)
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
