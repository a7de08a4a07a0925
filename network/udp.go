package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// udpIdle is how long a UDP peer's flow lives without a reply, as
// conntrack's default for unreplied UDP streams.
const udpIdle = 90 * time.Second

// serveUDP forwards datagrams per host peer: each peer gets its own socket
// connected to the port inside the sandbox, so the service there sees one
// client per peer and its replies find their way back.
func (l *Listeners) serveUDP(u udpListener, dial DialFunc) {
	var mu sync.Mutex
	flows := map[netip.AddrPort]*net.UDPConn{}
	buf := make([]byte, 64<<10)
	for {
		n, peer, err := u.conn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		mu.Lock()
		flow := flows[peer]
		mu.Unlock()
		if flow == nil {
			if flow, err = l.newFlow(u, peer, dial); err != nil {
				l.report(fmt.Errorf("forwarding %s: %w", u.port, err))
				continue
			}
			mu.Lock()
			flows[peer] = flow
			mu.Unlock()
			go func() {
				l.replies(u.conn, flow, peer)
				mu.Lock()
				delete(flows, peer)
				mu.Unlock()
			}()
		}
		flow.Write(buf[:n])
	}
}

func (l *Listeners) newFlow(u udpListener, peer netip.AddrPort, dial DialFunc) (*net.UDPConn, error) {
	f, err := dial("udp", u.port.ContainerPort)
	if err != nil {
		return nil, err
	}
	c, err := fileConn(f)
	if err != nil {
		return nil, err
	}
	flow, ok := c.(*net.UDPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("the sandbox passed a %T for %s", c, u.port)
	}
	if !l.track(flow) {
		return nil, net.ErrClosed
	}
	return flow, nil
}

// replies sends the sandbox's answers to peer until the flow idles out.
func (l *Listeners) replies(ln, flow *net.UDPConn, peer netip.AddrPort) {
	defer l.untrack(flow)
	buf := make([]byte, 64<<10)
	for {
		flow.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := flow.Read(buf)
		if err != nil {
			return
		}
		ln.WriteToUDPAddrPort(buf[:n], peer)
	}
}
