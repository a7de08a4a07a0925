package network

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// tapLink is the stack's side of the TAP device: gvisor's fdbased
// endpoint, held back until start and kept from claiming addresses.
type tapLink struct {
	stack.LinkEndpoint
	own []netip.Addr // the addresses the stack answers ARP for

	started bool
	pending stack.NetworkDispatcher
}

// Attach keeps the NIC's dispatcher until start: the endpoint begins
// reading the device on Attach, and a frame the sandbox sent before the
// stack was ready would be read and dropped, where it can wait queued in
// the device instead.
func (l *tapLink) Attach(d stack.NetworkDispatcher) {
	if d != nil && !l.started {
		l.pending = d
		return
	}
	l.LinkEndpoint.Attach(d)
}

// start lets frames in.
func (l *tapLink) start() {
	l.started = true
	l.LinkEndpoint.Attach(l.pending)
}

// WritePackets drops the stack's ARP replies for addresses other than its
// own: a spoofing NIC would otherwise claim every address of the subnet,
// and the sandbox would send to a neighbour that is not there.
func (l *tapLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	var keep stack.PacketBufferList
	dropped := 0
	for _, p := range pkts.AsSlice() {
		if l.foreignReply(p) {
			dropped++
			continue
		}
		keep.PushBack(p)
	}
	n, err := l.LinkEndpoint.WritePackets(keep)
	return n + dropped, err
}

func (l *tapLink) foreignReply(p *stack.PacketBuffer) bool {
	if p.NetworkProtocolNumber != header.ARPProtocolNumber {
		return false
	}
	h := header.ARP(p.NetworkHeader().Slice())
	if !h.IsValid() || h.Op() != header.ARPReply {
		return false
	}
	sender := tcpip.AddrFrom4Slice(h.ProtocolAddressSender())
	for _, a := range l.own {
		if addr(a) == sender {
			return false
		}
	}
	return true
}
