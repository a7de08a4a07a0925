package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// makePrivate stops mounts made here from reaching the host, and the
// host's later mounts from reaching the sandbox.
func makePrivate() error {
	return mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
}

// pivotInto makes root the new / and detaches the old root entirely, so no
// path leads back to the host's tree. pivot_root(".", ".") stacks the old
// root on the new one, which a lazy unmount then drops (runc's pivotRoot).
func pivotInto(root string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the old root: %w", err)
	}
	defer unix.Close(oldroot)
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("entering the new root %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", root, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("entering the old root: %w", err)
	}
	// The old root may still be shared with the host: keep its unmount here.
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &mountError{op: "umount", target: "the old root", err: err}
	}
	return unix.Chdir("/")
}
