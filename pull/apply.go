package pull

import (
	"context"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"husk/store"
	"husk/transfer"
)

// drainAtEOF passes a decompressed stream through and, at its end, reads
// the compressed blob to its own end, so that whatever checks the blob
// there (go-containerregistry's digest and size) has spoken before the
// stream reports EOF, and so before the store commits the layer.
type drainAtEOF struct {
	r, blob io.Reader
}

func (d drainAtEOF) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == io.EOF {
		if _, derr := io.Copy(io.Discard, d.blob); derr != nil {
			return n, derr
		}
	}
	return n, err
}

// applyLayer stores the compressed blob as layer l: decompressed once,
// checked entry by entry and against its diff ID on the way into the store.
// created is false when a concurrent pull stored it first.
func applyLayer(ctx context.Context, s *store.Store, l store.LayerInfo, blob io.Reader) (created bool, err error) {
	blob = transfer.WithContext(ctx, blob)
	tarStream, closeZ, err := transfer.Decompress(blob)
	if err != nil {
		return false, &BlobError{Digest: l.Compressed, Err: err}
	}
	defer closeZ()
	chk := newLimitedChecker(drainAtEOF{tarStream, blob}, l.DiffID, l.Size)
	// Here containers/storage unpacks (sparse.go's re-encoding is for
	// staged layers), and its extractor fails on the old GNU sparse type
	// with two lines of its own.
	chk.noGNU = true
	created, err = s.PutLayer(l, chk)
	if err == nil {
		// containers/storage may stop at the end-of-archive marker: the
		// diff ID covers the padding after it too.
		err = chk.Finish()
		if err != nil && created {
			_ = s.DeleteLayer(l.ChainID)
			created = false
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return created, ctx.Err()
		}
		// The checker's own failure is the cause worth showing, not the
		// store's wrapping of it.
		if chk.err != nil && chk.err != io.EOF {
			return created, chk.err
		}
		return created, err
	}
	return created, nil
}

// applyStream is applyLayer straight from the registry.
func applyStream(ctx context.Context, s *store.Store, img v1.Image, l store.LayerInfo, p progress) (bool, error) {
	rc, err := openBlob(img, l)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	src := &blobReader{r: &countingReader{rc, p.Start(l.Compressed, l.Size)}, d: l.Compressed}
	created, err := applyLayer(ctx, s, l, src)
	if err != nil && ctx.Err() == nil {
		if bad := src.verdict(); bad != nil {
			return created, bad
		}
	}
	return created, err
}

// applyFile is applyLayer from a downloaded blob, removed afterwards.
func applyFile(ctx context.Context, s *store.Store, l store.LayerInfo, blobPath string) (bool, error) {
	defer os.Remove(blobPath)
	f, err := os.Open(blobPath)
	if err != nil {
		return false, fmt.Errorf("reading the downloaded layer %s: %w", blobPath, err)
	}
	defer f.Close()
	return applyLayer(ctx, s, l, f)
}
