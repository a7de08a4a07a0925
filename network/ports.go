package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Port is one published port: a host address and port forwarded to a port
// of the sandbox's loopback.
type Port struct {
	HostIP        netip.Addr // invalid: every address of the host
	HostPort      int        // 0: one the kernel picks
	HostPortEnd   int        // with HostPort, a range to take the first free port of; 0 for none
	ContainerPort int
	Proto         string // "tcp" or "udp"
}

// String is the port in -p syntax, with the host port actually bound once
// Listen has run.
func (p Port) String() string {
	host := ""
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
		if p.HostIP.Is6() {
			host = "[" + host + "]"
		}
		host += ":"
	}
	hp := ""
	if p.HostPort != 0 {
		hp = strconv.Itoa(p.HostPort)
		if p.HostPortEnd != 0 {
			hp += "-" + strconv.Itoa(p.HostPortEnd)
		}
	}
	return fmt.Sprintf("%s%s:%d/%s", host, hp, p.ContainerPort, p.Proto)
}

// ParsePorts reads -p specs in Docker's syntax:
// [hostIP:][hostPort:]containerPort[/tcp|/udp], where either port may be a
// range ("8000-8009:80-89" pairs them one to one; "8000-8009:80" takes the
// first free host port of the range) and an IPv6 host address is bracketed.
// rootlesskit's portutil.ParsePortSpec reads another form,
// HOSTIP:HOSTPORT:[CHILDIP:]PORT/PROTO, in which the host address, the host
// port and the protocol are required and ranges do not exist, so it cannot
// read -p.
func ParsePorts(specs []string) ([]Port, error) {
	var ports []Port
	seen := map[string]string{}
	for _, spec := range specs {
		ps, err := parsePort(spec)
		if err != nil {
			return nil, fmt.Errorf("publishing %q: %w", spec, err)
		}
		for _, p := range ps {
			key := fmt.Sprintf("%s:%d/%s", p.HostIP, p.HostPort, p.Proto)
			if first, dup := seen[key]; dup && p.HostPort != 0 {
				return nil, fmt.Errorf("publishing %q: host port %d/%s is already published by %q: give each a host port of its own", spec, p.HostPort, p.Proto, first)
			}
			seen[key] = spec
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func parsePort(spec string) ([]Port, error) {
	rest, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("protocol %q: use tcp or udp", proto)
	}
	ip, hostPart, ctrPart, err := splitSpec(rest)
	if err != nil {
		return nil, err
	}
	cLo, cHi, err := portRange(ctrPart, false)
	if err != nil {
		return nil, fmt.Errorf("container port: %w", err)
	}
	hLo, hHi, err := portRange(hostPart, true)
	if err != nil {
		return nil, fmt.Errorf("host port: %w", err)
	}
	return expand(Port{HostIP: ip, Proto: proto}, hLo, hHi, cLo, cHi)
}

// splitSpec splits "[ip:][host:]container" into its three parts.
func splitSpec(s string) (ip netip.Addr, host, ctr string, err error) {
	ipPart := ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return ip, "", "", fmt.Errorf("a bracketed IPv6 address needs a port after it, as in [::1]:8080:80")
		}
		ipPart, s = s[1:end], s[end+2:]
	} else if strings.Count(s, ":") == 2 {
		ipPart, s, _ = strings.Cut(s, ":")
	}
	if ipPart != "" {
		if ip, err = netip.ParseAddr(ipPart); err != nil {
			return ip, "", "", fmt.Errorf("host address %q is no IP address", ipPart)
		}
	}
	host, ctr, found := strings.Cut(s, ":")
	if !found {
		host, ctr = "", s
	}
	if strings.Contains(ctr, ":") {
		return ip, "", "", fmt.Errorf("too many colons: write [hostIP:][hostPort:]containerPort")
	}
	return ip.Unmap(), host, ctr, nil
}

// portRange reads "N" or "N-M"; an empty host port is 0, "let the kernel pick".
func portRange(s string, host bool) (lo, hi int, err error) {
	if s == "" && host {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = portNumber(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = portNumber(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s runs backwards", s)
		}
	}
	return lo, hi, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number from 1 to 65535", s)
	}
	return n, nil
}

// expand turns the two ranges into ports, as Docker pairs them.
func expand(base Port, hLo, hHi, cLo, cHi int) ([]Port, error) {
	n := cHi - cLo + 1
	var ports []Port
	switch {
	case hLo == 0 || hHi-hLo+1 == n:
		for i := range n {
			p := base
			p.ContainerPort = cLo + i
			if hLo != 0 {
				p.HostPort = hLo + i
			}
			ports = append(ports, p)
		}
	case n == 1:
		base.HostPort, base.HostPortEnd, base.ContainerPort = hLo, hHi, cLo
		ports = append(ports, base)
	default:
		return nil, fmt.Errorf("host range %d-%d and container range %d-%d differ in length: give ranges of the same length", hLo, hHi, cLo, cHi)
	}
	return ports, nil
}
