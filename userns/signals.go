package userns

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signals the parent passes on to the child. `kill PID` names the parent,
// so it must reach the child. SIGWINCH, SIGTSTP and the like come from the
// terminal, which sends them to the whole foreground process group, the
// child included.
var relayed = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT,
	syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2}

type relay struct{ ch chan os.Signal }

func newRelay() *relay {
	r := &relay{ch: make(chan os.Signal, 8)}
	signal.Notify(r.ch, relayed...)
	return r
}

func (r *relay) stop() { signal.Stop(r.ch) }

// run forwards signals to p until the process ends. Ctrl-C and Ctrl-\ on
// the terminal reach the child already (it shares the parent's process
// group); forwarding them again would deliver them twice, and a second
// SIGINT cuts short the child's clean-up. So SIGINT and SIGQUIT are passed
// on only when the parent is not in its terminal's foreground group, that
// is, when they can only have come from kill(2).
func (r *relay) run(p *os.Process) {
	for s := range r.ch {
		if (s == syscall.SIGINT || s == syscall.SIGQUIT) && inForeground() {
			continue
		}
		if p.Signal(s) != nil {
			return // the child is gone
		}
	}
}

// inForeground reports whether this process's group owns its terminal.
func inForeground() bool {
	pgrp := unix.Getpgrp()
	for _, fd := range []int{0, 1, 2} {
		if fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil {
			return fg == pgrp
		}
	}
	return false
}
