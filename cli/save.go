package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"husk/store"
	"husk/transfer"
)

// SaveCmd is `husk save`.
type SaveCmd struct {
	Output string   `short:"o" help:"Write to FILE (a directory for oci-dir) instead of stdout." placeholder:"FILE"`
	Format string   `default:"docker-archive" enum:"docker-archive,oci-archive,oci-dir" help:"docker-archive (docker load, podman load), oci-archive or oci-dir."`
	Images []string `arg:"" name:"image" help:"Image names or IDs."`
}

func (c *SaveCmd) Run(g *Globals) error {
	if c.Output == "" && c.Format == transfer.OCIDir {
		return fmt.Errorf("save: --format oci-dir writes a directory: pass -o DIR")
	}
	if c.Output == "" && isTerminal(os.Stdout) {
		return fmt.Errorf("save: refusing to write an archive to a terminal: pass -o FILE, or redirect the output")
	}
	if c.Output != "" {
		if _, err := os.Lstat(c.Output); err == nil && c.Format == transfer.OCIDir {
			return fmt.Errorf("save: %s exists: give a new directory to -o", c.Output)
		}
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	items, err := saveItems(s, c.Images)
	if err != nil {
		return err
	}
	v := transfer.NewSaver(s, c.Format)
	defer v.Close()
	switch {
	case c.Format == transfer.OCIDir:
		err = c.writeDir(g, v, items)
	case c.Output == "":
		err = v.WriteArchive(g.Ctx, items, g.Stdout)
	default:
		err = c.writeFile(g, v, items)
	}
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// saveItems looks up each image: asked for by a name, it is saved under
// that name; by ID, with no name.
func saveItems(s *store.Store, queries []string) ([]transfer.SaveItem, error) {
	var out []transfer.SaveItem
	for _, q := range queries {
		img, err := s.Lookup(q)
		if err != nil {
			return nil, fmt.Errorf("save %s: %w", q, err)
		}
		it := transfer.SaveItem{Image: img}
		if n := store.NormalizeName(q); n != "" && slices.Contains(img.Names, n) {
			it.Name = n
		}
		out = append(out, it)
	}
	return out, nil
}

// writeFile writes the archive beside FILE and renames it into place: a
// failed save leaves no half-written archive.
func (c *SaveCmd) writeFile(g *Globals, v *transfer.Saver, items []transfer.SaveItem) error {
	f, err := os.CreateTemp(filepath.Dir(c.Output), ".husk-save-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", c.Output, err)
	}
	defer os.Remove(f.Name())
	err = v.WriteArchive(g.Ctx, items, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), c.Output)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", c.Output, store.AnnotateDisk(err, filepath.Dir(c.Output)))
	}
	return nil
}

// writeDir writes the layout beside DIR and renames it into place.
func (c *SaveCmd) writeDir(g *Globals, v *transfer.Saver, items []transfer.SaveItem) error {
	tmp, err := os.MkdirTemp(filepath.Dir(c.Output), ".husk-save-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", c.Output, err)
	}
	defer os.RemoveAll(tmp)
	layout := filepath.Join(tmp, "layout")
	if err = v.WriteLayout(g.Ctx, items, layout); err == nil {
		err = os.Rename(layout, c.Output)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", c.Output, store.AnnotateDisk(err, filepath.Dir(c.Output)))
	}
	return nil
}
