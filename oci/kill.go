package oci

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ParseSignal reads runc's signal argument: a name with or without SIG,
// or a number.
func ParseSignal(s string) (unix.Signal, error) {
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
	return 0, fmt.Errorf("unknown signal %q: give a name such as TERM or KILL, or a number", s)
}

// Kill sends sig to container id's init, which passes it to the process
// (a created container's init ends on a terminating signal, as runc's);
// with all, to every process in the container's pid namespace.
func Kill(root, id string, sig unix.Signal, all bool) error {
	r, err := load(root, id)
	if err != nil {
		return err
	}
	if !r.alive() {
		return fmt.Errorf("container %s is not running: nothing to signal", id)
	}
	if all {
		for _, pid := range members(r.Pid) {
			_ = unix.Kill(pid, sig)
		}
	}
	if err := unix.Kill(r.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling container %s (pid %d): %w", id, r.Pid, err)
	}
	return nil
}

// members are the processes in init's pid namespace but init.
func members(init int) []int {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == init {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && l == ns {
			out = append(out, pid)
		}
	}
	return out
}

// Delete removes container id's state. A created container is ended
// first, as runc does; a running one only with force (SIGKILL to its init,
// which takes its pid namespace, and with it its mounts, along).
func Delete(root, id string, force bool) error {
	r, err := load(root, id)
	if err != nil {
		if force && errors.Is(err, errNoContainer) {
			return nil
		}
		return err
	}
	switch r.status(root) {
	case specs.StateRunning:
		if !force {
			return fmt.Errorf("container %s is running: stop it first (husk oci kill %s KILL), or delete it with --force", id, id)
		}
		fallthrough
	case specs.StateCreated:
		if err := r.end(); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir(root, id)); err != nil {
		return fmt.Errorf("removing container %s's state %s: %w", id, dir(root, id), err)
	}
	return nil
}

// end kills the init and waits until it is gone (or a zombie left to its
// reaper).
func (r *Record) end() error {
	_ = unix.Kill(r.Pid, unix.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for r.alive() {
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s's init (pid %d) did not end within 10s of SIGKILL: try again", r.ID, r.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
