package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"husk/network"
	"husk/sandbox"
	"husk/store/usernet"
)

// netOptions are the --network options and their values.
//
// port_handler=direct hands a published TCP port's listening socket, which
// belongs to the host's network, to the server in the container that binds
// the port (network.ServeBinds): connections reach it with no relay, at the
// speed of the host's loopback, and it sees each client's own address. The
// price is isolation: a process holding a socket of the host's network can
// turn it into a connection to anything the user reaches from the host,
// the host's loopback included (shutdown(2) the listener, or connect(2) an
// accepted socket to AF_UNSPEC, then connect it anywhere). An unprivileged
// user cannot seal the socket against that: a socket filter dropping the
// answers to its own connection attempts needs CAP_NET_ADMIN on TCP
// sockets in current kernels, and a seccomp check of connect(2) races
// with dup2(2). So it is a choice (as nerdctl's bypass4netns is), and the
// default relays every connection (port_handler=relay).
var netOptions = map[string]map[string]bool{
	"allow_host_loopback": {"true": true, "false": true},
	"port_handler":        {"relay": true, "direct": true},
}

// netMode splits --network MODE[:OPTION=VALUE,...] and checks it. The
// default is husk's builtin userspace network.
func (f *SandboxFlags) netMode() (mode string, opts map[string]string, err error) {
	mode, rest, _ := strings.Cut(f.Network, ":")
	if mode == "" {
		mode = network.Builtin
	}
	opts = map[string]string{}
	for _, o := range strings.Split(rest, ",") {
		if o == "" {
			continue
		}
		k, v, _ := strings.Cut(o, "=")
		if !netOptions[k][v] {
			return "", nil, fmt.Errorf("unknown --network option %q: use allow_host_loopback=true or port_handler=direct", o)
		}
		opts[k] = v
	}
	switch mode {
	case "none", "host":
		if len(opts) > 0 {
			return "", nil, fmt.Errorf("--network %s takes no options", mode)
		}
	case network.Builtin, network.Slirp4netns, network.Pasta:
	default:
		if len(opts) > 0 {
			return "", nil, fmt.Errorf("--network %s is a user-defined network, which takes no options: drop %q", mode, rest)
		}
		return mode, opts, nil // a user-defined network's name, found by userNetwork
	}
	if (mode == "none" || mode == "host") && (len(f.Publish) > 0 || f.PublishAll) {
		return "", nil, fmt.Errorf("conflicting options: -p with --network %s: publishing needs a network of the container's own", mode)
	}
	return mode, opts, nil
}

// userNetwork resolves --network NAME to a user-defined network (husk
// network create) with --ip and --network-alias; the address is leased
// when the container's record is made (container.Store.Create).
func (f *ContainerFlags) userNetwork(n *sandbox.NetworkConfig) error {
	switch n.Mode {
	case network.Builtin, network.Slirp4netns, network.Pasta, "none", "host":
		if f.IP != "" || len(f.Alias) > 0 {
			return fmt.Errorf("--ip and --network-alias need a user-defined network (husk network create NAME; --network NAME)")
		}
		return nil
	}
	a, err := attachment(n.Mode, f.IP, f.Alias)
	if err != nil {
		return err
	}
	n.Networks = []network.Attachment{a}
	return nil
}

// attachment is a container's place on the named network, before its
// address is leased.
func attachment(name, ip string, aliases []string) (network.Attachment, error) {
	ns, err := usernet.Open()
	if err != nil {
		return network.Attachment{}, err
	}
	un, err := ns.Get(name)
	if errors.Is(err, usernet.ErrNoSuchNetwork) {
		return network.Attachment{}, fmt.Errorf("unknown --network %q: use builtin (the default), slirp4netns, pasta, none, host, or a network of husk network ls", name)
	}
	if err != nil {
		return network.Attachment{}, err
	}
	a := network.Attachment{Network: un.Name, ID: un.ID, Subnet: un.Subnet, Gateway: un.Gateway, Internal: un.Internal, Aliases: aliases,
		AllowHostLoopback: un.Options["allow_host_loopback"] == "true"}
	if ip != "" {
		if a.IP, err = netip.ParseAddr(ip); err != nil || !a.IP.Is4() {
			return a, fmt.Errorf("--ip %q: give an IPv4 address inside %s", ip, un.Subnet)
		}
	}
	return a, nil
}
