package network

// slirp4netns and pasta, the network helpers the monitor runs outside the
// sandbox's user namespace. How each is started, and why:
//
// slirp4netns goes through rootlesskit v3's slirp4netns parent driver
// (startSlirp): it makes the tap device in the sandbox's namespaces, starts
// slirp4netns on it and waits for its ready descriptor. Its child half is
// rootlesskit's own child process, which husk does not have, so husk does
// that half's work from the monitor (configureInterface).
//
// pasta keeps husk's own launch (startPasta). rootlesskit v3.3.0's pasta
// parent driver starts pasta daemonized and returns neither its process
// nor a cleanup that ends it, so pasta would outlive the container and a
// killed monitor: a daemon gets no parent-death signal, and pasta as Debian
// 12 ships it does not quit when the namespace's process exits. The driver
// also has no --runas (pasta started by root drops to nobody, who cannot
// open the namespaces), and with the host's loopback allowed it leaves
// pasta's automatic forwarding of the sandbox's loopback ports on.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"husk/userns"
)

// readyTimeout bounds a helper's set-up of the namespace.
const readyTimeout = 30 * time.Second

// StartExternal connects the network namespace of the sandbox's init (pid)
// through slirp4netns or pasta, run by the monitor outside the sandbox's
// user namespace: both join it by the init's pid. The init only brings lo
// up (LoopbackUp) and waits for the monitor's word. The helper dies with
// the monitor; stop ends it sooner.
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
func lookHelper(mode, name, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &userns.Error{Op: "starting the " + mode + " network", Err: errors.New(name + " is not installed"),
			Fix: fmt.Sprintf("install it (sudo apt-get install %s), or use the builtin network (leave --network out)", pkg)}
	}
	return p, nil
}

func nsPaths(pid int) (user, net string) {
	return fmt.Sprintf("/proc/%d/ns/user", pid), fmt.Sprintf("/proc/%d/ns/net", pid)
}

// nsenter is a command run in the user and network namespaces of pid.
// Joining a user namespace takes a single-threaded process, which the
// monitor is not: nsenter (util-linux) is one.
func nsenter(bin string, pid int, args ...string) *exec.Cmd {
	userNS, netNS := nsPaths(pid)
	return exec.Command(bin, append([]string{"--user=" + userNS, "--net=" + netNS, "--preserve-credentials", "--"}, args...)...)
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

// sandboxAlive says, in one line, that the sandbox's process is gone:
// otherwise nsenter would say it on the monitor's stderr.
func sandboxAlive(mode string, pid int) error {
	userNS, netNS := nsPaths(pid)
	for _, p := range []string{userNS, netNS} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s did not configure the sandbox's network: the sandbox's process %d is gone", mode, pid)
		}
	}
	return nil
}
