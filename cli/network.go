package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"husk/network"
	"husk/sandbox"
	"husk/sandbox/executor"
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

// netHost is the host side of a sandbox's network, in the process that
// supervises it (a foreground run, or a container's monitor): the
// published ports' listeners, the builtin stack, or slirp4netns or pasta.
type netHost struct {
	spec      *sandbox.NetSpec
	listeners *network.Listeners
	local     *net.UnixConn
	remote    *os.File // the init's end
	tap       *os.File // the TAP device, when a prelaunch received it
	cancel    context.CancelFunc
	stopExt   func()
	serving   context.CancelFunc
	mu        sync.Mutex
	dial      network.DialFunc
	execBinds string // where husk exec hands its processes' bind listeners (serveExecBinds)
}

// newNetHost binds the published ports first: a port in use fails here,
// before anything starts.
func newNetHost(c *sandbox.Config) (*netHost, error) {
	spec, err := c.NetSpec()
	if err != nil || spec == nil {
		return nil, err
	}
	ports, err := c.PublishedPorts()
	if err != nil {
		return nil, err
	}
	for _, b := range network.Backends() {
		if b.Name == spec.Mode && b.Err != nil {
			return nil, fmt.Errorf("--network %s: %w", spec.Mode, b.Err)
		}
	}
	h := &netHost{spec: spec}
	if len(ports) > 0 {
		if h.listeners, err = network.Listen(ports, spec.DirectPorts); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Ports are the published ports as bound, in -p syntax.
func (h *netHost) Ports() []string {
	if h == nil || h.listeners == nil {
		return nil
	}
	var out []string
	for _, p := range h.listeners.Ports() {
		out = append(out, p.String())
	}
	return out
}

// adoptNet is the host side of a prelaunched sandbox's network, whose
// socket the prelaunch made (pre.Net, this side's end).
func adoptNet(cfg *sandbox.Config, pre *executor.Prelaunch) (*netHost, error) {
	h, err := newNetHost(cfg)
	if err != nil || h == nil {
		pre.Net.Close()
		return nil, fmt.Errorf("the network of a prelaunched sandbox: %v", err)
	}
	c, err := net.FileConn(pre.Net)
	pre.Net.Close()
	if err != nil {
		return nil, fmt.Errorf("the network socket of a prelaunched sandbox: %w", err)
	}
	h.local, h.tap = c.(*net.UnixConn), pre.Tap
	return h, nil
}

// options makes this launch's socket and hands the init its end.
func (h *netHost) options(o *sandbox.Options) error {
	h.stop()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("creating the network socket: %w", err)
	}
	lf := os.NewFile(uintptr(fds[0]), "network")
	c, err := net.FileConn(lf)
	lf.Close()
	if err != nil {
		unix.Close(fds[1])
		return fmt.Errorf("creating the network socket: %w", err)
	}
	h.local, h.remote = c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "network-init")
	o.NetConn = h.remote
	return nil
}

// start runs once the sandbox exists: the stack on the TAP device the
// init sends, or the external helper (after which the init may go on),
// and the port forwarders.
func (h *netHost) start(pid int) error {
	if h == nil {
		return nil
	}
	h.remote.Close()
	h.remote = nil
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if h.spec.Mode == network.Builtin {
		go func() {
			tap := h.tap
			if tap == nil {
				var err error
				if tap, err = network.RecvFile(h.local); err != nil {
					return // the init failed first and says why
				}
			}
			h.serveBinds(ctx)
			_ = network.RunStack(ctx, tap, h.spec.Config)
		}()
	} else {
		stop, err := network.StartExternal(h.spec.Mode, pid, h.spec.Config)
		if err != nil {
			return err
		}
		h.stopExt = stop
		if _, err := h.local.Write([]byte{1}); err != nil {
			return fmt.Errorf("telling the sandbox its network is ready: %w", err)
		}
		h.serveBinds(ctx)
	}
	h.mu.Lock()
	h.dial = network.Dialer(h.local)
	h.mu.Unlock()
	if h.listeners != nil && h.serving == nil {
		// One server for the listeners' life; each launch's init dials.
		sctx, cancel := context.WithCancel(context.Background())
		h.serving = cancel
		go h.listeners.Serve(sctx, func(proto string, port int) (*os.File, error) {
			h.mu.Lock()
			dial := h.dial
			h.mu.Unlock()
			return dial(proto, port)
		})
	}
	return nil
}

// serveBinds hands published TCP ports to the servers that bind them
// (port_handler=direct), once the init sends its seccomp listener
// (network.ServeBinds); an init that sends none leaves them to the relay.
// A listener sent must be served even with no port to publish (-P on an
// image without EXPOSE): every bind in the sandbox waits for its answer.
func (h *netHost) serveBinds(ctx context.Context) {
	if !h.spec.DirectPorts {
		return
	}
	l := h.listeners
	if l == nil {
		l = &network.Listeners{}
	}
	conn := h.local
	go func() {
		f, err := network.RecvFile(conn)
		if err != nil {
			return
		}
		go h.serveExecBinds(ctx, l)
		l.ServeBinds(ctx, f)
	}()
}

// serveExecBinds takes, on a socket in the container's run directory, the
// bind listeners of the processes husk exec starts (sandbox.Exec), so that
// a server started by exec is handed the published ports too.
func (h *netHost) serveExecBinds(ctx context.Context, l *network.Listeners) {
	if h.execBinds == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(h.execBinds), 0o700); err != nil {
		return
	}
	os.Remove(h.execBinds) // a socket an earlier start left
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: h.execBinds, Net: "unix"})
	if err != nil {
		return
	}
	go func() {
		<-ctx.Done()
		ln.Close() // and removes the socket
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		// No deadline: husk exec closes c when its process is gone, and a
		// listener refused here would fail every bind of that process.
		go func() {
			f, err := network.RecvFile(c)
			c.Close()
			if err == nil {
				l.ServeExecBinds(ctx, f)
			}
		}()
	}
}

// stop ends one launch's network: the stack or helper, the forwarders'
// connection to the init. The listeners stay, for a next launch.
func (h *netHost) stop() {
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
	if h.stopExt != nil {
		h.stopExt()
		h.stopExt = nil
	}
	if h.local != nil {
		h.local.Close()
		h.local = nil
	}
	if h.remote != nil {
		h.remote.Close()
		h.remote = nil
	}
}

// close ends it all and frees the ports.
func (h *netHost) close() {
	if h == nil {
		return
	}
	h.stop()
	if h.serving != nil {
		h.serving()
	}
	if h.listeners != nil {
		h.listeners.Close()
	}
}

// withNet adds the network's host side to a launch: the init's socket, and
// the start once the sandbox exists. A failed start is kept in *errp, and
// the init, whose socket then closes, gives up too.
func withNet(o *sandbox.Options, h *netHost, errp *error) error {
	if h == nil {
		return nil
	}
	if err := h.options(o); err != nil {
		return err
	}
	started := o.Started
	o.Started = func(pid int) {
		if started != nil {
			started(pid)
		}
		if err := h.start(pid); err != nil {
			*errp = err
			h.local.Close()
		}
	}
	return nil
}
