package store

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Reset removes every container, image and layer and then the whole store,
// run directory included. It runs inside the namespace so that files owned
// by subordinate uids can be removed too. A store that no longer opens is
// removed all the same: reset is the way out of a broken one.
func Reset(forced string) error {
	root, _, runroot, err := Paths()
	if err != nil {
		return err
	}
	if s, err := Open(forced); err == nil {
		_ = s.Wipe()
		// force: unmount whatever layers are still mounted.
		_, _ = s.Shutdown(true)
	}
	// Only husk's own entries: HUSK_ROOT may name a directory that holds
	// other things too. Of the run directory, which every store of the
	// user shares, only this store's parts.
	dirs := append(containerRunDirs(root, runroot), storageRunRoot(root, runroot))
	waitUnpacks(root)
	for _, name := range rootEntries {
		dirs = append(dirs, filepath.Join(root, name))
	}
	for _, dir := range dirs {
		if err := removeAll(dir); err != nil {
			return fmt.Errorf("removing %s: %w: check what holds it (lsof +D %s, mount | grep %s)", dir, err, dir, dir)
		}
	}
	_ = os.Remove(root) // when nothing else is left in it
	return nil
}

// containerRunDirs are the run directories of the store's containers
// (runDir in cli: c/ and the ID's first 12 digits).
func containerRunDirs(root, runroot string) []string {
	var dirs []string
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, e := range entries {
		if len(e.Name()) >= 12 {
			dirs = append(dirs, filepath.Join(runroot, "c", e.Name()[:12]))
		}
	}
	return dirs
}

// rootEntries are what husk keeps in its root directory.
var rootEntries = []string{"storage", "strategy", "mapping", "inuse", "containers", "squashfs", placedMarker}

// waitUnpacks waits for the unpacks of squashfs files into node copies
// under root (squash/cache.go) to end: each holds its path's lock.
func waitUnpacks(root string) {
	locks, _ := filepath.Glob(filepath.Join(root, "squashfs", "*", ".lock"))
	for _, l := range locks {
		if f, err := os.Open(l); err == nil {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_EX)
			f.Close()
		}
	}
}

// removeAll is os.RemoveAll that first makes read-only directories
// writable, as image layers often contain them (for a user without
// CAP_DAC_OVERRIDE, as root is in the single-uid namespace for its files).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && fi.Mode().Perm()&0o700 != 0o700 {
			_ = os.Chmod(p, fi.Mode().Perm()|0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
