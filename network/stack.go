package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const nicID = 1

// gatewayMAC is a fixed locally administered address (as gvisor-tap-vsock
// uses), so the sandbox's neighbour entry means the same across restarts.
var gatewayMAC = tcpip.LinkAddress(mustMAC("5a:94:ef:e4:0c:dd"))

// RunStack is the builtin network: in the monitor, it terminates the
// sandbox's TCP and UDP on the TAP device in gvisor's userspace stack and
// forwards them with the user's own sockets on the host, and answers DNS
// on cfg.DNS. It returns when ctx ends, or when the device is deleted.
// The TAP descriptor holds the sandbox's network namespace alive, so the
// monitor cancels ctx once the sandbox has ended, and closes tap after.
func RunStack(ctx context.Context, tap *os.File, cfg Config) error {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return err
	}
	fd, err := dupFD(tap)
	if err != nil {
		return fmt.Errorf("starting the network stack: duplicating the tap device: %w", err)
	}
	defer unix.Close(fd) // after s.Wait: the stack's readers are gone by then
	gone, once := make(chan struct{}), sync.Once{}
	s, link, err := newStack(fd, cfg, func() { once.Do(func() { close(gone) }) })
	if err != nil {
		return err
	}
	defer s.Wait()
	defer s.Close()
	stopDNS, err := serveDNS(s, cfg)
	if err != nil {
		return err
	}
	defer stopDNS()
	// Only now may frames come in: with every handler in place, the
	// sandbox's first DNS query is answered, not refused or lost.
	link.start()
	select {
	case <-ctx.Done():
	case <-gone:
	}
	return nil
}

// oneViewFrames makes the TAP reader read a frame into the headers'
// 128 bytes and one 64 KiB view (the largest the stack pools, and room for
// the largest MTU), where fdbased's default splits it over ten views of
// 128 B to 32 KiB: each view costs the stack work at every layer, and
// egress gained ~6% here.
var oneViewFrames sync.Once

// newStack builds the stack on the TAP descriptor: one NIC that owns the
// gateway and DNS addresses and, promiscuous and spoofing, takes every other
// destination too, which is what lets the forwarders see each connection.
// The link does not read the device before its start.
func newStack(fd int, cfg Config, gone func()) (*stack.Stack, *tapLink, error) {
	return newStackWith(fd, cfg, gone, true)
}

// newStackWith is newStack, with egress (the forwarders to the host's
// sockets) or without (a user-defined --internal network's gateway).
func newStackWith(fd int, cfg Config, gone func(), egress bool) (*stack.Stack, *tapLink, error) {
	oneViewFrames.Do(func() { fdbased.BufConfig = []int{128, 64 << 10} })
	ep, err := fdbased.New(&fdbased.Options{
		FDs:            []int{fd},
		MTU:            uint32(cfg.MTU),
		EthernetHeader: true,
		Address:        gatewayMAC,
		ClosedFunc:     func(tcpip.Error) { gone() }, // reads failed: the device was deleted
		// The frames come from the local kernel through memory: checking
		// their sums again costs a pass over every byte and finds nothing.
		RXChecksumOffload:  true,
		PacketDispatchMode: fdbased.Readv, // a TAP device is no socket: no recvmmsg
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the network stack on the tap device: %w", err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if egress {
		installForwarders(s, cfg)
	}
	own := []netip.Addr{cfg.Gateway}
	if cfg.DNS != cfg.Gateway { // a user-defined network's gateway answers DNS too
		own = append(own, cfg.DNS)
	}
	link := &tapLink{LinkEndpoint: ep, own: own}
	if err := configureStack(s, link, cfg); err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("configuring the network stack: %s", err)
	}
	return s, link, nil
}

func configureStack(s *stack.Stack, link *tapLink, cfg Config) error {
	if err := s.CreateNIC(nicID, link); err != nil {
		return fmt.Errorf("creating the NIC: %s", err)
	}
	for _, a := range link.own {
		pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: addr(a).WithPrefix()}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("adding %s: %s", a, err)
		}
	}
	s.SetSpoofing(nicID, true)
	s.SetPromiscuousMode(nicID, true)
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})
	return tuneTCP(s)
}

// tuneTCP sets the stack's TCP for throughput on a link with no loss and
// no delay: large windows that grow with use, and SACK.
func tuneTCP(s *stack.Stack) error {
	const max = 16 << 20 // 16 MiB carried ~5% more than 8 here; the buffers grow only with use
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	opts := []tcpip.SettableTransportProtocolOption{
		&sack, &moderate,
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultReceiveBufferSize, Max: max},
		&tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultSendBufferSize, Max: max},
	}
	for _, o := range opts {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("setting TCP option %T: %s", o, err)
		}
	}
	return nil
}

// dupFD gives the stack (or a server) a descriptor of its own; not
// through Fd(), which would switch the caller's file to blocking mode.
func dupFD(f syscall.Conn) (int, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(v uintptr) { fd, derr = unix.FcntlInt(v, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, derr
}

// addr converts to gvisor's address type.
func addr(a netip.Addr) tcpip.Address { return tcpip.AddrFrom4(a.As4()) }

func mustMAC(s string) []byte {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}
