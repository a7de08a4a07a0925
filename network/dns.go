package network

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// upstreamTimeout is how long one upstream resolver gets before the next.
const upstreamTimeout = 3 * time.Second

// serveDNS answers on cfg.DNS port 53, UDP and TCP, inside the stack. The
// resolver runs on the host side, so a host resolver on 127.0.0.53
// (systemd-resolved) works, which a resolv.conf copied into the sandbox
// could not reach.
func serveDNS(s *stack.Stack, cfg Config) (stop func(), err error) {
	ups := cfg.DNSUpstreams
	if len(ups) == 0 {
		ups = hostResolvers("/etc/resolv.conf")
	}
	return serveDNSWith(s, cfg, ups, nil)
}

// serveDNSWith is serveDNS with the upstreams given, and names of its own
// (a user-defined network's members) when lookup is set.
func serveDNSWith(s *stack.Stack, cfg Config, ups []string, lookup func(string) (netip.Addr, bool)) (stop func(), err error) {
	h := &resolver{upstreams: ups, gateway: cfg.Gateway, lookup: lookup}
	at := tcpip.FullAddress{NIC: nicID, Addr: addr(cfg.DNS), Port: 53}
	pc, err := gonet.DialUDP(s, &at, nil, ipv4.ProtocolNumber)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "udp", Err: err}
	}
	ln, err := gonet.ListenTCP(s, at, ipv4.ProtocolNumber)
	if err != nil {
		pc.Close()
		return nil, &net.OpError{Op: "listen", Net: "tcp", Err: err}
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go srv.ActivateAndServe()
	}
	// Closing the sockets ends both servers; Shutdown would race with their start.
	return func() { pc.Close(); ln.Close() }, nil
}

// hostResolvers are the host's nameservers as host:port.
func hostResolvers(path string) []string {
	conf, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	var ups []string
	for _, s := range conf.Servers {
		ups = append(ups, net.JoinHostPort(s, conf.Port))
	}
	return ups
}

// resolver answers HostName itself and forwards every other query as it
// came, so record types, TTLs and error codes are the upstream's own.
type resolver struct {
	upstreams []string
	gateway   netip.Addr
	lookup    func(string) (netip.Addr, bool) // the network's own names
}

func (r *resolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	reply := r.local(q)
	if reply == nil {
		reply = r.forward(q, w.LocalAddr().Network())
	}
	w.WriteMsg(reply)
}

// local answers for HostName (the gateway) and the network's own names:
// their address for A, no data for other types.
func (r *resolver) local(q *dns.Msg) *dns.Msg {
	if len(q.Question) != 1 {
		return nil
	}
	name := q.Question[0].Name
	a, ok := r.gateway, strings.EqualFold(name, HostName+".")
	if !ok && r.lookup != nil {
		a, ok = r.lookup(name)
	}
	if !ok {
		return nil
	}
	m := new(dns.Msg).SetReply(q)
	m.Authoritative = true
	if t := q.Question[0].Qtype; t == dns.TypeA || t == dns.TypeANY {
		hdr := dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0}
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
	}
	return m
}

// forward asks each upstream in turn over the client's own transport, so a
// truncated UDP answer sends the client to TCP, and TCP goes to TCP.
func (r *resolver) forward(q *dns.Msg, network string) *dns.Msg {
	if r.upstreams == nil && r.lookup != nil { // an --internal network's: its own names only
		return new(dns.Msg).SetRcode(q, dns.RcodeNameError)
	}
	c := &dns.Client{Net: network, Timeout: upstreamTimeout}
	for _, up := range r.upstreams {
		if resp, _, err := c.Exchange(q, up); err == nil {
			return resp
		}
	}
	return new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
}
