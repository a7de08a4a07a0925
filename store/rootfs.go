package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/stringid"
	"golang.org/x/sys/unix"

	"husk/fuse"
)

// LowerDirs are the directories of an image's layers, top first, for an
// overlay mount of its root (native overlay or fuse-overlayfs). They are
// the overlay driver's short links, so that many layers still fit in the
// one page the kernel allows for mount options.
func (s *Store) LowerDirs(img *storage.Image) ([]string, error) {
	base := filepath.Join(s.GraphRoot(), "overlay")
	bases := overlayBases(base)
	var dirs []string
	for id := img.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("reading layer %.12s of image %.12s: %w: pull the image again", id, img.ID, err)
		}
		dir := layerDir(layerBase(bases, id), id)
		dirs = append(dirs, dir)
		if opaqueRoot(dir) {
			break // the layer hides every layer below it
		}
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

// opaqueRoot reports whether a layer's root is opaque (an OCI whiteout
// .wh..wh..opq at the top of its tar): overlay honours the mark on a
// directory below a layer's root, not on the root itself, so the layers
// under it are left out of the mount instead (issue 19's whiteouts of /).
func opaqueRoot(dir string) bool {
	buf := make([]byte, 1)
	for _, name := range []string{"user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"} {
		if n, err := unix.Getxattr(dir, name, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// overlayBases are the overlay directories that hold layers: the store's
// own, then those of the read-only stores (HUSK_IMAGE_STORES), each
// resolved once, so that one mount takes all its layers from one
// generation of a published store.
func overlayBases(own string) []string {
	bases := []string{own}
	stores, _, _ := splitStores()
	for _, st := range stores {
		if r, err := filepath.EvalSymlinks(st); err == nil {
			bases = append(bases, filepath.Join(r, "overlay"))
		}
	}
	return bases
}

// layerBase is the first of bases that holds layer id.
func layerBase(bases []string, id string) string {
	for _, b := range bases {
		if _, err := os.Lstat(filepath.Join(b, id)); err == nil {
			return b
		}
	}
	return bases[0]
}

func layerDir(base, id string) string {
	if link, err := os.ReadFile(filepath.Join(base, id, "link")); err == nil {
		if l := strings.TrimSpace(string(link)); l != "" {
			return filepath.Join(base, "l", l)
		}
	}
	return filepath.Join(base, id, "diff")
}

// copyMetadata marks the containers/storage containers that are vfs copies
// of running sandboxes.
const copyMetadata = "husk-copy"

// CopyRoot makes a writable copy of an image's root for the vfs strategy
// (a containers/storage container) under the ID id, and returns its
// directory, for RemoveCopy afterwards. The host side that starts the
// sandbox holds the copy in use (HoldInUse) before asking for it, and for
// the sandbox's life, so that a sweep never takes it from a live sandbox.
func (s *Store) CopyRoot(img *storage.Image, id string) (dir string, err error) {
	if s.Strategy != fuse.VFS {
		return "", fmt.Errorf("copying a root: the store uses %s, not vfs", s.Strategy)
	}
	if stringid.ValidateID(id) != nil {
		return "", fmt.Errorf("copying a root: %q is not a copy's ID: this is husk's own error", id)
	}
	s.sweepCopies()
	c, err := s.CreateContainer(id, nil, img.ID, "", copyMetadata, nil)
	if err != nil {
		return "", fmt.Errorf("copying the root of image %.12s: %w", img.ID, annotateDisk(err, s.GraphRoot()))
	}
	dir, err = s.Mount(c.ID, "")
	if err != nil {
		_ = s.DeleteContainer(c.ID)
		return "", fmt.Errorf("mounting the copy of image %.12s: %w", img.ID, err)
	}
	s.KeepHoles(dir, img.TopLayer)
	return dir, nil
}

// sweepCopies removes the copies of sandboxes that ended without their
// host side removing them (husk killed with SIGKILL): nobody holds them.
func (s *Store) sweepCopies() {
	cs, err := s.Containers()
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Metadata != copyMetadata {
			continue
		}
		unlock, err := s.lockForRemoval("copy-" + c.ID)
		if err != nil {
			continue // its sandbox still runs
		}
		err = s.removeCopy(c.ID)
		unlock(err == nil)
	}
}

// RemoveCopy removes a copy that CopyRoot made, once its sandbox has ended.
func (s *Store) RemoveCopy(id string) error {
	unlock, err := s.lockForRemoval("copy-" + id)
	if err != nil {
		return fmt.Errorf("removing the sandbox copy %.12s: its sandbox still runs", id)
	}
	err = s.removeCopy(id)
	unlock(err == nil)
	return err
}

func (s *Store) removeCopy(id string) error {
	_, _ = s.Unmount(id, true)
	if err := s.DeleteContainer(id); err != nil {
		return fmt.Errorf("removing the sandbox copy %.12s: %w", id, err)
	}
	return nil
}

// containerMetadata marks vfs copies that belong to a container record:
// they outlive each start and go with `husk rm`.
const containerMetadata = "husk-container"

// ContainerRoot is a container's own vfs copy of its image, made at its
// first start and reused at later ones, so that its files survive a
// restart as Docker's do.
func (s *Store) ContainerRoot(img *storage.Image, id string) (string, error) {
	if s.Strategy != fuse.VFS {
		return "", fmt.Errorf("copying a root: the store uses %s, not vfs", s.Strategy)
	}
	made := false
	if _, err := s.Container(id); err != nil {
		if _, err := s.CreateContainer(id, nil, img.ID, "", containerMetadata, nil); err != nil {
			return "", fmt.Errorf("copying the root of image %.12s: %w", img.ID, annotateDisk(err, s.GraphRoot()))
		}
		made = true
	}
	dir, err := s.Mount(id, "")
	if err != nil {
		return "", fmt.Errorf("mounting the copy of container %.12s: %w", id, err)
	}
	if made {
		s.KeepHoles(dir, img.TopLayer)
	}
	return dir, nil
}

// RemoveContainerRoot removes a container's vfs copy, if it has one.
func (s *Store) RemoveContainerRoot(id string) error {
	if _, err := s.Container(id); err != nil {
		return nil
	}
	return s.removeCopy(id)
}
