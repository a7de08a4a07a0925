package sandbox

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reap is PID 1's loop: forward every signal to the user's process, reap
// every child (orphans land here), and return the user's process's exit
// code, 128+N after signal N, when it ends. The kernel then ends whatever
// else is left in the pid namespace.
func reap(child int) int {
	CatchSignals()
	// A child that ended before this loop is reaped here; signals that came
	// before the child existed wait in the channel and are relayed now.
	if code, done := reapAll(child); done {
		return code
	}
	for sig := range signals {
		switch sig {
		case unix.SIGCHLD:
			if code, done := reapAll(child); done {
				return code
			}
		case unix.SIGURG, unix.SIGPIPE:
			// SIGURG is the Go runtime's own preemption signal.
		default:
			_ = unix.Kill(child, sig.(syscall.Signal))
		}
	}
	return 125
}

func reapAll(child int) (int, bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return 0, false
		}
		if pid == child {
			return exitCode(ws), true
		}
	}
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
