package sandbox

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"husk/sandbox/executor"
)

// reap is PID 1's loop: forward every signal to the user's process, reap
// every child (orphans land here), and return the user's process's exit
// code, 128+N after signal N, when it ends. The kernel then ends whatever
// else is left in the pid namespace.
//
// A process that is still running after handOverAfter gets a smaller init,
// which goes on serving published ports' dials on dialFD (-1: none):
// this one execs husk as the C reaper (package executor), which does the
// same without a Go runtime, so that an idle container costs little.
func reap(child, dialFD int) int {
	CatchSignals()
	// A child that ended before this loop is reaped here; signals that came
	// before the child existed wait in the channel and are relayed now.
	if code, done := reapAll(child); done {
		return code
	}
	later := time.After(handOverAfter)
	for {
		select {
		case sig := <-signals:
			if code, done := relay(child, sig); done {
				return code
			}
		case <-later:
			// Signals already here are relayed first; executor.Exec blocks
			// the rest, for the C side to take.
			drainSignals(child)
			_ = executor.Exec(child, dialFD) // returns only when the exec failed
			later = nil
		}
	}
}

const handOverAfter = time.Second

// relay passes one signal on, or reaps on SIGCHLD.
func relay(child int, sig os.Signal) (int, bool) {
	switch sig {
	case unix.SIGCHLD:
		return reapAll(child)
	case unix.SIGURG, unix.SIGPIPE:
		// SIGURG is the Go runtime's own preemption signal.
	default:
		_ = unix.Kill(child, sig.(syscall.Signal))
	}
	return 0, false
}

func drainSignals(child int) {
	for {
		select {
		case sig := <-signals:
			if code, done := relay(child, sig); done {
				os.Exit(code)
			}
		default:
			return
		}
	}
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
