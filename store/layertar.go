package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	tarsplit "github.com/vbatts/tar-split/tar/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/lockfile"
)

// WriteLayerTar writes the tar of layer id to w, rebuilt as
// containers/storage's Diff rebuilds it: the layer's tar-split (every byte
// of the tar that is not file content) with the files' content read from
// the layer's directory, in order. Diff also sums each file with a CRC
// and compares it with the tar-split's, on a goroutine of its own behind
// a pipe; the caller here checks the digest of the whole tar instead, which
// finds whatever the CRCs would, so a save reads and sums each byte once.
//
// ok is false, with nothing written, where the layer has no tar-split in
// this store (a layer of a published store, or one stored without) or the
// driver hands out no files by name (vfs): the caller reads Diff then.
func (s *Store) WriteLayerTar(ctx context.Context, id string, w io.Writer) (ok bool, err error) {
	drv, err := s.GraphDriver()
	if err != nil {
		return false, nil
	}
	getter, isGetter := drv.(drivers.DiffGetterDriver)
	if !isGetter {
		return false, nil
	}
	// Where containers/storage keeps it: <graphroot>/<driver>-layers/<id>.tar-split.gz.
	dir := filepath.Join(s.GraphRoot(), drv.String()+"-layers")
	// Held as Diff holds it, until the tar is written: an rmi in another
	// process waits rather than removing the files being read.
	lock, err := lockfile.GetLockFile(filepath.Join(dir, "layers.lock"))
	if err != nil {
		return false, nil
	}
	lock.RLock()
	defer lock.Unlock()
	f, err := os.Open(filepath.Join(dir, id+".tar-split.gz"))
	if err != nil {
		return false, nil
	}
	defer f.Close()
	files, err := getter.DiffGetter(id)
	if err != nil || files == nil {
		return false, nil
	}
	defer files.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return true, fmt.Errorf("reading the tar-split of layer %.12s: %w", id, err)
	}
	defer zr.Close()
	entries := tarsplit.NewJSONUnpacker(zr)
	buf := make([]byte, 32<<10) // unused where w reads for itself (io.ReaderFrom)
	for {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		e, err := entries.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return true, fmt.Errorf("reading the tar-split of layer %.12s: %w", id, err)
		}
		switch e.Type {
		case tarsplit.SegmentType:
			if _, err := w.Write(e.Payload); err != nil {
				return true, err
			}
		case tarsplit.FileType:
			if e.Size == 0 {
				continue
			}
			if err := copyFile(files, e, w, buf); err != nil {
				return true, fmt.Errorf("reading %s of layer %.12s: %w: the store is damaged: pull the image again", e.GetName(), id, err)
			}
		}
	}
}

// copyFile writes the e.Size bytes of the file e names; a file of another
// size is an error here (Diff's CRC would fail it).
func copyFile(files drivers.FileGetCloser, e *tarsplit.Entry, w io.Writer, buf []byte) error {
	fh, err := files.Get(e.GetName())
	if err != nil {
		return err
	}
	defer fh.Close()
	n, err := io.CopyBuffer(w, io.LimitReader(fh, e.Size), buf)
	if err == nil && n < e.Size {
		err = fmt.Errorf("the file has %d bytes, the layer's tar-split %d", n, e.Size)
	}
	return err
}
