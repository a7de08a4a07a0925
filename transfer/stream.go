package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"husk/store"
)

// streamTars makes img a v1.Image of plain tars (an archive's layers)
// read from the store while the archive is written, with no work file:
// the config names each tar's digest and the store knows its size, which
// is all an archive needs before a layer's bytes. ok is false when the
// store lacks a layer's size or records another digest than the config:
// Export writes the layers to files and checks them then.
func streamTars(ctx context.Context, s *store.Store, img *storage.Image, oci bool) (e *Exported, ok bool, err error) {
	raw, err := s.Config(img)
	if err != nil {
		return nil, false, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, false, fmt.Errorf("parsing the config of image %.12s: %w: pull the image again", img.ID, err)
	}
	ids, err := layerChain(s, img)
	if err != nil || len(ids) != len(cfg.RootFS.DiffIDs) {
		return nil, false, err // a count that differs: Export names it
	}
	layers := make([]blob, len(ids))
	for i, id := range ids {
		l, err := s.Layer(id)
		if err != nil {
			return nil, false, fmt.Errorf("reading layer %.12s of image %.12s: %w: pull the image again", id, img.ID, err)
		}
		d := cfg.RootFS.DiffIDs[i]
		if l.UncompressedSize <= 0 || l.UncompressedDigest.String() != d.String() {
			return nil, false, nil
		}
		layers[i] = blob{layer: id, digest: d, diffID: d, size: l.UncompressedSize}
	}
	core := &exportCore{config: raw, layers: layers, form: Form{OCI: oci}, open: func(b blob) (io.ReadCloser, error) {
		return openTar(ctx, s, b)
	}}
	e = &Exported{}
	if !oci {
		// A docker-archive is written one layer after the other: the next
		// ones are read ahead meanwhile. An OCI layout's writer reads all
		// layers at once already.
		ahead := newLayersAhead(ctx, s, layers)
		core.open, e.stop = ahead.open, ahead.Close
	}
	if core.manifest, err = core.makeManifest(); err != nil {
		return nil, false, err
	}
	if e.Image, err = partial.CompressedToImage(core); err != nil {
		return nil, false, err
	}
	return e, true, nil
}

// openTar reads layer b's tar from the store, checked against its digest
// and size as it is read: a layer that reads back otherwise fails the
// save rather than landing in the archive.
func openTar(ctx context.Context, s *store.Store, b blob) (io.ReadCloser, error) {
	plain := archive.Uncompressed
	rc, err := s.Diff("", b.layer, &storage.DiffOptions{Compression: &plain})
	if err != nil {
		return nil, fmt.Errorf("reading layer %.12s: %w", b.layer, err)
	}
	return &checkedTar{ctx: ctx, rc: rc, b: b, sum: sha256.New()}, nil
}

type checkedTar struct {
	ctx context.Context
	rc  io.ReadCloser
	b   blob
	sum hash.Hash
	n   int64
	// The store's reader unlocks the layer store when closed, so a
	// second Close (ggcr's layout writer closes twice) must not reach it.
	closed bool
}

func (c *checkedTar) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.rc.Read(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	switch {
	case err == io.EOF:
		if cerr := c.b.check(c.sum.Sum(nil), c.n); cerr != nil {
			return n, cerr
		}
	case err != nil && c.ctx.Err() == nil:
		// The store's rebuilding failed: a file of the layer is missing,
		// or its checksum differs from the one stored with the layer.
		return n, fmt.Errorf("layer %.12s cannot be read back (%w): the store is damaged: pull the image again", c.b.layer, err)
	}
	return n, err
}

// check: a layer's tar that reads back as sum, n bytes long, is the one
// the store records.
func (b blob) check(sum []byte, n int64) error {
	if got := hashOf(sum); n != b.size || got != b.diffID {
		return fmt.Errorf("layer %.12s reads back as %s (%d bytes), not %s (%d bytes) as the store records: the store is damaged: pull the image again", b.layer, got, n, b.diffID, b.size)
	}
	return nil
}

func (c *checkedTar) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.rc.Close()
}
