package network

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"husk/reexec"
)

// A user-defined network (husk network create) is switched in userspace by
// one small process per network, started by the first container that joins
// it and gone with the last: the Switch. Each member's monitor hands it the
// container's TAP device, and the switch moves Ethernet frames between the
// devices by their MAC addresses, one read and one write per frame of up to
// 64 KiB. The network's gateway is one more port: the builtin stack (DNS
// with the members' names, egress, nothing for --internal). This was
// chosen over a kernel bridge in a shared namespace because the
// containers' network namespaces belong to separate user namespaces: a
// veth cannot be moved between them without one user namespace for all.

// SwitchCall is the switch's function name (reexec).
const SwitchCall = "network-switch"

func init() { reexec.Register(SwitchCall, runSwitch) }

// switchIdle is how long a switch that no member joined waits before it
// ends: the container that started it failed before joining.
const switchIdle = 2 * time.Second

// SwitchConfig is what a switch is started with: its network.
type SwitchConfig struct {
	Network  string       `json:"network"`
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway"`
	Internal bool         `json:"internal,omitempty"`
	// AllowHostLoopback: the gateway reaches the host's loopback.
	AllowHostLoopback bool `json:"allowHostLoopback,omitempty"`
}

// joinRequest is a member's registration, sent with its TAP device.
type joinRequest struct {
	Names []string   `json:"names"` // what the network's DNS answers with IP
	IP    netip.Addr `json:"ip"`
}

// Switch is one network's switch process.
type Switch struct {
	cfg   SwitchConfig
	paths switchPaths

	mu      sync.RWMutex
	ports   map[*swPort]bool
	macs    map[[6]byte]*swPort
	members int
	gw      *swPort
}

// swPort is one device on the switch. Its descriptor is read and written
// with plain syscalls, not through Go's poller: a frame then costs one
// read and one write, where the poller adds a wait and a wake-up to each,
// which cost a fifth of the throughput here. The pump that reads it closes
// it; writers hold mu so that they never write to a number reused since.
type swPort struct {
	fd     int
	names  []string
	ip     netip.Addr
	mu     sync.RWMutex
	closed bool
	leave  atomic.Bool
}

// write sends one frame; a device that stays full for a while drops it,
// as a switch does (TCP sends it again).
func (p *swPort) write(fr []byte) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return
	}
	for try := 0; try < 50; try++ {
		_, err := unix.Write(p.fd, fr)
		if err != unix.EAGAIN && err != unix.EINTR {
			return
		}
		unix.Poll([]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLOUT}}, 10)
	}
}

// close ends the port once its pump has seen leave.
func (p *swPort) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		unix.Close(p.fd)
	}
}

// runSwitch is the switch process: `husk network-switch SOCKET`.
func runSwitch(ctx context.Context, _, errw io.Writer, args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(errw, "husk network-switch: want the socket's path")
		return 125
	}
	if err := serveSwitch(ctx, switchPathsFor(args[0])); err != nil {
		fmt.Fprintln(errw, "husk network-switch:", err)
		return 125
	}
	return 0
}

func serveSwitch(ctx context.Context, p switchPaths) error {
	b, err := os.ReadFile(p.config)
	if err != nil {
		return err
	}
	sw := &Switch{paths: p, ports: map[*swPort]bool{}, macs: map[[6]byte]*swPort{}}
	if err := json.Unmarshal(b, &sw.cfg); err != nil {
		return fmt.Errorf("reading %s: %w", p.config, err)
	}
	stop, err := sw.startGateway(ctx)
	if err != nil {
		return err
	}
	defer stop()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p.socket, Net: "unix"})
	if err != nil {
		return err
	}
	ln.SetUnlinkOnClose(false) // removed under the lock, in leave
	ready := os.NewFile(3, "ready")
	ready.Write([]byte("ok\n"))
	ready.Close()
	done := make(chan struct{})
	time.AfterFunc(switchIdle, func() { sw.maybeEnd(done) })
	go sw.accept(ln, done)
	select {
	case <-done:
	case <-ctx.Done():
	}
	ln.Close()
	return nil
}

// startGateway runs the builtin stack as the gateway's port, through a
// socketpair whose other end the switch treats as any member's device.
func (sw *Switch) startGateway(ctx context.Context) (func(), error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the gateway's socket: %w", err)
	}
	for _, fd := range fds {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	cfg, err := Config{Subnet: sw.cfg.Subnet, Gateway: sw.cfg.Gateway, DNS: sw.cfg.Gateway, IP: sw.cfg.Gateway, AllowHostLoopback: sw.cfg.AllowHostLoopback}.WithDefaults()
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	s, link, err := newStackWith(fds[0], cfg, func() {}, !sw.cfg.Internal)
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	ups := hostResolvers("/etc/resolv.conf")
	if sw.cfg.Internal {
		ups = nil // no egress, no names from outside
	}
	stopDNS, err := serveDNSWith(s, cfg, ups, sw.lookup)
	if err != nil {
		s.Close()
		return nil, err
	}
	link.start()
	unix.SetNonblock(fds[1], true)
	gw := &swPort{fd: fds[1]}
	sw.mu.Lock()
	sw.ports[gw] = true
	var mac [6]byte
	copy(mac[:], gatewayMAC)
	sw.macs[mac] = gw
	sw.gw = gw
	sw.mu.Unlock()
	go sw.pump(gw)
	return func() {
		stopDNS()
		gw.leave.Store(true)
		s.Close()
		unix.Close(fds[0])
	}, nil
}

