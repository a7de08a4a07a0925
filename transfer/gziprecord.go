package transfer

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"husk/store"
)

// gzipForm names how husk gzips a layer (blockGzip): 1 MiB blocks, those
// that sample as incompressible stored. The same tar always gzips to the
// same bytes in this form, so a digest recorded once holds for every later
// push of that tar; a change to blockGzip's output needs a new name.
const gzipForm = "blockgz-1m-s8"

// gzipRecord remembers, per layer tar (its diffID), the digest and size
// of its gzip in gzipForm: one small file each, written whole and renamed
// into place, so that processes pushing at once never see half of one. A
// lost or stale entry costs a layer sent again, nothing more.
type gzipRecord struct{ dir string }

func newGzipRecord(s *store.Store) *gzipRecord {
	return &gzipRecord{dir: filepath.Join(s.GraphRoot(), "husk-gzip", gzipForm)}
}

func (r *gzipRecord) path(diffID v1.Hash) string {
	return filepath.Join(r.dir, diffID.Algorithm+"-"+diffID.Hex)
}

// get is the recorded gzip of the tar diffID, if any.
func (r *gzipRecord) get(diffID v1.Hash) (digest v1.Hash, size int64, ok bool) {
	b, err := os.ReadFile(r.path(diffID))
	if err != nil {
		return v1.Hash{}, 0, false
	}
	var d string
	if _, err := fmt.Sscanf(string(b), "%s %d\n", &d, &size); err != nil {
		return v1.Hash{}, 0, false
	}
	if digest, err = v1.NewHash(d); err != nil || size <= 0 {
		return v1.Hash{}, 0, false
	}
	return digest, size, true
}

// put records a gzip; failing to is no error (the next push sends the
// layer again).
func (r *gzipRecord) put(diffID, digest v1.Hash, size int64) {
	if os.MkdirAll(r.dir, 0o700) != nil {
		return
	}
	f, err := os.CreateTemp(r.dir, ".new-")
	if err != nil {
		return
	}
	_, err = fmt.Fprintf(f, "%s %d\n", digest, size)
	if cerr := f.Close(); err != nil || cerr != nil || os.Rename(f.Name(), r.path(diffID)) != nil {
		os.Remove(f.Name())
	}
}

func (r *gzipRecord) drop(diffID v1.Hash) { os.Remove(r.path(diffID)) }
