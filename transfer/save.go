package transfer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	storage "go.podman.io/storage"

	"husk/store"
)

// The forms husk save writes.
const (
	DockerArchive = "docker-archive"
	OCIArchive    = "oci-archive"
	OCIDir        = "oci-dir"
)

// SaveItem is one image to save, under Name ("" when it was asked for by
// ID: the archive then names it not, as Docker's does).
type SaveItem struct {
	Image *storage.Image
	Name  string
}

// Saver exports each image once, however many names it is saved under.
type Saver struct {
	s       *store.Store
	format  string
	exports map[string]*Exported
}

// NewSaver prepares a save in format; Close removes its work files.
func NewSaver(s *store.Store, format string) *Saver {
	return &Saver{s: s, format: format, exports: map[string]*Exported{}}
}

// Close removes the exported layers.
func (v *Saver) Close() {
	for _, e := range v.exports {
		e.Close()
	}
}

func (v *Saver) export(ctx context.Context, img *storage.Image) (*Exported, error) {
	if e, ok := v.exports[img.ID]; ok {
		return e, nil
	}
	// Plain tars, as docker save writes them: an archive is often
	// compressed whole, and loading needs no decompression.
	oci := v.format != DockerArchive
	e, ok, err := streamTars(ctx, v.s, img, oci)
	if err == nil && !ok {
		e, err = Export(ctx, v.s, img, Form{OCI: oci})
	}
	if err != nil {
		return nil, err
	}
	v.exports[img.ID] = e
	return e, nil
}

// WriteArchive writes a docker-archive or an oci-archive of items to w.
func (v *Saver) WriteArchive(ctx context.Context, items []SaveItem, w io.Writer) error {
	if v.format == OCIArchive {
		dir, err := v.s.TempDir("save-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := v.WriteLayout(ctx, items, filepath.Join(dir, "layout")); err != nil {
			return err
		}
		return tarDir(filepath.Join(dir, "layout"), w)
	}
	refs := map[name.Reference]v1.Image{}
	for _, it := range items {
		e, err := v.export(ctx, it.Image)
		if err != nil {
			return err
		}
		var ref name.Reference
		if it.Name != "" {
			ref, err = name.NewTag(it.Name)
		} else {
			// No tag: ggcr writes the image with no RepoTags.
			ref, err = name.NewDigest("untagged@sha256:" + it.Image.ID)
		}
		if err != nil {
			return err
		}
		refs[ref] = e
	}
	return tarball.MultiRefWrite(refs, w)
}

// WriteLayout writes an OCI layout of items into dir, which must not
// exist.
func (v *Saver) WriteLayout(ctx context.Context, items []SaveItem, dir string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, it := range items {
		e, err := v.export(ctx, it.Image)
		if err != nil {
			return err
		}
		var opts []layout.Option
		if it.Name != "" {
			tag := it.Name
			if t, err := name.NewTag(it.Name); err == nil {
				tag = t.TagStr()
			}
			// As Docker writes them: the full name, and the tag.
			opts = append(opts, layout.WithAnnotations(map[string]string{annotationName: it.Name, annotationRef: tag}))
		}
		if err := p.AppendImage(e, opts...); err != nil {
			return store.AnnotateDisk(err, dir)
		}
	}
	return nil
}

// tarDir writes the files under dir to w as a tar, in a stable order.
func tarDir(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), 0, 0, "", ""
		h.ModTime = h.ModTime.Truncate(1e9)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the archive: %w", err)
	}
	return tw.Close()
}
