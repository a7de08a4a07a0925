package build

import (
	"archive/tar"
	"fmt"
	"os"

	"go.podman.io/storage/pkg/archive"
)

// isArchive: ADD extracts a local tar, plain or compressed (gzip, bzip2,
// xz, zstd), and copies anything else as it is.
func isArchive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := archive.DecompressStream(f)
	if err != nil {
		return false
	}
	defer r.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil
}

// extract unpacks the archive at src into the directory dest of the
// image, with containers/storage's extractor (no entry leaves dest).
func (w *writer) extract(src, dest string) error {
	dir, err := w.mkdirs(dest + "/.")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	// Owners beyond what the user namespace maps stay ours, as in the store.
	if err := archive.Untar(f, dir, &archive.TarOptions{IgnoreChownErrors: true}); err != nil {
		return fmt.Errorf("extracting %s into %s: %w", src, dest, err)
	}
	return nil
}
