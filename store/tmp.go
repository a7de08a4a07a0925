package store

import (
	"os"
	"path/filepath"
	"time"
)

// TempDir makes a work directory (downloads of a pull, layers of a push or
// save, an archive being loaded) inside the store, on the same file system
// as the layers (so a full disk shows here first, and /tmp, often a small
// tmpfs, is spared). It removes directories that husk processes killed
// long ago left behind.
func (s *Store) TempDir(prefix string) (string, error) {
	base := filepath.Join(s.GraphRoot(), "husk-tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	if old, _ := os.ReadDir(base); len(old) > 0 {
		for _, e := range old {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	return os.MkdirTemp(base, prefix)
}
