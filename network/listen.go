package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"husk/userns"
)

// Listeners are the monitor's sockets for the published ports, bound
// before the sandbox starts so that a port in use fails the run at once.
type Listeners struct {
	ports []Port // as bound, in the order given
	tcp   []tcpListener
	udp   []udpListener

	// OnError, when set, hears of each forwarded connection that failed
	// (the sandbox has nothing on the port, say); the client only sees the
	// connection closed.
	OnError func(error)

	// tcpConfig is Go's default for the relay: Multipath TCP where the
	// kernel has it, whose listener's sockets (clients speak plain TCP)
	// the relay moved ~4% faster in interleaved runs here. The direct path
	// listens with plain TCP: it hands the listening socket to a server
	// that made a TCP socket, and an MPTCP one refuses TCP options a server
	// may set there (TCP_USER_TIMEOUT, TCP_WINDOW_CLAMP: ENOPROTOOPT).
	tcpConfig net.ListenConfig

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open forwarded connections, closed when Serve ends
	inside []net.Listener        // the servers' own sockets, relayed to the host ports (handover.go)
}

type tcpListener struct {
	ln   *net.TCPListener
	port Port

	// After a server took the port (handover.go): the listening socket,
	// of the server's address family, which the relay no longer serves,
	// and whether the server's own socket listens inside the sandbox.
	held    int // -1 before
	heldDom int
	inner   bool
}

type udpListener struct {
	conn *net.UDPConn
	port Port
}

// Listen binds every port, or none: on an error, what was bound is closed
// and the error is one line naming the port and the fix. handOver: the
// TCP listeners may go to the servers that bind their ports (ServeBinds).
func Listen(ports []Port, handOver bool) (*Listeners, error) {
	l := &Listeners{conns: map[net.Conn]struct{}{}}
	if handOver {
		l.tcpConfig.SetMultipathTCP(false)
	}
	for _, p := range ports {
		if err := l.listen(p); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// Ports are the published ports, in Listen's order, with the host ports
// actually bound.
func (l *Listeners) Ports() []Port { return l.ports }

// Close closes the listening sockets and every forwarded connection.
func (l *Listeners) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.tcp {
		l.tcp[i].ln.Close()
		if l.tcp[i].held >= 0 {
			unix.Close(l.tcp[i].held)
			l.tcp[i].held = -1
		}
	}
	for _, u := range l.udp {
		u.conn.Close()
	}
	for c := range l.conns {
		c.Close()
	}
	l.conns = nil // track refuses from now on
	return nil
}

// tcpFor is the first TCP port published to the sandbox's port, or nil.
func (l *Listeners) tcpFor(port int) *tcpListener {
	for i := range l.tcp {
		if l.tcp[i].port.ContainerPort == port {
			return &l.tcp[i]
		}
	}
	return nil
}

// listen binds p, trying each port of a host range until one is free.
func (l *Listeners) listen(p Port) error {
	last := max(p.HostPort, p.HostPortEnd)
	var err error
	for hp := p.HostPort; hp <= last; hp++ {
		if err = l.bind(p, hp); err == nil || !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		return bindError(p, err)
	}
	return nil
}

func (l *Listeners) bind(p Port, hostPort int) error {
	at := ":" + strconv.Itoa(hostPort) // every address, IPv4 and IPv6, as Docker binds
	if p.HostIP.IsValid() {
		at = netip.AddrPortFrom(p.HostIP, uint16(hostPort)).String()
	}
	if p.Proto == "udp" {
		c, err := net.ListenPacket("udp", at)
		if err != nil {
			return err
		}
		p.HostPort, p.HostPortEnd = c.LocalAddr().(*net.UDPAddr).Port, 0
		l.udp = append(l.udp, udpListener{c.(*net.UDPConn), p})
		l.ports = append(l.ports, p)
		return nil
	}
	ln, err := l.tcpConfig.Listen(context.Background(), "tcp", at)
	if err != nil {
		return err
	}
	p.HostPort, p.HostPortEnd = ln.Addr().(*net.TCPAddr).Port, 0
	l.tcp = append(l.tcp, tcpListener{ln: ln.(*net.TCPListener), port: p, held: -1})
	l.ports = append(l.ports, p)
	return nil
}

// bindError names the port and the fix for the failures a user can fix.
func bindError(p Port, err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return &userns.Error{Op: "publishing port", Path: p.String(), Err: err}
	}
	e := &userns.Error{Op: "publishing port", Path: p.String(), Err: errno}
	switch errno {
	case unix.EADDRINUSE:
		e.Fix = fmt.Sprintf("another program listens on host port %s/%s: stop it, or publish on another host port (-p OTHER:%d)", portText(p), p.Proto, p.ContainerPort)
	case unix.EACCES:
		start := unprivilegedPortStart()
		alt := p.HostPort + 8000 // 80 becomes 8080, 443 becomes 8443
		if alt < start || alt > 65535 {
			alt = start
		}
		e.Fix = fmt.Sprintf("host ports below %d need privilege: publish on a higher one (-p %d:%d), or ask the admin to run sudo sysctl -w net.ipv4.ip_unprivileged_port_start=%d",
			start, alt, p.ContainerPort, p.HostPort)
	case unix.EADDRNOTAVAIL:
		e.Fix = fmt.Sprintf("%s is not an address of this host: use one of its addresses, or leave the address out", p.HostIP)
	}
	return e
}

func portText(p Port) string {
	if p.HostPortEnd != 0 {
		return fmt.Sprintf("%d-%d", p.HostPort, p.HostPortEnd)
	}
	return strconv.Itoa(p.HostPort)
}

// unprivilegedPortStart is the lowest port an unprivileged user may bind
// (1024 where the sysctl cannot be read).
func unprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}
