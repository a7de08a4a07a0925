package sandbox

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// signals holds what reaches the sandbox's PID 1 from the moment it starts
// its own work. Without a handler, Go's default for SIGTERM or SIGHUP would
// end PID 1 with status 2 (the kernel ignores a namespace init's own
// default-action signals), so they are caught first and relayed once the
// user's process exists.
var signals chan os.Signal

// CatchSignals starts holding signals; the sandbox side calls it first.
// SIGURG, the Go runtime's own preemption signal, is left out: it comes
// often and would crowd out the ones that matter.
func CatchSignals() {
	if signals != nil {
		return
	}
	signals = make(chan os.Signal, 64)
	notifyRelayable(signals)
}

// notifyRelayable sends ch every signal a process can catch but SIGURG.
func notifyRelayable(ch chan os.Signal) {
	for n := 1; n < 32; n++ {
		sig := syscall.Signal(n)
		if sig != unix.SIGKILL && sig != unix.SIGSTOP && sig != unix.SIGURG {
			signal.Notify(ch, sig)
		}
	}
}
