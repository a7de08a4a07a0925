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
	for _, dir := range []string{root, filepath.Join(runroot, "storage")} {
		if err := removeAll(dir); err != nil {
			return fmt.Errorf("removing %s: %w: check what holds it (lsof +D %s, mount | grep %s)", dir, err, dir, dir)
		}
	}
	return nil
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
