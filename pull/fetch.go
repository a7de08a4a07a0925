package pull

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
)

// BlobError is a blob that is not what its digest says (corrupted in the
// registry or on the way), or that cannot be decompressed.
type BlobError struct {
	Digest digest.Digest
	Err    error
}

func (e *BlobError) Error() string {
	return fmt.Sprintf("blob %s is corrupted (%v): the registry holds a damaged copy: push the image again", e.Digest, e.Err)
}
func (e *BlobError) Unwrap() error { return e.Err }

// download writes a layer blob to a new file in dir. go-containerregistry
// checks the size and digest while streaming; its errors are turned into
// a BlobError here.
func download(ctx context.Context, l v1.Layer, d digest.Digest, dir string, count func(int64)) (string, error) {
	rc, err := l.Compressed()
	if err != nil {
		return "", blobErr(d, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "blob-*")
	if err != nil {
		return "", fmt.Errorf("creating a download file in %s: %w", dir, err)
	}
	_, err = io.CopyBuffer(f, &countingReader{ctxReader{ctx, rc}, count}, make([]byte, 256<<10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", blobErr(d, err)
	}
	return f.Name(), nil
}

// blobErr recognizes go-containerregistry's verification failures, which
// it reports as plain strings from an internal package.
func blobErr(d digest.Digest, err error) error {
	s := err.Error()
	for _, m := range []string{"error verifying", "does not match expected size", "unexpected EOF"} {
		if strings.Contains(s, m) {
			return &BlobError{Digest: d, Err: err}
		}
	}
	return fmt.Errorf("fetching blob %s: %w", d, err)
}

type countingReader struct {
	r     io.Reader
	count func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.count != nil {
		c.count(int64(n))
	}
	return n, err
}

// tempDir makes this pull's download directory inside the store, on the
// same file system as the layers (so a full disk shows here first, and
// /tmp, often a small tmpfs, is spared). It removes directories that
// pulls killed long ago left behind.
func tempDir(graphroot string) (string, error) {
	base := filepath.Join(graphroot, "husk-tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	if old, _ := os.ReadDir(base); len(old) > 0 {
		for _, e := range old {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	return os.MkdirTemp(base, "pull-")
}
