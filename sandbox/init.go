package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"husk/sandbox/abi"
)

// Become turns this process, PID 1 of the sandbox's namespaces, into the
// sandbox: it builds the root, starts the user's process and exits with its
// code. It never returns.
func Become(s *Spec) {
	if len(s.Args) == 0 {
		die(errors.New("the sandbox has no command"))
	}
	os.Exit(run(s))
}

// run is the init as a straight list of named steps.
func run(s *Spec) int {
	root := filepath.Join(s.Scratch, "root")
	steps := []struct {
		name string
		fn   func() error
	}{
		// Mounts made from here on stay in this mount namespace.
		{"making mounts private", makePrivate},
		{"mounting the scratch tmpfs", func() error { return mountScratch(s.Scratch) }},
		{"building the root filesystem", func() error { return apply(root, s.RootOps) }},
		{"writing /etc/hosts, /etc/hostname, /etc/resolv.conf", func() error { return writeFiles(s.Scratch, s.Files) }},
		{"setting up the network", func() error { return setupNet(s) }},
		// Volumes and masks after the kernel filesystems, so nothing hides them.
		{"mounting /proc, /dev, /sys and volumes", func() error { return apply(root, s.Ops(s.Scratch)) }},
		// Last of the mounts: after it, nothing under the root is writable
		// but the volumes, tmpfs and the kernel filesystems Docker leaves so.
		{"making the root read-only", func() error { return readonlyRoot(root, s.ReadOnly) }},
		{"pivoting into the root", func() error { return pivotInto(root) }},
		{"setting the hostname", func() error { return unix.Sethostname([]byte(s.Hostname)) }},
		{"bringing up lo", func() error { return when(s.Loopback, loopbackUp) }},
		// Other processes in the sandbox must not reach husk's binary
		// through /proc/1/exe (CVE-2019-5736).
		{"making the init undumpable", func() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			report(fmt.Errorf("%s: %w", st.name, err))
			return 125
		}
	}
	pid, err := startUser(s)
	if err != nil {
		report(err)
		var ee *execError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 125
	}
	Ask(abi.StatusRunning, fmt.Sprint(pid))
	return reap(pid, serveDials(s))
}

// startUser resolves the user, sets up the terminal and starts the process.
func startUser(s *Spec) (int, error) {
	cred, err := resolveUser(s)
	if err != nil {
		return 0, err
	}
	stdio := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	if s.Terminal {
		tty, err := openConsole(cred)
		if err != nil {
			return 0, err
		}
		defer tty.Close()
		stdio = []*os.File{tty, tty, tty}
	}
	return startProcess(s, cred, stdio)
}

func when(cond bool, fn func() error) error {
	if !cond {
		return nil
	}
	return fn()
}

func readonlyRoot(root string, ro bool) error {
	if !ro {
		return nil
	}
	return remountReadonly(root)
}

// report prints the sandbox's error once, as husk prints its own, and
// tells the host side, whose user may not see this side's stderr (a
// detached container's goes to its log).
func report(err error) {
	fmt.Fprintln(os.Stderr, "husk: "+err.Error())
	Ask(abi.StatusError, err.Error())
}

func die(err error) {
	report(err)
	os.Exit(125)
}
