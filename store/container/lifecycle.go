package container

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"husk/store"
)

// ErrNotRunning is a signal or exec for a container that is not running.
var ErrNotRunning = errors.New("the container is not running: start it first (husk start)")

// Stop sends the stop signal (the image's STOPSIGNAL when signal is "",
// else SIGTERM) to the container's init, which passes it to the process,
// then SIGKILL after the timeout. Stopping a container that is not
// running does nothing.
func (s *Store) Stop(ct *Container, signal string, timeout time.Duration) error {
	if !ct.Live() {
		return nil
	}
	if signal == "" {
		signal = ct.Config.StopSignal
	}
	sig, err := ParseSignal(signal, unix.SIGTERM)
	if err != nil {
		return err
	}
	if _, err := s.Update(ct.ID, MarkStopped); err != nil {
		return err
	}
	s.signalPaused(ct.ID, sig)
	if s.waitStopped(ct.ID, timeout) {
		return nil
	}
	pid := s.signalPaused(ct.ID, unix.SIGKILL)
	if !s.waitStopped(ct.ID, 10*time.Second) {
		return fmt.Errorf("the container did not stop after SIGKILL to its init (pid %d)", pid)
	}
	return nil
}

// Kill sends sig to the container's init. Docker counts a kill with KILL,
// TERM or INT as a manual stop: no restart after it; those continue a
// paused container too, other signals wait for its unpause.
func (s *Store) Kill(ct *Container, sig unix.Signal) error {
	if !ct.Live() || !ct.InitAlive() {
		return ErrNotRunning
	}
	stops := sig == unix.SIGKILL || sig == unix.SIGTERM || sig == unix.SIGINT
	if stops {
		_, _ = s.Update(ct.ID, MarkStopped)
	}
	if !ct.Paused || !stops {
		if err := unix.Kill(ct.InitPID, sig); err != nil {
			return fmt.Errorf("sending %v to the container's init (pid %d): %w", sig, ct.InitPID, err)
		}
		return nil
	}
	if s.signalPaused(ct.ID, sig) == 0 {
		return ErrNotRunning
	}
	return nil
}

// Remove removes a container with its upper layer or vfs copy (store
// driver driver, "" as recorded); a running one only with force, after
// SIGKILL. It runs in husk's user namespace, whose ids own those files.
func (s *Store) Remove(ct *Container, force bool, driver string) error {
	if ct.Live() {
		if !force {
			return fmt.Errorf("the container is running: stop it first (husk stop %s), or use rm -f", ct.Name)
		}
		if err := s.Stop(ct, "KILL", 0); err != nil {
			return err
		}
	}
	if err := removeCopy(driver, ct.ID); err != nil {
		return err
	}
	if err := s.Forget(ct.ID); err != nil {
		return err
	}
	RemoveRunDir(ct.ID)
	return nil
}

// removeCopy removes the container's vfs copy, when the store has one.
func removeCopy(driver, id string) error {
	st, err := store.Open(driver)
	if err != nil {
		return nil // no store, no copy
	}
	defer st.Close()
	return st.RemoveContainerRoot(id)
}

// signalInit signals the init the record names now, not the one the caller
// saw: a restart policy may have started another since. Once Stopped is
// recorded, the monitor starts no more.
func (s *Store) signalInit(id string, sig unix.Signal) int {
	ct, err := s.Find(id)
	if err != nil || !ct.InitAlive() {
		return 0
	}
	_ = unix.Kill(ct.InitPID, sig)
	return ct.InitPID
}

// waitStopped waits until the monitor has recorded the exit (or is gone).
func (s *Store) waitStopped(id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ct, err := s.Find(id)
		if err != nil || !ct.Live() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ParseSignal reads a signal as Docker takes it: KILL, SIGKILL or 9; ""
// is def.
func ParseSignal(s string, def unix.Signal) (unix.Signal, error) {
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
