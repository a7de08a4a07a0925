package transfer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	digest "github.com/opencontainers/go-digest"

	"husk/store"
)

// Annotations that name an image in an OCI layout: containerd's (and
// Docker's) full name, and the OCI one, which tools fill with a full name
// or a bare tag.
const (
	annotationName = "io.containerd.image.name"
	annotationRef  = "org.opencontainers.image.ref.name"
)

// openLayout reads the images an OCI layout's index lists: an index
// within it gives its image for this host's platform.
func openLayout(dir, source string) ([]Named, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, &ArchiveError{source, err}
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, &ArchiveError{source, err}
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, &ArchiveError{source, err}
	}
	var out []Named
	for _, d := range im.Manifests {
		img, err := layoutImage(idx, d)
		if err == nil {
			err = checkConfig(img)
		}
		if err != nil {
			return nil, &ArchiveError{source, err}
		}
		if img != nil {
			out = append(out, Named{Image: img, Names: layoutNames(d.Annotations)})
		}
	}
	if len(out) == 0 {
		return nil, &ArchiveError{source, errors.New("its index lists no image")}
	}
	return out, nil
}

func layoutImage(idx v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	switch {
	case d.MediaType.IsImage():
		return idx.Image(d.Digest)
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, c := range cm.Manifests {
			if c.Platform != nil && c.Platform.OS == "linux" && c.Platform.Architecture == runtime.GOARCH && c.MediaType.IsImage() {
				return child.Image(c.Digest)
			}
		}
		return nil, fmt.Errorf("no image for linux/%s in its index %s", runtime.GOARCH, d.Digest)
	}
	return nil, nil // neither: an attestation or the like
}

// checkConfig: a layout's blobs are read as they are; the config, which
// is the image's ID, must be the one the manifest names.
func checkConfig(img v1.Image) error {
	if img == nil {
		return nil
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if got := digest.FromBytes(raw).String(); got != m.Config.Digest.String() {
		return fmt.Errorf("the config blob has digest %s, the manifest says %s", got, m.Config.Digest)
	}
	return nil
}

// layoutNames is the full name an index entry carries, if any: a bare
// tag names no repository.
func layoutNames(a map[string]string) []string {
	for _, k := range []string{annotationName, annotationRef} {
		if v := a[k]; strings.ContainsAny(v, "/:@") {
			if n := store.NormalizeName(v); n != "" {
				return []string{n}
			}
		}
	}
	return nil
}

// extract unpacks an OCI archive into dir. It takes only directories and
// regular files, and no name that leaves dir: a layout has nothing else.
func extract(ctx context.Context, file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &ArchiveError{file, err}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := extractOne(tr, h, dir); err != nil {
			return err
		}
	}
}

func extractOne(tr *tar.Reader, h *tar.Header, dir string) error {
	clean := filepath.Clean(h.Name)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("refusing the archive: its entry %q reaches outside it: make it again with husk save or podman save", h.Name)
	}
	target := filepath.Join(dir, clean)
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(target, 0o700)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("extracting %s: %w", h.Name, store.AnnotateDisk(err, dir))
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return &ArchiveError{h.Name, store.AnnotateDisk(err, dir)}
		}
		return nil
	}
	return fmt.Errorf("refusing the archive: its entry %q is a %s, which an OCI layout never holds: make it again with husk save or podman save", h.Name, typeName(h.Typeflag))
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	}
	return "special file"
}
