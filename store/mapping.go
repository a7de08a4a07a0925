package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"husk/userns"
)

// checkMapping keeps a store with the ID mapping its layers were written
// under. Files unpacked under the subuid mapping would show the wrong
// owners under the single one (a broken newuidmap, ranges taken away), and
// the other way round; so the first mode is recorded and a change refused.
func checkMapping(root string) error {
	mode := userns.Mode()
	if mode != userns.ModeSubuid && mode != userns.ModeSingle {
		return nil // real root, or keep-id, which only reads the store
	}
	path := filepath.Join(root, "mapping")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return writeOnce(path, mode+"\n")
	}
	if err != nil {
		return fmt.Errorf("reading the store's ID mapping %s: %w", path, err)
	}
	if was := strings.TrimSpace(string(b)); was != mode {
		return fmt.Errorf("the store %s was written with the %s ID mapping, but husk now uses the %s one (see 'husk info'): restore the subuid ranges and newuidmap, or start a new store with 'husk system reset' or another HUSK_ROOT", root, was, mode)
	}
	return nil
}

// writeOnce writes a file whole (a temporary file renamed into place), so
// that two first commands at once never read it half-written.
func writeOnce(path, content string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".mapping-*")
	if err != nil {
		return fmt.Errorf("recording the store's ID mapping: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("recording the store's ID mapping: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording the store's ID mapping: %w", err)
	}
	return os.Rename(f.Name(), path)
}
