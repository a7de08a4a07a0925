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

// stageLayer unpacks the compressed blob of layer l into a staging
// directory, decompressed once and checked entry by entry and against its
// diff ID on the way. Nothing reaches the store until Commit.
func stageLayer(ctx context.Context, s *store.Store, l store.LayerInfo, blob io.Reader) (*store.Staged, error) {
	blob = transfer.WithContext(ctx, blob)
	tarStream, closeZ, err := transfer.Decompress(blob)
	if err != nil {
		return nil, &BlobError{Digest: l.Compressed, Err: err}
	}
	defer closeZ()
	chk := newLimitedChecker(drainAtEOF{tarStream, blob}, l.DiffID, l.Size)
	st, err := s.Stage(l, chk)
	if err == nil {
		if err = chk.Finish(); err != nil {
			s.Discard(st)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The checker's own failure is the cause worth showing.
		if chk.err != nil && chk.err != io.EOF {
			return nil, chk.err
		}
		return nil, err
	}
	return st, nil
}

// stageStream is stageLayer straight from the registry.
func stageStream(ctx context.Context, s *store.Store, img v1.Image, l store.LayerInfo, p progress) (*store.Staged, error) {
	rc, err := openBlob(img, l)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	src := &blobReader{r: &countingReader{rc, p.Start(l.Compressed, l.Size)}, d: l.Compressed}
	st, err := stageLayer(ctx, s, l, src)
	if err != nil && ctx.Err() == nil {
		if bad := src.verdict(); bad != nil {
			return nil, bad
		}
	}
	return st, err
}

// stageFile is stageLayer from a downloaded blob, removed afterwards.
func stageFile(ctx context.Context, s *store.Store, l store.LayerInfo, blobPath string) (*store.Staged, error) {
	defer os.Remove(blobPath)
	f, err := os.Open(blobPath)
	if err != nil {
		return nil, fmt.Errorf("reading the downloaded layer %s: %w", blobPath, err)
	}
	defer f.Close()
	return stageLayer(ctx, s, l, f)
}

type stageResult struct {
	st  *store.Staged
	err error
}

// stageAll unpacks the missing layers two at a time, as their blobs
// arrive (the first from the network, the rest from downloads), and
// returns one channel per layer with its result. Layers do not depend on
// each other until they are committed, parent first.
func stageAll(ctx context.Context, s *store.Store, img v1.Image, missing []store.LayerInfo, downloads []chan downloaded, p progress) []chan stageResult {
	out := make([]chan stageResult, len(missing))
	for i := range out {
		out[i] = make(chan stageResult, 1)
	}
	slots := make(chan struct{}, 2)
	go func() {
		for i, l := range missing {
			slots <- struct{}{} // in layer order, so the next to commit goes first
			go func(i int, l store.LayerInfo) {
				defer func() { <-slots }()
				var r stageResult
				if i == 0 || downloads == nil { // the first, or a local blob
					r.st, r.err = stageStream(ctx, s, img, l, p)
				} else if d := <-downloads[i-1]; d.err != nil {
					r.err = d.err
				} else {
					r.st, r.err = stageFile(ctx, s, l, d.path)
				}
				out[i] <- r
			}(i, l)
		}
	}()
	return out
}
