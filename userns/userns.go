// Package userns puts husk into its user and mount namespace: the user's uid
// as 0 plus the /etc/subuid ranges through newuidmap/newgidmap, or the
// single mapping `0 uid 1` where there are none. The mapping is stable
// across runs, because layers in the store were written under it.
package userns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// envMarker is set in the environment of the re-executed child; its value
// is the mode ("subuid" or "single").
const envMarker = "HUSK_USERNS"

// Modes of mapping.
const (
	ModeSubuid = "subuid"
	ModeSingle = "single"
)

// IDMap is one line of /proc/PID/uid_map or gid_map.
type IDMap struct {
	ContainerID, HostID, Size int
}

// Plan is the mapping husk will use for this user.
type Plan struct {
	Mode   string // ModeSubuid or ModeSingle
	User   string
	UID    int
	GID    int
	UIDMap []IDMap
	GIDMap []IDMap
}

// ChildInit runs first in main. In a process that husk re-executed inside a
// new user namespace it completes the handshake (waits until the parent has
// written the ID maps) and returns, so the command then runs as root in the
// namespace. Everywhere else it returns nil at once.
func ChildInit() error { return nil }

// Inside reports whether this process runs inside husk's user namespace.
func Inside() bool { return os.Getenv(envMarker) != "" }

// Mode is the mapping mode of the namespace this process is in ("" outside).
func Mode() string { return os.Getenv(envMarker) }

// Detect finds the mapping husk will use for the current user.
// STUB: always the single mapping; the real one reads /etc/subuid.
func Detect() (*Plan, error) {
	uid, gid := os.Getuid(), os.Getgid()
	return &Plan{Mode: ModeSingle, UID: uid, GID: gid,
		UIDMap: []IDMap{{0, uid, 1}}, GIDMap: []IDMap{{0, gid, 1}}}, nil
}

// Enter makes sure the calling command runs inside husk's user and mount
// namespace. On the host it re-executes husk with the same arguments in a
// new namespace, waits, and exits with the child's code: it does not return
// there. Inside (or as real root) it returns nil at once.
// STUB: single mapping only, through the kernel's unprivileged map write.
func Enter(ctx context.Context) error {
	if Inside() || os.Geteuid() == 0 {
		return nil
	}
	plan, err := Detect()
	if err != nil {
		return err
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envMarker+"="+plan.Mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: plan.UID, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: plan.GID, Size: 1}},
	}
	// The child gets the terminal's signals itself; the parent only waits.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				os.Exit(128 + int(ws.Signal()))
			}
			os.Exit(ee.ExitCode())
		}
		return fmt.Errorf("entering the user namespace: %w", err)
	}
	os.Exit(0)
	return nil
}
