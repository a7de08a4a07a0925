package network

import (
	"net/netip"
	"sync"

	"github.com/containers/gvisor-tap-vsock/pkg/services/forwarder"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// installForwarders hands each new TCP connection and UDP flow of the
// sandbox, once the policy has let it through, to a forwarder that dials
// the destination with the user's own sockets on the host: husk's own for
// TCP, where the copy size sets the throughput, gvisor-tap-vsock's for UDP.
func installForwarders(s *stack.Stack, cfg Config) {
	nat := map[tcpip.Address]tcpip.Address{}
	if cfg.AllowHostLoopback {
		nat[addr(cfg.Gateway)] = tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	var mu sync.Mutex
	// false: no EC2 metadata (169.254.169.254) from a sandbox.
	udpF := forwarder.UDP(s, nat, &mu, false)
	tcpF := tcpForwarder(s, hostAddr(cfg))
	p := policy{cfg}
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, p.guard(tcpF.HandlePacket))
	s.SetTransportProtocolHandler(udp.ProtocolNumber, p.guard(udpF.HandlePacket))
}

type policy struct{ cfg Config }

type handler = func(stack.TransportEndpointID, *stack.PacketBuffer) bool

// guard passes a packet on only for an allowed destination. A refused one
// is left unhandled, and the stack answers as a host with nothing on that
// port: a TCP reset, an ICMP port unreachable for UDP. The sandbox sees
// "connection refused" at once instead of waiting for a timeout.
func (p policy) guard(h handler) handler {
	return func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		if !p.allowed(id.LocalAddress) {
			return false
		}
		return h(id, pkt)
	}
}

// allowed is where the sandbox may connect. The gateway stands for the
// host's loopback, so it needs AllowHostLoopback. The rest of the virtual
// subnet has no one (the DNS address answers on port 53 only, through its
// own endpoint), and loopback, broadcast, multicast and link-local
// destinations would mean the host's own, which the sandbox must not
// reach this way.
func (p policy) allowed(dst tcpip.Address) bool {
	if dst.Len() != 4 {
		return false
	}
	a := netip.AddrFrom4(dst.As4())
	switch {
	case a == p.cfg.Gateway:
		return p.cfg.AllowHostLoopback
	case p.cfg.Subnet.Contains(a):
		return false
	case a.IsLoopback(), a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case a.IsLinkLocalUnicast(): // cloud metadata services (169.254.169.254) hand out the host's credentials
		return false
	}
	return true
}
