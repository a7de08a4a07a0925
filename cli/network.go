package cli

import (
	"fmt"
	"strings"

	"husk/network"
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
		return "", nil, fmt.Errorf("unknown --network %q: use builtin (the default), slirp4netns, pasta, none or host", f.Network)
	}
	if (mode == "none" || mode == "host") && (len(f.Publish) > 0 || f.PublishAll) {
		return "", nil, fmt.Errorf("conflicting options: -p with --network %s: publishing needs a network of the container's own", mode)
	}
	return mode, opts, nil
}
