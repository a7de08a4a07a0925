package start

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"husk/sandbox"
	"husk/store/container"
)

// Record is the container a start is for, with its records.
type Record struct {
	*container.Container
	cs *container.Store
}

// NewRecord is container c of cs.
func NewRecord(cs *container.Store, c *container.Container) *Record {
	return &Record{Container: c, cs: cs}
}

// UpperBase makes the directories of the container's own upper layer.
func (o *Record) UpperBase() (string, error) {
	for _, sub := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(o.Dir(), sub), 0o755); err != nil {
			return "", fmt.Errorf("creating the container's upper layer in %s: %w", o.Dir(), err)
		}
	}
	return o.Dir(), nil
}

// Remember records what only the init learns: the image and command
// (a foreground run resolves them here), and the spec exec reuses.
func (o *Record) Remember(imageID string, spec *sandbox.Spec) error {
	if o.cs == nil {
		return nil
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return o.RememberJSON(imageID, spec.Args, b)
}

// RememberJSON is Remember with the spec already in JSON.
func (o *Record) RememberJSON(imageID string, args []string, b []byte) error {
	if o.cs == nil {
		return nil
	}
	if o.Config.ImageID == "" || len(o.Command) == 0 {
		if err := o.cs.Describe(o.ID, imageID, args); err != nil {
			return err
		}
	}
	dir, err := container.MakeRunDir(o.ID)
	if err != nil {
		return err
	}
	// Whole or not at all: exec may read it at any moment.
	path := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
