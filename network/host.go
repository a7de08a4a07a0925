package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Spec is a sandbox's network beyond lo: the builtin userspace stack, or
// slirp4netns or pasta, which the host side runs.
type Spec struct {
	Mode   string `json:"mode"`
	Config Config `json:"config"`
	// Dials: ports are published, so the init dials for the host side.
	Dials bool `json:"dials,omitempty"`
	// DirectPorts: the init reports binds, for published TCP ports to be
	// handed to their servers (--network MODE:port_handler=direct).
	DirectPorts bool `json:"direct_ports,omitempty"`
	// Shared is a user-defined network the sandbox joins: its TAP device
	// goes to the network's switch instead of a stack of its own.
	Shared *Member `json:"shared,omitempty"`
}

// Host is the host side of a sandbox's network, in the process that
// supervises it (a foreground run, or a container's monitor): the
// published ports' listeners, the builtin stack, or slirp4netns or pasta.
type Host struct {
	spec      *Spec
	listeners *Listeners
	local     *net.UnixConn
	remote    *os.File // the init's end
	tap       *os.File // the TAP device, when a prelaunch received it
	cancel    context.CancelFunc
	stopExt   func()
	serving   context.CancelFunc
	mu        sync.Mutex
	dial      DialFunc
	ExecBinds string // where husk exec hands its processes' bind listeners (serveExecBinds)
}

// NewHost binds the published ports first: a port in use fails here,
// before anything starts.
func NewHost(spec *Spec, ports []Port) (*Host, error) {
	for _, b := range Backends() {
		if b.Name == spec.Mode && b.Err != nil {
			return nil, fmt.Errorf("--network %s: %w", spec.Mode, b.Err)
		}
	}
	h := &Host{spec: spec}
	if len(ports) > 0 {
		var err error
		if h.listeners, err = Listen(ports, spec.DirectPorts); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Ports are the published ports as bound, in -p syntax.
func (h *Host) Ports() []string {
	if h == nil || h.listeners == nil {
		return nil
	}
	var out []string
	for _, p := range h.listeners.Ports() {
		out = append(out, p.String())
	}
	return out
}

// Adopt takes over a prelaunched sandbox's network, whose socket the
// prelaunch made (conn, this side's end) and whose TAP device it may have
// received already (tap, or nil).
func (h *Host) Adopt(conn, tap *os.File) error {
	c, err := net.FileConn(conn)
	conn.Close()
	if err != nil {
		return fmt.Errorf("the network socket of a prelaunched sandbox: %w", err)
	}
	h.local, h.tap = c.(*net.UnixConn), tap
	return nil
}

// InitSocket makes this launch's socket and returns the init's end.
func (h *Host) InitSocket() (*os.File, error) {
	h.Stop()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the network socket: %w", err)
	}
	lf := os.NewFile(uintptr(fds[0]), "network")
	c, err := net.FileConn(lf)
	lf.Close()
	if err != nil {
		unix.Close(fds[1])
		return nil, fmt.Errorf("creating the network socket: %w", err)
	}
	h.local, h.remote = c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "network-init")
	return h.remote, nil
}

// Start runs once the sandbox exists: the stack on the TAP device the
// init sends, or the external helper (after which the init may go on),
// and the port forwarders.
func (h *Host) Start(pid int) error {
	if h == nil {
		return nil
	}
	h.remote.Close()
	h.remote = nil
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if h.spec.Mode == Builtin {
		go func() {
			tap := h.tap
			if tap == nil {
				var err error
				if tap, err = RecvFile(h.local); err != nil {
					return // the init failed first and says why
				}
			}
			h.serveBinds(ctx)
			if m := h.spec.Shared; m != nil {
				if err := JoinSwitch(ctx, tap, *m); err != nil {
					fmt.Fprintln(os.Stderr, "husk:", err)
				}
				return
			}
			_ = RunStack(ctx, tap, h.spec.Config)
		}()
	} else {
		stop, err := StartExternal(h.spec.Mode, pid, h.spec.Config)
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
	h.dial = Dialer(h.local)
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
// (ServeBinds); an init that sends none leaves them to the relay.
// A listener sent must be served even with no port to publish (-P on an
// image without EXPOSE): every bind in the sandbox waits for its answer.
func (h *Host) serveBinds(ctx context.Context) {
	if !h.spec.DirectPorts {
		return
	}
	l := h.listeners
	if l == nil {
		l = &Listeners{}
	}
	conn := h.local
	go func() {
		f, err := RecvFile(conn)
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
func (h *Host) serveExecBinds(ctx context.Context, l *Listeners) {
	if h.ExecBinds == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(h.ExecBinds), 0o700); err != nil {
		return
	}
	os.Remove(h.ExecBinds) // a socket an earlier start left
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: h.ExecBinds, Net: "unix"})
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
			f, err := RecvFile(c)
			c.Close()
			if err == nil {
				l.ServeExecBinds(ctx, f)
			}
		}()
	}
}

// Stop ends one launch's network: the stack or helper, the forwarders'
// connection to the init. The listeners stay, for a next launch.
func (h *Host) Stop() {
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

// Close ends it all and frees the ports.
func (h *Host) Close() {
	if h == nil {
		return
	}
	h.Stop()
	if h.serving != nil {
		h.serving()
	}
	if h.listeners != nil {
		h.listeners.Close()
	}
}

// Abort ends a start that failed: the init, whose socket closes, gives
// up too.
func (h *Host) Abort() {
	if h.local != nil {
		h.local.Close()
	}
}
