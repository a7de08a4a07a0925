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
