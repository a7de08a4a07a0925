package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"

	"husk/store"
	"husk/transfer"
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

// openBlob starts the download of layer l's blob. go-containerregistry
// checks its size and digest while it streams and fails the read at its
// end if they are wrong.
func openBlob(img v1.Image, l store.LayerInfo) (io.ReadCloser, error) {
	h, err := v1.NewHash(l.Compressed.String())
	if err != nil {
		return nil, &BlobError{Digest: l.Compressed, Err: err}
	}
	rl, err := img.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	rc, err := rl.Compressed()
	if err != nil {
		return nil, blobErr(l.Compressed, err)
	}
	return rc, nil
}

// download writes a layer blob to a new file in dir.
func download(ctx context.Context, rc io.Reader, d digest.Digest, dir string, count func(int64)) (string, error) {
	f, err := os.CreateTemp(dir, "blob-*")
	if err != nil {
		return "", fmt.Errorf("creating a download file in %s: %w", dir, err)
	}
	_, err = io.CopyBuffer(f, &countingReader{transfer.WithContext(ctx, rc), count}, make([]byte, 256<<10))
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

// blobReader is a blob streaming from the registry: its failures (a digest
// or size that does not match, a connection cut) become BlobErrors.
type blobReader struct {
	r io.Reader
	d digest.Digest
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = blobErr(b.d, err)
	}
	return n, err
}

// verdict reads what is left of the blob and reports whether the blob
// itself is bad: the cause worth showing when its content failed to apply
// (a corrupted blob rarely even decompresses).
func (b *blobReader) verdict() error {
	_, err := io.Copy(io.Discard, b)
	var be *BlobError
	if errors.As(err, &be) {
		return err
	}
	return nil
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
