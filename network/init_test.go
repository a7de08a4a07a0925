package network

// The Go stand-in for the init's side of the network in these tests: the
// C executor (sandbox/executor/net.c) does this for real sandboxes. The
// namespace tests' child plays the init with these functions, so that the
// monitor's side (RunStack, Dialer, the forwarders) is tested against a
// real TAP device and real dials without starting husk.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"husk/sandbox/abi"
)

// SetupTap runs inside the sandbox's network namespace, as root of its user
// namespace: it brings lo up, creates cfg.TapName with the sandbox's
// address, MTU and default route, and returns the TAP device for the
// monitor's RunStack. The caller sends it on (SendFile) and closes its copy:
// the device lives as long as the monitor holds it.
func SetupTap(cfg Config) (*os.File, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := LoopbackUp(); err != nil {
		return nil, err
	}
	tap, err := openTap(cfg.TapName)
	if err != nil {
		return nil, err
	}
	if err := configureTap(cfg); err != nil {
		tap.Close()
		return nil, err
	}
	return tap, nil
}

// LoopbackUp brings up lo, which the kernel creates down in a new network
// namespace. Every mode needs it, slirp4netns and pasta included.
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bringing up lo in the sandbox: %w", err)
	}
	return nil
}

// openTap creates the TAP device. IFF_NO_PI because the stack reads bare
// Ethernet frames; no IFF_VNET_HDR because gvisor's fdbased endpoint only
// speaks virtio headers on sockets.
func openTap(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if devErr := devTun(); devErr != nil {
			return nil, devErr
		}
		return nil, fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err == nil {
		// Persistent: closing the last descriptor (the monitor's, as it
		// exits) then leaves the device to the namespace's own teardown,
		// which the kernel runs in the background, instead of
		// unregistering it in the closing process, ~15 ms of RCU waits
		// on every container's exit.
		err = unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("creating the tap device %s in the sandbox: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// configureTap gives the device its address, MTU and the default route
// through the gateway, then brings it up.
func configureTap(cfg Config) error {
	link, err := netlink.LinkByName(cfg.TapName)
	if err != nil {
		return fmt.Errorf("finding the tap device %s: %w", cfg.TapName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: cfg.IP.AsSlice(), Mask: net.CIDRMask(cfg.Subnet.Bits(), 32)}}
	steps := []struct {
		what string
		do   func() error
	}{
		{"setting the MTU of", func() error { return netlink.LinkSetMTU(link, cfg.MTU) }},
		{"adding " + cfg.IP.String() + " to", func() error { return netlink.AddrAdd(link, addr) }},
		{"bringing up", func() error { return netlink.LinkSetUp(link) }},
		{"adding the default route via " + cfg.Gateway.String() + " to", func() error {
			return netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: cfg.Gateway.AsSlice()})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s %s: %w", s.what, cfg.TapName, err)
		}
	}
	return nil
}

// ServeDialer runs in the sandbox's network namespace and answers the
// monitor's dials on conn until the monitor closes it (nil) or conn fails.
func ServeDialer(conn *net.UnixConn) error {
	for {
		f, err := RecvFile(conn)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("serving published ports: %w", err)
		}
		go serveDial(f)
	}
}

// serveDial answers one request on its own socketpair end.
func serveDial(f *os.File) {
	c, err := fileUnixConn(f)
	if err != nil {
		return
	}
	defer c.Close()
	msg, _, err := recvMsg(c, 512)
	if err != nil {
		return
	}
	req, err := decodeRequest(msg)
	var sock *os.File
	if err == nil {
		sock, err = dialInside(req)
	}
	reply := []byte{abi.DialOK}
	if err != nil {
		reply = append([]byte{abi.DialFailed}, err.Error()...)
	}
	sendMsg(c, reply, sock)
	if sock != nil {
		sock.Close()
	}
}

// dialInside connects to the port on the sandbox's loopback, where a
// service bound to 0.0.0.0 or 127.0.0.1 answers alike.
func dialInside(req dialRequest) (*os.File, error) {
	if req.Proto != "tcp" && req.Proto != "udp" {
		return nil, fmt.Errorf("unknown protocol %q", req.Proto)
	}
	c, err := net.DialTimeout(req.Proto, net.JoinHostPort("127.0.0.1", strconv.Itoa(req.Port)), dialTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(interface{ File() (*os.File, error) }).File()
}

func decodeRequest(b []byte) (dialRequest, error) {
	if len(b) != abi.DialRequestLen {
		return dialRequest{}, fmt.Errorf("a dial request of %d bytes", len(b))
	}
	r := dialRequest{Proto: "tcp", Port: int(binary.BigEndian.Uint16(b[1:]))}
	switch b[0] {
	case abi.DialTCP:
	case abi.DialUDP:
		r.Proto = "udp"
	default:
		return r, fmt.Errorf("unknown protocol %q", b[0])
	}
	return r, nil
}
