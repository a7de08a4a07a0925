package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	storage "go.podman.io/storage"

	"husk/fuse"
)

// LowerDirs are the directories of an image's layers, top first, for an
// overlay mount of its root (native overlay or fuse-overlayfs). They are
// the overlay driver's short links, so that many layers still fit in the
// one page the kernel allows for mount options.
func (s *Store) LowerDirs(img *storage.Image) ([]string, error) {
	base := filepath.Join(s.GraphRoot(), "overlay")
	var dirs []string
	for id := img.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("reading layer %.12s of image %.12s: %w: pull the image again", id, img.ID, err)
		}
		dirs = append(dirs, layerDir(base, id))
		id = l.Parent
	}
	if len(dirs) == 0 {
		// An image with no layers: overlay wants one lower directory.
		empty := filepath.Join(base, "empty-lower")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		dirs = append(dirs, empty)
	}
	return dirs, nil
}

func layerDir(base, id string) string {
	if link, err := os.ReadFile(filepath.Join(base, id, "link")); err == nil {
		if l := strings.TrimSpace(string(link)); l != "" {
			return filepath.Join(base, "l", l)
		}
	}
	return filepath.Join(base, id, "diff")
}

// CopyRoot makes a writable copy of an image's root for the vfs strategy
// (a containers/storage container) and returns its directory and ID, for
// RemoveCopy afterwards.
func (s *Store) CopyRoot(img *storage.Image) (dir, id string, err error) {
	if s.Strategy != fuse.VFS {
		return "", "", fmt.Errorf("copying a root: the store uses %s, not vfs", s.Strategy)
	}
	c, err := s.CreateContainer("", nil, img.ID, "", "", nil)
	if err != nil {
		return "", "", fmt.Errorf("copying the root of image %.12s: %w", img.ID, annotateDisk(err, s.GraphRoot()))
	}
	dir, err = s.Mount(c.ID, "")
	if err != nil {
		_ = s.DeleteContainer(c.ID)
		return "", "", fmt.Errorf("mounting the copy of image %.12s: %w", img.ID, err)
	}
	return dir, c.ID, nil
}

// RemoveCopy removes a copy that CopyRoot made.
func (s *Store) RemoveCopy(id string) error {
	_, _ = s.Unmount(id, true)
	if err := s.DeleteContainer(id); err != nil {
		return fmt.Errorf("removing the sandbox copy %.12s: %w", id, err)
	}
	return nil
}
