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
		return os.WriteFile(path, []byte(mode+"\n"), 0o600)
	}
	if err != nil {
		return fmt.Errorf("reading the store's ID mapping %s: %w", path, err)
	}
	if was := strings.TrimSpace(string(b)); was != mode {
		return fmt.Errorf("the store %s was written with the %s ID mapping, but husk now uses the %s one (see 'husk info'): restore the subuid ranges and newuidmap, or start a new store with 'husk system reset' or another HUSK_ROOT", root, was, mode)
	}
	return nil
}
