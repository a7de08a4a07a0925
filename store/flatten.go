package store

import (
	"fmt"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
)

// Flatten applies the layer top and those below it to root, bottom first
// (whiteouts remove what lower layers had): an image's whole filesystem
// as one tree, with the owners the mapping allows (image squash, husk
// bundle). It runs in husk's user namespace.
func (s *Store) Flatten(top, root string) error {
	var chain []string
	for id := top; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return fmt.Errorf("reading layer %.12s: %w", id, err)
		}
		chain = append(chain, id)
		id = l.Parent
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := s.applyLayer(chain[i], root); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyLayer(id, root string) error {
	rc, err := s.Diff("", id, nil)
	if err != nil {
		return fmt.Errorf("reading layer %.12s: %w", id, err)
	}
	defer rc.Close()
	plain, err := archive.DecompressStream(rc)
	if err != nil {
		return fmt.Errorf("reading layer %.12s: %w", id, err)
	}
	defer plain.Close()
	var opts archive.TarOptions
	if s.Squashing {
		// The single mapping: the store's files are all the user's (root
		// here), whatever owner the layer's tar names.
		opts.ChownOpts = &idtools.IDPair{}
	}
	if _, err := archive.ApplyUncompressedLayer(root, plain, &opts); err != nil {
		return fmt.Errorf("applying layer %.12s: %w", id, err)
	}
	return nil
}
