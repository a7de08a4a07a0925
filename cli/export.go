package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"go.podman.io/storage/pkg/archive"

	"husk/ctrfs"
	"husk/store"
	"husk/store/container"
	"husk/userns"
)

// ExportCmd is `husk export`.
type ExportCmd struct {
	Output    string `short:"o" help:"Write to FILE instead of stdout." placeholder:"FILE"`
	Container string `arg:"" help:"Container name or ID."`
}

func (c *ExportCmd) Run(g *Globals) error {
	if c.Output == "" && isTerminal(os.Stdout) {
		return fmt.Errorf("export: refusing to write an archive to a terminal: pass -o FILE, or redirect the output")
	}
	err := withRoot(g, c.Container, false, func(_ *store.Store, _ *container.Container, root string) error {
		if c.Output == "" {
			return exportTo(root, g.Stdout)
		}
		return writeAtomically(c.Output, func(w io.Writer) error { return exportTo(root, w) })
	})
	if err != nil {
		return fmt.Errorf("export %s: %w", c.Container, err)
	}
	return nil
}

// exportTo writes the whole root as a tar, owners as the container sees
// them.
func exportTo(root string, w io.Writer) error {
	rc, err := archive.TarWithOptions(root, &archive.TarOptions{Compression: archive.Uncompressed})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// withRoot runs fn on the container's root, in husk's user namespace.
func withRoot(g *Globals, name string, write bool, fn func(*store.Store, *container.Container, string) error) error {
	s, ct, err := openContainer(g, name)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := ctrfs.OpenRoot(s, ct, write)
	if err != nil {
		return err
	}
	defer r.Close()
	return fn(s, ct, r.Dir)
}

// openContainer finds a container and opens the store it was made with,
// in husk's user namespace (its files belong to the namespace's ids).
func openContainer(g *Globals, name string) (*store.Store, *container.Container, error) {
	if err := userns.Enter(g.Ctx); err != nil {
		return nil, nil, err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, nil, err
	}
	ct, err := cs.Find(name)
	if err != nil {
		return nil, nil, err
	}
	driver := g.StorageDriver
	if ct.StorageDriver != "" {
		driver = ct.StorageDriver
	}
	s, err := store.Open(driver)
	if err != nil {
		return nil, nil, err
	}
	return s, ct, nil
}

// writeAtomically writes path through a file beside it, renamed into
// place once whole: a failure leaves nothing half-written.
func writeAtomically(path string, write func(io.Writer) error) error {
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err == nil {
		defer f.Cleanup()
		if err = write(f); err == nil {
			err = f.CloseAtomicallyReplace()
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, store.AnnotateDisk(err, filepath.Dir(path)))
	}
	return nil
}