// accept takes members until the switch ends.
func (sw *Switch) accept(ln *net.UnixListener, done chan struct{}) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go sw.serveMember(c, done)
	}
}

// serveMember adds a member's device as a port for as long as its
// connection stays open: its monitor closes it when the container ends.
func (sw *Switch) serveMember(c *net.UnixConn, done chan struct{}) {
	defer c.Close()
	b, f, err := recvMsg(c, 64<<10)
	if err != nil || f == nil {
		return
	}
	var req joinRequest
	if err := json.Unmarshal(b, &req); err != nil {
		f.Close()
		return
	}
	fd, err := dupFD(f)
	f.Close()
	if err != nil {
		return
	}
	unix.SetNonblock(fd, true)
	p := &swPort{fd: fd, names: req.Names, ip: req.IP}
	sw.mu.Lock()
	sw.ports[p] = true
	sw.members++
	sw.mu.Unlock()
	go sw.pump(p)
	c.Write([]byte("ok\n"))
	io.Copy(io.Discard, c) // until the monitor closes it
	sw.mu.Lock()
	delete(sw.ports, p)
	for mac, q := range sw.macs {
		if q == p {
			delete(sw.macs, mac)
		}
	}
	sw.members--
	sw.mu.Unlock()
	p.leave.Store(true) // the pump ends, and closes the device: the container's namespace may go
	sw.maybeEnd(done)
}

// maybeEnd ends the switch when no member is left. The lock is the one a
// joining member holds from its connect to its answer, so no member can be
// on its way in while the switch goes.
func (sw *Switch) maybeEnd(done chan struct{}) {
	unlock, err := flockPath(sw.paths.lock)
	if err != nil {
		return
	}
	defer unlock()
	sw.mu.RLock()
	n := sw.members
	sw.mu.RUnlock()
	if n > 0 {
		return
	}
	os.Remove(sw.paths.socket)
	os.Remove(sw.paths.config)
	select {
	case <-done:
	default:
		close(done)
	}
}

// pump reads p's frames and switches each, until p leaves.
func (sw *Switch) pump(p *swPort) {
	defer p.close()
	buf := make([]byte, 65536+14)
	for !p.leave.Load() {
		n, err := unix.Read(p.fd, buf)
		switch {
		case err == unix.EAGAIN:
			unix.Poll([]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}, 200)
		case err == unix.EINTR:
		case err != nil:
			return
		case n >= 14:
			sw.forward(p, buf[:n])
		}
	}
}

// forward sends a frame to the port that has its destination MAC, or to
// every other port for a broadcast, multicast or unknown destination, and
// learns where its source lives (never taking the gateway's address).
// Unknown unicast never goes to the gateway: its MAC is always known, and
// its stack would answer a member's frames (a reset) before the member
// had a chance to.
func (sw *Switch) forward(from *swPort, fr []byte) {
	var dst, src [6]byte
	copy(dst[:], fr[0:6])
	copy(src[:], fr[6:12])
	sw.mu.RLock()
	known := sw.macs[src]
	to := sw.macs[dst]
	sw.mu.RUnlock()
	if known != from && src[0]&1 == 0 && known != sw.gw {
		sw.mu.Lock()
		if _, member := sw.ports[from]; member {
			sw.macs[src] = from
		}
		sw.mu.Unlock()
	}
	if dst[0]&1 == 0 && to != nil {
		if to != from {
			to.write(fr)
		}
		return
	}
	sw.mu.RLock()
	all := make([]*swPort, 0, len(sw.ports))
	unicast := dst[0]&1 == 0
	for p := range sw.ports {
		if p != from && !(unicast && p == sw.gw) {
			all = append(all, p)
		}
	}
	sw.mu.RUnlock()
	for _, p := range all {
		p.write(fr)
	}
}

// lookup is the network's DNS: a member's name or alias, to its address.
func (sw *Switch) lookup(name string) (netip.Addr, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	sw.mu.RLock()
	defer sw.mu.RUnlock()
	for p := range sw.ports {
		for _, n := range p.names {
			if strings.ToLower(n) == name {
				return p.ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// switchPaths are a switch's files in the user's run directory: the
// socket members join through, the lock that orders joins and the end,
// and the config its starter wrote.
type switchPaths struct{ socket, lock, config string }

func switchPathsFor(socket string) switchPaths {
	return switchPaths{socket: socket, lock: socket + ".lock", config: socket + ".json"}
}

func flockPath(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}
