package network

import (
	"fmt"
	"net"
	"net/netip"
)

// HostName resolves, through the builtin stack's DNS, to the gateway: the
// host's loopback services, where AllowHostLoopback lets them be reached.
const HostName = "host.husk.internal"

// Config is a sandbox's network, the same for the init (net.c), the
// monitor (RunStack, StartExternal) and what husk prints. A zero field takes
// the default of slirp4netns, so that images and habits made for rootless
// Podman find the addresses they expect.
type Config struct {
	Subnet  netip.Prefix // 10.0.2.0/24
	IP      netip.Addr   // the sandbox's address: .100 of Subnet
	Gateway netip.Addr   // .2 of Subnet
	DNS     netip.Addr   // .3 of Subnet, answered by the stack itself
	MTU     int          // 65520: few, large frames are what make a userspace stack fast
	TapName string       // tap0

	// AllowHostLoopback lets the gateway address reach the host's
	// 127.0.0.1; off, it is refused, so that a sandbox cannot talk to
	// services the user bound to loopback to keep them private.
	AllowHostLoopback bool

	// DNSUpstreams are the host:port resolvers the stack's DNS forwards to;
	// empty means the nameservers of the host's /etc/resolv.conf.
	DNSUpstreams []string
}

// MAC is the sandbox's interface address, 02:42 and its IPv4 address
// (Docker's rule): a container re-created with an address gets the same
// MAC, so its peers' ARP caches stay right.
func (c Config) MAC() net.HardwareAddr {
	a := c.IP.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}

// WithDefaults fills every zero field.
func (c Config) WithDefaults() (Config, error) {
	if !c.Subnet.IsValid() {
		c.Subnet = netip.MustParsePrefix("10.0.2.0/24")
	}
	c.Subnet = c.Subnet.Masked()
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 24 {
		return c, fmt.Errorf("network subnet %s: use an IPv4 subnet of /24 or larger, such as 10.0.2.0/24", c.Subnet)
	}
	var err error
	for _, f := range []struct {
		addr *netip.Addr
		nth  int
	}{{&c.IP, 100}, {&c.Gateway, 2}, {&c.DNS, 3}} {
		if !f.addr.IsValid() {
			*f.addr = nth(c.Subnet, f.nth)
		}
		if !c.Subnet.Contains(*f.addr) && err == nil {
			err = fmt.Errorf("network address %s is outside the subnet %s: pick one inside it", *f.addr, c.Subnet)
		}
	}
	if c.MTU == 0 {
		c.MTU = 65520
	}
	if c.MTU < 576 || c.MTU > 65520 {
		return c, fmt.Errorf("network MTU %d: use a value from 576 to 65520", c.MTU)
	}
	if c.TapName == "" {
		c.TapName = "tap0"
	}
	return c, err
}

// Hosts is the line the sandbox's /etc/hosts gets for HostName.
func (c Config) Hosts() string {
	c, _ = c.WithDefaults()
	return c.Gateway.String() + "\t" + HostName + "\n"
}

// ResolvConf is the sandbox's /etc/resolv.conf: the stack's own resolver,
// which forwards to the host's, so that a host resolver on 127.0.0.53 works.
func (c Config) ResolvConf() string {
	c, _ = c.WithDefaults()
	return "nameserver " + c.DNS.String() + "\n"
}

func nth(p netip.Prefix, n int) netip.Addr {
	a := p.Addr().As4()
	a[3] += byte(n)
	return netip.AddrFrom4(a)
}
