package store

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
)

// HasLayer reports whether the layer with this chain ID is complete.
func (s *Store) HasLayer(id string) bool {
	_, err := s.Layer(id)
	return err == nil
}

// LayerInfo is what the registry and the config say about one layer.
type LayerInfo struct {
	ChainID    string        // the layer's ID in the store
	Parent     string        // chain ID of the layer below, "" for the first
	Compressed digest.Digest // blob digest in the registry
	Size       int64         // blob size
	DiffID     digest.Digest // digest of the uncompressed tar
}

// PutLayer stores the uncompressed tar stream tar as layer l. created is
// false when another husk stored the same layer first (a concurrent pull):
// the layer is then there and ours to use, but not ours to remove.
// Large files keep their holes: where layers can be staged, through
// husk's own unpacker (sparse.go); on vfs, punched after (holes.go).
func (s *Store) PutLayer(l LayerInfo, tar io.Reader) (created bool, err error) {
	if s.CanStage() {
		st, err := s.Stage(l, tar)
		if err != nil {
			return false, err
		}
		return s.Commit(st)
	}
	// Where layers cannot be staged (vfs has no staging API; see
	// CanStage), containers/storage unpacks in a child of its own.
	size := l.Size
	_, _, err = s.Store.PutLayer(l.ChainID, l.Parent, nil, "", false, &storage.LayerOptions{
		OriginalDigest:     l.Compressed,
		OriginalSize:       &size,
		UncompressedDigest: l.DiffID,
	}, tar)
	switch {
	case err == nil:
		s.KeepHoles(filepath.Join(s.GraphRoot(), "vfs", "dir", l.ChainID), l.Parent)
		return true, nil
	case errors.Is(err, storage.ErrDuplicateID):
		return false, nil
	}
	return false, s.layerError(l, err)
}

// RemoveUnused deletes the given layers, top first, where no image and no
// other layer uses them: the leftovers of a pull that failed.
func (s *Store) RemoveUnused(ids []string) {
	for i := len(ids) - 1; i >= 0; i-- {
		if imgs, err := s.ImagesByTopLayer(ids[i]); err == nil && len(imgs) > 0 {
			continue
		}
		_ = s.DeleteLayer(ids[i]) // refuses while children or images use it
	}
}

// ImageRecord is what a pull stores about an image, written last.
type ImageRecord struct {
	ID             string // config digest hex
	Names          []string
	TopLayer       string
	Manifest       []byte
	ManifestDigest digest.Digest
	Config         []byte
	Created        time.Time
}

// CommitImage writes the image record. If another pull wrote the same
// image first, it adds our names to it. A name that another image holds
// moves here, and that image stays as <none> (Docker's dangling image).
func (s *Store) CommitImage(r ImageRecord) error {
	err := s.createImage(r, r.Names)
	if errors.Is(err, storage.ErrDuplicateName) {
		// Created without names first; AddNames then takes them over.
		err = s.createImage(r, nil)
		if err == nil {
			err = s.AddNames(r.ID, r.Names)
		}
	}
	if errors.Is(err, storage.ErrDuplicateID) {
		err = s.addPulled(r)
	}
	if err != nil {
		return fmt.Errorf("recording image %.12s: %w", r.ID, annotateDisk(err, s.GraphRoot()))
	}
	return nil
}

func (s *Store) createImage(r ImageRecord, names []string) error {
	md := r.ManifestDigest
	cd := digest.FromBytes(r.Config)
	_, err := s.CreateImage(r.ID, names, r.TopLayer, "", &storage.ImageOptions{
		CreationDate: r.Created,
		Digest:       md,
		Digests:      []digest.Digest{md},
		BigData: []storage.ImageBigDataOption{
			{Key: ManifestKeyFor(md.String()), Data: r.Manifest, Digest: md},
			{Key: ManifestKey, Data: r.Manifest, Digest: md},
			{Key: ConfigKey(r.ID), Data: r.Config, Digest: cd},
		},
	})
	return err
}

// addPulled gives an existing image our names and, if it came from another
// manifest (another registry, another platform list), that manifest too.
func (s *Store) addPulled(r ImageRecord) error {
	if err := s.AddNames(r.ID, r.Names); err != nil {
		return err
	}
	key := ManifestKeyFor(r.ManifestDigest.String())
	if _, err := s.ImageBigDataDigest(r.ID, key); err == nil {
		return nil
	}
	return s.SetImageBigData(r.ID, key, r.Manifest, func([]byte) (digest.Digest, error) { return r.ManifestDigest, nil })
}

func short(d digest.Digest) string {
	if len(d.Encoded()) < 12 {
		return d.String()
	}
	return d.Algorithm().String() + ":" + d.Encoded()[:12]
}
