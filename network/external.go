package network

// slirp4netns and pasta, the network helpers the monitor runs outside the
// sandbox's user namespace, are started by husk itself, not through
// rootlesskit v3's parent drivers:
//
// rootlesskit's slirp4netns driver would serve, with husk doing the work of
// rootlesskit's child (the tap device's address, MTU and route) from the
// monitor, but it costs every start three more processes before the
// network is up: slirp4netns --help to probe its features, then nsenter
// running ip twice to make the tap device; husk's child half is a fourth.
// slirp4netns --configure does all of it in one. With the driver, the
// network's set-up in a `run --rm` went from 20 to 76 ms (medians of 12,
// on a busy 2-core machine), and `husk start` after `husk stop` failed
// twice in 20, where it had not, because the init was gone before the
// longer set-up ended (a race of its own, which the wait widened).
//
// rootlesskit v3.3.0's pasta driver starts pasta daemonized and returns
// neither its process nor a cleanup that ends it, so pasta would outlive
// the container and a killed monitor: a daemon gets no parent-death
// signal, and pasta as Debian 12 ships it does not quit when the
// namespace's process exits. The driver also has no --runas (pasta
// started by root drops to nobody, who cannot open the namespaces), and
// with the host's loopback allowed it leaves pasta's automatic forwarding
// of the sandbox's loopback ports on.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"husk/pdeath"
	"husk/userns"
)

// readyTimeout bounds a helper's set-up of the namespace.
const readyTimeout = 30 * time.Second

// StartExternal connects the network namespace of the sandbox's init (pid)
// through slirp4netns or pasta, run by the monitor outside the sandbox's
// user namespace: both join it by path. The helper creates and configures
// the tap device itself, so the init only brings lo up (net.c). The
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

// startHelper starts the helper from a goroutine held on its thread for
// as long as the helper runs, so that its parent-death signal fires when
// the monitor dies and never because Go retired the thread that forked it.
func startHelper(bin string, args []string, extra ...*os.File) (*helperProc, error) {
	h := &helperProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	h.cmd.ExtraFiles = extra
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		defer pdeath.Hold()()
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
