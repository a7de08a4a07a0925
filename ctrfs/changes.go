package ctrfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"husk/fuse"
	"husk/store"
	"husk/store/container"
)

// Changes are the paths container c added, changed and deleted over its
// image, sorted: containers/storage compares its upper layer (overlay
// whiteouts and opaque directories read as deletions) or its vfs copy
// with the image.
func Changes(s *store.Store, c *container.Container) ([]archive.Change, error) {
	img, err := Image(s, c)
	if err != nil {
		return nil, err
	}
	var out []archive.Change
	if s.Strategy == fuse.VFS {
		cc, err := s.Container(c.ID)
		if err != nil {
			return nil, nil // never started: no copy, no changes
		}
		out, err = s.Store.Changes("", cc.LayerID)
	} else {
		if _, serr := os.Stat(upperOf(c)); serr != nil {
			return nil, nil // never started: no upper layer, no changes
		}
		var lower []string
		if lower, err = s.LowerDirs(img); err == nil {
			out, err = archive.OverlayChanges(lower, upperOf(c))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("comparing container %s with its image: %w", c.Name, err)
	}
	out = withoutStartMounts(out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// vfsDiff is the diff of the container's vfs copy (made now if it never
// started) against its image, as containers/storage computes it. The
// copy is unmounted once the diff is read: the reader holds the store's
// layer lock until it is closed.
func vfsDiff(s *store.Store, img *storage.Image, c *container.Container) (io.ReadCloser, error) {
	if _, err := s.ContainerRoot(img, c.ID); err != nil {
		return nil, err
	}
	cc, err := s.Container(c.ID)
	if err != nil {
		return nil, err
	}
	plain := archive.Uncompressed
	rc, err := s.Diff("", cc.LayerID, &storage.DiffOptions{Compression: &plain})
	if err != nil {
		_, _ = s.Unmount(c.ID, false)
		return nil, err
	}
	return &unmountOnClose{ReadCloser: rc, unmount: func() { _, _ = s.Unmount(c.ID, false) }}, nil
}

type unmountOnClose struct {
	io.ReadCloser
	unmount func()
}

func (u *unmountOnClose) Close() error {
	err := u.ReadCloser.Close()
	u.unmount()
	return err
}

func upperOf(c *container.Container) string { return filepath.Join(c.Dir(), "upper") }

// WriteChanges writes container c's changes over its image as a layer's
// tar, with OCI whiteouts for what it deleted, to w.
func WriteChanges(s *store.Store, c *container.Container, w io.Writer) error {
	img, err := Image(s, c)
	if err != nil {
		return err
	}
	var rc io.ReadCloser
	switch {
	case s.Strategy == fuse.VFS:
		rc, err = vfsDiff(s, img, c)
	default:
		if err := os.MkdirAll(upperOf(c), 0o755); err != nil {
			return err
		}
		var lower []string
		if lower, err = s.LowerDirs(img); err == nil {
			// The lower layers tell a directory deleted and made again
			// (opaque) from one only made here.
			rc, err = archive.TarWithOptions(upperOf(c), &archive.TarOptions{
				Compression: archive.Uncompressed, WhiteoutFormat: archive.OverlayWhiteoutFormat, WhiteoutData: lower,
			})
		}
	}
	if err != nil {
		return fmt.Errorf("reading the changes of container %s: %w", c.Name, err)
	}
	defer rc.Close()
	if err := copyWithoutStartMounts(w, rc); err != nil {
		return fmt.Errorf("reading the changes of container %s: %w", c.Name, err)
	}
	return nil
}
