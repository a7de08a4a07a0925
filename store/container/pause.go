package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// How a container was paused.
const (
	pausedByFreezer = "freezer" // its own cgroup's cgroup.freeze
	pausedBySignal  = "signal"  // SIGSTOP to each of its processes
)

// ErrPaused is an exec into a paused container.
var ErrPaused = errors.New("the container is paused: unpause it first (husk unpause)")

// Pause freezes the container's processes: with the freezer of its own
// cgroup when it has one, else with SIGSTOP to each process but husk's
// init, which stays awake to pass on signals (a stop or kill of a paused
// container continues it after signalling, as Docker's does).
func (s *Store) Pause(ct *Container) error {
	if !ct.Live() || !ct.InitAlive() {
		return ErrNotRunning
	}
	_, err := s.Update(ct.ID, func(st *State) error {
		if st.Paused {
			return fmt.Errorf("container %s is already paused", ct.Name)
		}
		if dir := ownCgroup(ct.InitPID, ct.ID); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("1"), 0); err != nil {
				return fmt.Errorf("freezing cgroup %s: %w", dir, err)
			}
			st.Paused, st.PausedBy = true, pausedByFreezer
			return nil
		}
		if err := stopTree(ct.InitPID, nil); err != nil {
			resumeTree(ct.InitPID, ct.ID)
			return err
		}
		st.Paused, st.PausedBy = true, pausedBySignal
		return nil
	})
	return err
}

// Unpause resumes a container Pause froze.
func (s *Store) Unpause(ct *Container) error {
	if !ct.Live() || !ct.InitAlive() {
		return ErrNotRunning
	}
	_, err := s.Update(ct.ID, func(st *State) error {
		if !st.Paused {
			return fmt.Errorf("container %s is not paused", ct.Name)
		}
		if err := resume(st.InitPID, ct.ID, st.PausedBy); err != nil {
			return err
		}
		st.Paused, st.PausedBy = false, ""
		return nil
	})
	return err
}

// signalPaused sends sig to the init of a container that may be paused,
// and continues it: after the signal, so that the signal is the first
// thing its process sees, except SIGKILL, before which the host side of
// each exec must be found while the init lives.
func (s *Store) signalPaused(id string, sig unix.Signal) int {
	if sig == unix.SIGKILL {
		s.continuePaused(id)
		return s.signalInit(id, sig)
	}
	pid := s.signalInit(id, sig)
	s.continuePaused(id)
	return pid
}

func (s *Store) continuePaused(id string) {
	_, _ = s.Update(id, func(st *State) error {
		if !st.Paused {
			return errNothing
		}
		_ = resume(st.InitPID, id, st.PausedBy)
		st.Paused, st.PausedBy = false, ""
		return nil
	})
}

var errNothing = errors.New("nothing to do")

// resume thaws or continues the container's processes.
func resume(init int, id, by string) error {
	if by == pausedByFreezer {
		dir := ownCgroup(init, id)
		if dir == "" {
			return fmt.Errorf("the paused container's cgroup is gone")
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0); err != nil {
			return fmt.Errorf("thawing cgroup %s: %w", dir, err)
		}
		return nil
	}
	resumeTree(init, id)
	return nil
}

// ownCgroup is the container's own cgroup v2 directory, named after its
// ID, when its init is in one the user may freeze; "" otherwise (the
// init in the user's session cgroup, which must never be frozen).
func ownCgroup(init int, id string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", init))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok && strings.Contains(filepath.Base(p), id) {
			dir := filepath.Join("/sys/fs/cgroup", p)
			if unix.Access(filepath.Join(dir, "cgroup.freeze"), unix.W_OK) == nil {
				return dir
			}
		}
	}
	return ""
}

// stopTree stops the init's processes until no new one appears (one may
// fork while the others are being stopped). note, if not nil, is told of
// each process before it is stopped.
func stopTree(init int, note func(pid int) error) error {
	stopped := map[int]bool{}
	for round := 0; round < 20; round++ {
		fresh := 0
		for _, pid := range Processes(init) {
			if stopped[pid] {
				continue
			}
			if note != nil {
				if err := note(pid); err != nil {
					return err
				}
			}
			if err := unix.Kill(pid, unix.SIGSTOP); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("stopping process %d of the container: %w", pid, err)
			}
			stopped[pid], fresh = true, fresh+1
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("the container's processes kept forking while being stopped: try husk pause again")
}

// resumeTree continues the init's processes, and the host side of each
// husk exec in the container, which stopped with its process.
func resumeTree(init int, id string) {
	pids := Processes(init)
	in := map[int]bool{init: true}
	for _, pid := range pids {
		in[pid] = true
	}
	for _, pid := range pids {
		if pp := parentOf(pid); pp > 0 && !in[pp] && isExecParent(pp, id) {
			_ = unix.Kill(pp, unix.SIGCONT)
		}
		_ = unix.Kill(pid, unix.SIGCONT)
	}
}

// isExecParent reports whether pid is husk exec's joining process for the
// container id (its argv names the container alone).
func isExecParent(pid int, id string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Equal(b, []byte("husk\x00exec-process\x00"+id+"\x00"))
}
