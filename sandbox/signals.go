package sandbox

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// notifyRelayable sends ch every signal a process can catch but SIGURG.
func notifyRelayable(ch chan os.Signal) {
	for n := 1; n < 32; n++ {
		sig := syscall.Signal(n)
		if sig != unix.SIGKILL && sig != unix.SIGSTOP && sig != unix.SIGURG {
			signal.Notify(ch, sig)
		}
	}
}

// held takes the relayed signals from the start of a process that follows
// a sandbox already running (HoldSignals), for Adopt to relay.
var held chan os.Signal

// HoldSignals starts taking every relayable signal, before anything else
// in this process does: a prelaunched sandbox already runs, and a signal
// sent to husk then is the sandbox's (the prelaunch kept them blocked
// until now), never husk's own to end on or to take as its context's.
func HoldSignals() {
	held = make(chan os.Signal, 64)
	notifyRelayable(held)
}
