// Package nsenter runs a process inside the namespaces of a running
// container, for `husk exec`.
//
// Go cannot join a user namespace once its runtime has started threads, so
// the work happens in C before the runtime starts: the exec entry of
// husk's one pre-runtime constructor (package executor, nsenter.c), as
// runc's nsexec does. Importing this package installs it.
//
// The entry does nothing unless HUSK_NSENTER_PID is set. When it is set to
// a pid P, the process makes itself undumpable, joins P's user namespace
// (first: as the namespace's owner that grants the capabilities for the
// rest), then its cgroup, ipc, uts, net, pid and mount namespaces, skipping
// any it already shares, and changes to the container's root. It then
// forks. The child, inside P's pid namespace, reads its exec spec (an
// encoded sandbox.Spec, see sandbox.Spec.EncodeExec) and starts that
// process with the C init's own functions: the user and groups from the
// container's /etc/passwd and /etc/group, the terminal, the command from
// its PATH, the bind listener, the privilege drop in runc's order, execve,
// with Docker's 125, 126 and 127 for what failed. It never returns to Go.
// The parent stays in C, outside the pid namespace, relays SIGINT, SIGTERM,
// SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT and SIGTSTP to the
// child, stops when it stops, and exits with its code (128+N if signal N
// killed it). The child is killed if the parent dies.
//
// A failure prints one line on stderr and exits 125.
//
// The parent does not relay the SIGINT, SIGQUIT, SIGTSTP or SIGWINCH that
// a terminal sends, since the terminal sends them to the child too (both
// are in its foreground process group). A caller that relays signals itself
// should start the Command in its own session (Setsid), so that each signal
// reaches the child once.
package nsenter

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"

	"husk/sandbox/abi"
	// The constructor that runs the exec entry.
	_ "husk/sandbox/executor"
)

// EnvPid names the environment variable that asks the exec entry to join
// the namespaces of the process whose (host) pid it holds.
const EnvPid = abi.EnvNsenterPid

// Command is husk (this program, which must import this package) started
// inside the namespaces of process pid to run the process that spec, an
// exec spec, describes. The spec goes on a descriptor, never in argv,
// which every local user and the container can read: cmd.ExtraFiles[0]
// holds it (abi.FdExecSpec). A caller appends its console's socket
// (abi.FdConsole) and its binds' socket (abi.FdExecBinds), nil where it
// has none, and closes ExtraFiles once the command started. The
// environment is HUSK_NSENTER_PID alone: the process's own is in the spec.
func Command(pid int, spec []byte) (*exec.Cmd, error) {
	f, err := specFile(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{EnvPid + "=" + strconv.Itoa(pid)}
	cmd.ExtraFiles = []*os.File{f}
	return cmd, nil
}

// specFile holds spec in memory, read from its start and sealed: the
// joining process cannot write it, so the status line that a sandbox's
// init writes to this descriptor's number on a failure goes nowhere (the
// failure is on stderr).
func specFile(spec []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("husk-exec-spec", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("creating the exec spec: %w", err)
	}
	f := os.NewFile(uintptr(fd), "husk-exec-spec")
	if err := writeSealed(f, spec); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the exec spec: %w", err)
	}
	return f, nil
}

func writeSealed(f *os.File, b []byte) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return err
	}
	_, err := f.Seek(0, 0)
	return err
}
