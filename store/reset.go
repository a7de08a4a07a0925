package store

import (
	"fmt"
	"os"
	"path/filepath"
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
	// other things too.
	dirs := []string{filepath.Join(runroot, "storage"), filepath.Join(runroot, "c")}
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

// rootEntries are what husk keeps in its root directory.
var rootEntries = []string{"storage", "strategy", "mapping", "inuse", "containers"}

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
