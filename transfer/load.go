package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"husk/store"
)

// Named is one image of an archive and the names it carries there.
type Named struct {
	Image v1.Image
	Names []string // normalized; none for an image the archive names not
}

// Archive is an opened docker-archive, oci-archive or OCI layout.
type Archive struct {
	Images []Named
	dir    string // the work directory: a decompressed or extracted copy
}

// Close removes the work directory.
func (a *Archive) Close() {
	if a.dir != "" {
		os.RemoveAll(a.dir)
	}
}

// ArchiveError is an archive that cannot be read as one: truncated,
// corrupt, or of no known kind.
type ArchiveError struct {
	Source string
	Err    error
}

func (e *ArchiveError) Error() string {
	return fmt.Sprintf("the archive %s is damaged or not an image archive (%v): make it again with husk save, docker save or podman save", e.Source, e.Err)
}
func (e *ArchiveError) Unwrap() error { return e.Err }

// Open reads path (a file or an OCI layout directory; "" for in) as an
// image archive, gzip or zstd compressed or not. A compressed archive, or
// one from a pipe, is copied into a work directory in the store first:
// the readers need to seek.
func Open(ctx context.Context, s *store.Store, path string, in io.Reader) (*Archive, error) {
	source := path
	if path == "" {
		source = "from stdin"
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		imgs, err := openLayout(path, source)
		return &Archive{Images: imgs}, err
	}
	dir, err := s.TempDir("load-")
	if err != nil {
		return nil, fmt.Errorf("creating a work directory in %s: %w", s.GraphRoot(), err)
	}
	a := &Archive{dir: dir}
	if err := a.open(ctx, path, source, in); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *Archive) open(ctx context.Context, path, source string, in io.Reader) error {
	file, err := a.plainTar(ctx, path, source, in)
	if err != nil {
		return err
	}
	kind, err := kindOf(file)
	if err != nil {
		return &ArchiveError{source, err}
	}
	switch kind {
	case "docker":
		a.Images, err = openDocker(file, source)
	case "oci":
		layout := filepath.Join(a.dir, "layout")
		if err = extract(ctx, file, layout); err == nil {
			a.Images, err = openLayout(layout, source)
		}
	}
	return err
}

// plainTar is the archive as an uncompressed tar file: path itself when
// it is one, else a copy in the work directory.
func (a *Archive) plainTar(ctx context.Context, path, source string, in io.Reader) (string, error) {
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("reading the archive %s: %w: check the path", path, err)
		}
		defer f.Close()
		if isTar(f) {
			return path, nil
		}
		in = f
	}
	r, done, err := Decompress(in)
	if err != nil {
		return "", &ArchiveError{source, err}
	}
	defer done()
	out := filepath.Join(a.dir, "archive.tar")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.CopyBuffer(f, ctxReader{ctx, r}, make([]byte, 256<<10)); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if store.IsDiskFull(err) {
			return "", store.AnnotateDisk(err, a.dir)
		}
		return "", &ArchiveError{source, err}
	}
	return out, f.Close()
}

// isTar: neither gzip nor zstd magic at the start (and the file is left
// at its start again).
func isTar(f *os.File) bool {
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	_, _ = f.Seek(0, io.SeekStart)
	magic = magic[:n]
	return !bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) && !bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd})
}

// kindOf reads the tar's entries: a docker-archive has manifest.json, an
// OCI archive oci-layout. Reading every header finds a truncated archive
// before anything is stored.
func kindOf(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	docker, oci := false, false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		switch filepath.Clean(h.Name) {
		case "manifest.json":
			docker = true
		case "oci-layout":
			oci = true
		}
	}
	switch {
	case docker: // Docker 25's save writes both; manifest.json carries the names
		return "docker", nil
	case oci:
		return "oci", nil
	}
	return "", errors.New("it has neither manifest.json nor oci-layout")
}

// openDocker reads a docker-archive's images (docker save, podman save).
func openDocker(file, source string) ([]Named, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, &ArchiveError{source, err}
	}
	var out []Named
	for _, d := range m {
		var tag *name.Tag
		var names []string
		for _, t := range d.RepoTags {
			n := store.NormalizeName(t)
			if n == "" {
				return nil, &ArchiveError{source, fmt.Errorf("the name %q is not an image name", t)}
			}
			names = append(names, n)
		}
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, &ArchiveError{source, err}
			}
			tag = &t
		} else if len(m) > 1 {
			return nil, &ArchiveError{source, errors.New("it holds several images and one has no name")}
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, &ArchiveError{source, err}
		}
		if img, err = asTars(img); err != nil {
			return nil, &ArchiveError{source, err}
		}
		out = append(out, Named{Image: img, Names: names})
	}
	return out, nil
}
