package ctrfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"husk/store/container"
)

// A copy into a running container goes through the root its processes
// see: its mount namespace's tree (the overlay or fuse-overlayfs mount its
// init made, or its vfs copy, with its volumes and binds), reached from
// /proc/PID/root of its init. Writing into the upper directory instead
// would change an overlay's layer under its mount, which the kernel
// leaves undefined (a cached lookup hides the new file), would miss
// volumes and binds, and has no merged view at all for fuse-overlayfs,
// whose mount exists only in the container's namespaces (a copy into one
// is refused: see reachable). Joining the
// namespaces (exec's path) would run husk's own code, Go runtime and all,
// inside the container, where its processes could reach it.
//
// Only the host side may open /proc/PID/root: the init is undumpable,
// and only the owner of its user namespace, from outside, passes the
// kernel's ptrace check (a sibling namespace of husk's does not). The
// host opens it, and hands the descriptor to husk in its user namespace,
// whose ids and capabilities write the files as the mapping allows; the
// untar there is chrooted into that root (Untar), so that no symlink in
// the container leads to a host path.

// LiveRoot is /proc/PID/root of a running container's init, opened on
// the host; the caller closes it.
func LiveRoot(c *container.Container) (*os.File, error) {
	switch {
	case !c.Live():
		return nil, container.ErrNotRunning
	case c.Paused:
		return nil, container.ErrPaused
	case !c.InitAlive():
		return nil, fmt.Errorf("container %s is restarting: copy once it runs again, or stop it first", c.Name)
	}
	p := "/proc/" + strconv.Itoa(c.InitPID) + "/root"
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("opening the root of running container %s (%s): %w: run husk cp from the host, not inside husk's namespace", c.Name, p, err)
		}
		return nil, fmt.Errorf("opening the root of running container %s (%s): %w", c.Name, p, err)
	}
	// It may have ended, and its pid been reused, between the record's
	// check and the open: the root must be the same init's.
	if !c.InitAlive() {
		unix.Close(fd)
		return nil, container.ErrNotRunning
	}
	if err := reachable(fd, c.Name); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// reachable refuses a root that fuse-overlayfs serves: its daemon runs
// as the container's root with allow_other, and the kernel then lets only
// processes of the container's own user namespace (or one below it) in,
// which husk's Go cannot join.
func reachable(fd int, name string) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("reading the root of running container %s: %w", name, err)
	}
	if st.Type == unix.FUSE_SUPER_MAGIC {
		return fmt.Errorf("container %s runs on fuse-overlayfs, whose files only its own processes reach: stop it first (husk stop %s), or pipe a tar through husk exec", name, name)
	}
	return nil
}

// FdRoot is the path through which this process reaches the directory
// its descriptor fd holds: a container's root as LiveRoot opened it,
// inherited.
func FdRoot(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}
