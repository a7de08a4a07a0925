// Package nsenter runs husk inside the namespaces of a running container,
// for `husk exec`.
//
// Go cannot join a user namespace once its runtime has started threads, so
// the work happens in C before the runtime starts: the exec entry of
// husk's one pre-runtime constructor (package executor, nsenter.c), as
// runc's nsexec does. Importing this package installs it.
//
// The entry does nothing unless HUSK_NSENTER_PID is set. When it is set to
// a pid P, the process joins P's user namespace (first: as the
// namespace's owner that grants the capabilities for the rest), then its
// cgroup, ipc, uts, net, pid and mount namespaces, skipping any it already
// shares, and changes to the container's root. It then forks: the child,
// which is inside P's pid namespace, goes on into the Go runtime with
// HUSK_NSENTER_PID unset; the parent stays in C, relays SIGINT, SIGTERM,
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
	"os"
	"os/exec"
	"strconv"

	"husk/sandbox/abi"
	"husk/sandbox/executor"
)

// EnvPid names the environment variable that asks the exec entry to join
// the namespaces of the process whose (host) pid it holds.
const EnvPid = abi.EnvNsenterPid

// Command is exec.Command(name, args...) with this process's environment
// plus HUSK_NSENTER_PID=pid: name, typically /proc/self/exe, must be a
// program that imports this package, and it starts inside the namespaces of
// process pid.
func Command(pid int, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), EnvPid+"="+strconv.Itoa(pid))
	return cmd
}

// Joined reports whether the exec entry moved this process into a
// container's namespaces. An exec entry point should refuse to run when it
// is false, or it would run the user's command on the host.
func Joined() bool {
	return executor.Joined()
}
