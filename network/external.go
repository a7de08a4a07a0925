package network

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"husk/userns"
)

// readyTimeout bounds a helper's set-up of the namespace.
const readyTimeout = 30 * time.Second

// StartExternal connects the network namespace of the sandbox's init (pid)
// through slirp4netns or pasta, run by the monitor outside the sandbox's
// user namespace: both join it by path. The helper creates and configures
// the tap device itself, so the init only brings lo up (LoopbackUp). The
// helper dies with the monitor; stop ends it sooner.
func StartExternal(mode string, pid int, cfg Config) (stop func(), err error) {
	cfg, err = cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	switch mode {
	case Slirp4netns:
		return startSlirp(pid, cfg)
	case Pasta:
		return startPasta(pid, cfg)
	}
	return nil, fmt.Errorf("network %q: use %s, %s or %s", mode, Builtin, Slirp4netns, Pasta)
}

// lookHelper finds the binary, or says how to install it.
func lookHelper(name, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &userns.Error{Op: "starting the " + name + " network", Err: errors.New(name + " is not installed"),
			Fix: fmt.Sprintf("install it (sudo apt-get install %s), or use the builtin network (leave --network out)", pkg)}
	}
	return p, nil
}

func nsPaths(pid int) (user, net string) {
	return fmt.Sprintf("/proc/%d/ns/user", pid), fmt.Sprintf("/proc/%d/ns/net", pid)
}

// helperProc is a running slirp4netns or pasta.
type helperProc struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{} // closed once it exited
}

// startHelper starts the helper from a thread that lives exactly as long
// as the helper, so that its parent-death signal fires when the monitor
// dies and never because Go retired the thread that forked it.
func startHelper(bin string, args []string, extra ...*os.File) (*helperProc, error) {
	h := &helperProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	h.cmd.ExtraFiles = extra
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := h.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		h.cmd.Wait()
		close(h.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(bin), err)
	}
	return h, nil
}

// stop asks the helper to end, and kills it if it does not.
func (h *helperProc) stop() {
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(2 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
}

// failed is the helper's error once it gave up: its own last words.
func (h *helperProc) failed(what string) error {
	h.stop()
	return fmt.Errorf("%s did not configure the sandbox's network: %s", what, lastLine(h.out.String()))
}

// startSlirp runs slirp4netns. It writes to the ready pipe once tap0 is
// configured, and exits when the exit pipe closes: on stop, or with the
// monitor.
func startSlirp(pid int, cfg Config) (func(), error) {
	bin, err := lookHelper(Slirp4netns, "slirp4netns")
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	userNS, netNS := nsPaths(pid)
	args := []string{"--configure", "--mtu=" + strconv.Itoa(cfg.MTU), "--cidr=" + cfg.Subnet.String(),
		"--ready-fd=3", "--exit-fd=4", "--enable-seccomp",
		"--userns-path=" + userNS, "--netns-type=path", netNS, cfg.TapName}
	if !cfg.AllowHostLoopback {
		args = append([]string{"--disable-host-loopback"}, args...)
	}
	h, err := startHelper(bin, args, readyW, exitR)
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return nil, err
	}
	stop := func() { exitW.Close(); h.stop() }
	readyR.SetReadDeadline(time.Now().Add(readyTimeout))
	if _, err := readyR.Read(make([]byte, 1)); err != nil { // EOF: it exited
		exitW.Close()
		return nil, h.failed(Slirp4netns)
	}
	return stop, nil
}

// startPasta runs pasta in the foreground, as our child, so that it dies
// with the monitor: daemonized, it would keep the namespace alive. In the
// foreground it writes its pid file once the namespace is configured.
func startPasta(pid int, cfg Config) (func(), error) {
	bin, err := lookHelper(Pasta, "passt")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "husk-pasta-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pidFile := filepath.Join(dir, "pid")
	capSendBuffer(pid)
	h, err := startHelper(bin, pastaArgs(pid, cfg, pidFile))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(readyTimeout); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(pidFile); len(b) > 0 {
			return h.stop, nil
		}
		select {
		case <-h.done:
			return nil, h.failed(Pasta)
		default:
		}
		if time.Now().After(deadline) {
			return nil, h.failed(Pasta)
		}
	}
}

// pastaArgs mirror the builtin network: the same addresses, DNS through
// pasta's forwarder on cfg.DNS, no port forwarding of pasta's own (husk
// publishes ports itself), and the gateway mapped to the host only when
// allowed.
func pastaArgs(pid int, cfg Config, pidFile string) []string {
	userNS, netNS := nsPaths(pid)
	args := []string{"--foreground", "--config-net", "--quiet", "--ipv4-only", "--pid", pidFile,
		"--ns-ifname", cfg.TapName, "--mtu", strconv.Itoa(cfg.MTU),
		"--address", cfg.IP.String(), "--netmask", strconv.Itoa(cfg.Subnet.Bits()),
		"--gateway", cfg.Gateway.String(), "--dns-forward", cfg.DNS.String(),
		"--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", "none", "--udp-ns", "none",
		// pasta started as root drops to nobody, who could not open the namespaces.
		"--runas", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		"--userns", userNS, "--netns", netNS}
	if !cfg.AllowHostLoopback {
		args = append(args, "--no-map-gw")
	}
	return args
}

// lastLine is the last line of a helper's output that says why: before
// any usage text slirp4netns appends, and past its warnings and pasta's
// complaints that syslog is out of reach.
func lastLine(out string) string {
	if i := strings.Index(out, "Usage:"); i >= 0 {
		out = out[:i]
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "Failed to send") && !strings.HasPrefix(l, "WARNING:") {
			return l
		}
	}
	return "it exited without a word"
}

// lockedBuffer collects a helper's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sendBufferMax caps net.ipv4.tcp_wmem in pasta's namespace. pasta
// acknowledges the sandbox's data once its own socket to the peer took it,
// and drops a segment that socket has no room for, for the sandbox to send
// again; with pasta as Debian 12 ships it the sandbox's kernel recovers
// without SACK (it counts Reno recoveries), and a drop often costs the
// sender a retransmission timeout. With the kernel's 4 MiB send
// buffer a sender keeps more in flight than pasta's socket to a loopback
// peer holds: egress to a host service measured 0.2 to 3 Gbit/s, and 7 to
// 9 with 512 KiB. The sandbox's window only has to cover the hop to pasta,
// whose own socket buffers for the path beyond, so the cap costs nothing
// further out.
const sendBufferMax = 512 << 10

// capSendBuffer lowers the maximum of net.ipv4.tcp_wmem in the network
// namespace of pid to sendBufferMax. A new namespace starts with the
// host's values, so the host's minimum and default are kept. Joining a
// user namespace takes a single-threaded process: nsenter (util-linux)
// does it. Without nsenter, or where /proc/sys is read-only, the kernel's
// default stays, which costs only speed.
func capSendBuffer(pid int) {
	const path = "/proc/sys/net/ipv4/tcp_wmem"
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return
	}
	if max, err := strconv.Atoi(f[2]); err != nil || max <= sendBufferMax {
		return
	}
	bin, err := exec.LookPath("nsenter")
	if err != nil {
		return
	}
	userNS, netNS := nsPaths(pid)
	exec.Command(bin, "--user="+userNS, "--net="+netNS, "--", "/bin/sh", "-c",
		fmt.Sprintf("echo %s %s %d > %s", f[0], f[1], sendBufferMax, path)).Run()
}
