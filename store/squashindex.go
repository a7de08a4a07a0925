package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/renameio/v2"
)

// SquashIndex is the index of a squashfs store: a directory of
// <imageID>.sqsh files that a network filesystem can hold (no xattrs,
// device nodes, other owners or symlinks), published into by renames.
const SquashIndex = "husk-images.json"

// SquashEntry is one image of a squashfs store.
type SquashEntry struct {
	ID      string    `json:"id"`
	Names   []string  `json:"names,omitempty"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	File    string    `json:"file"` // relative to the store
}

// IsSquashStore says whether dir holds a squashfs store's index.
func IsSquashStore(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, SquashIndex))
	return err == nil && fi.Mode().IsRegular()
}

// ReadSquashIndex reads dir's index; a store without one has no images.
func ReadSquashIndex(dir string) ([]SquashEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, SquashIndex))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the image index of %s: %w", dir, err)
	}
	var out []SquashEntry
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("reading the image index %s: %w: publish an image there again", filepath.Join(dir, SquashIndex), err)
	}
	return out, nil
}

// withEntry is index with e added (or replacing the entry of its ID); the
// names e holds move to it from the other images, so that one name never
// means two images.
func withEntry(index []SquashEntry, e SquashEntry) []SquashEntry {
	out := []SquashEntry{}
	for _, o := range index {
		if o.ID == e.ID {
			continue
		}
		o.Names = slices.DeleteFunc(slices.Clone(o.Names), func(n string) bool { return slices.Contains(e.Names, n) })
		out = append(out, o)
	}
	return append(out, e)
}

// writeSquashIndex replaces dir's index by a new file renamed over it:
// a reader sees the old index or the new one, never half of one.
func writeSquashIndex(dir string, index []SquashEntry) error {
	b, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	// Static permissions: other users read the store.
	err = renameio.WriteFile(filepath.Join(dir, SquashIndex), append(b, '\n'), 0o644,
		renameio.WithTempDir(dir), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return fmt.Errorf("writing the image index of %s: %w", dir, err)
	}
	return nil
}
