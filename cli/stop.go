package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"husk/store/container"
)

// StopCmd is `husk stop`.
type StopCmd struct {
	Time       int      `short:"t" default:"10" help:"Seconds to wait before killing the container."`
	Signal     string   `short:"s" help:"Signal to stop with (default: the image's STOPSIGNAL, else SIGTERM)."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *StopCmd) Run(g *Globals) error {
	cs, err := openContainers()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "stop", func(ct *container.Container) error {
		return stopContainer(cs, ct, c.Signal, time.Duration(c.Time)*time.Second)
	})
}

// eachContainer applies fn to each named container and prints its name
// as given, as Docker does; it goes on after a failure and reports the
// first.
func eachContainer(g *Globals, cs *container.Store, names []string, verb string, fn func(*container.Container) error) error {
	var first error
	for _, q := range names {
		ct, err := cs.Find(q)
		if err == nil {
			err = fn(ct)
		}
		if err != nil {
			err = fmt.Errorf("%s %s: %w", verb, q, err)
			if first == nil {
				first = err
			} else {
				fmt.Fprintln(g.Stderr, "husk: "+err.Error())
			}
			continue
		}
		fmt.Fprintln(g.Stdout, q)
	}
	return first
}

// stopContainer sends the stop signal to the container's init, which
// passes it to the process, then SIGKILL after the timeout. Stopping a
// container that is not running does nothing.
func stopContainer(cs *container.Store, ct *container.Container, signal string, timeout time.Duration) error {
	if !ct.Live() {
		return nil
	}
	if signal == "" {
		signal = ct.Config.StopSignal
	}
	sig, err := parseSignal(signal, unix.SIGTERM)
	if err != nil {
		return err
	}
	if _, err := cs.Update(ct.ID, func(st *container.State) error { st.Stopped = true; return nil }); err != nil {
		return err
	}
	signalInit(cs, ct.ID, sig)
	if waitStopped(cs, ct.ID, timeout) {
		return nil
	}
	pid := signalInit(cs, ct.ID, unix.SIGKILL)
	if !waitStopped(cs, ct.ID, 10*time.Second) {
		return fmt.Errorf("the container did not stop after SIGKILL to its init (pid %d)", pid)
	}
	return nil
}

// signalInit signals the init the record names now, not the one the caller
// saw: a restart policy may have started another since. Once Stopped is
// recorded, the monitor starts no more.
func signalInit(cs *container.Store, id string, sig unix.Signal) int {
	ct, err := cs.Find(id)
	if err != nil || !ct.InitAlive() {
		return 0
	}
	_ = unix.Kill(ct.InitPID, sig)
	return ct.InitPID
}

// waitStopped waits until the monitor has recorded the exit (or is gone).
func waitStopped(cs *container.Store, id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ct, err := cs.Find(id)
		if err != nil || !ct.Live() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parseSignal reads a signal as Docker takes it: KILL, SIGKILL or 9.
func parseSignal(s string, def unix.Signal) (unix.Signal, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q: use a name such as TERM or KILL, or a number", s)
}

// KillCmd is `husk kill`.
type KillCmd struct {
	Signal     string   `short:"s" default:"KILL" help:"Signal to send."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *KillCmd) Run(g *Globals) error {
	sig, err := parseSignal(c.Signal, unix.SIGKILL)
	if err != nil {
		return err
	}
	cs, err := openContainers()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "kill", func(ct *container.Container) error {
		if !ct.Live() || !ct.InitAlive() {
			return errNotRunning
		}
		if sig == unix.SIGKILL || sig == unix.SIGTERM || sig == unix.SIGINT {
			// Docker counts a kill as a manual stop: no restart after it.
			_, _ = cs.Update(ct.ID, func(st *container.State) error { st.Stopped = true; return nil })
		}
		if err := unix.Kill(ct.InitPID, sig); err != nil {
			return fmt.Errorf("sending %v to the container's init (pid %d): %w", sig, ct.InitPID, err)
		}
		return nil
	})
}

var errNotRunning = errors.New("the container is not running: start it first (husk start)")

// RestartCmd is `husk restart`.
type RestartCmd struct {
	Time       int      `short:"t" default:"10" help:"Seconds to wait before killing the container."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *RestartCmd) Run(g *Globals) error {
	cs, err := openContainers()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "restart", func(ct *container.Container) error {
		if err := stopContainer(cs, ct, "", time.Duration(c.Time)*time.Second); err != nil {
			return err
		}
		ct, err := cs.Find(ct.ID)
		if err != nil {
			return err
		}
		return startMonitor(g, ct, false)
	})
}
