// Package ctrfs reaches a container's files from husk's user namespace:
// its root filesystem (the running container's own view, else its layers
// mounted here), copies in and out of it, its changes as a tar (commit)
// and as a list (diff).
package ctrfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	storage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"husk/fuse"
	"husk/squash"
	"husk/store"
	"husk/store/container"
)

// Root is a container's root filesystem as this process sees it.
type Root struct {
	Dir   string
	close func()
}

// Close unmounts what OpenRoot mounted.
func (r *Root) Close() {
	if r.close != nil {
		r.close()
		r.close = nil
	}
}

// Image is the image a container was made from.
func Image(s *store.Store, c *container.Container) (*storage.Image, error) {
	if squash.IsPath(c.Config.Image) {
		return nil, fmt.Errorf("container %s runs the squashfs file %s, whose changes live on its sandbox's tmpfs alone: "+
			"not supported for a squashfs file's container (copy files out with husk exec while it runs)", c.Name, c.Config.Image)
	}
	id := c.Config.ImageID
	if id == "" {
		id = c.Config.Image
	}
	img, err := s.Lookup(id)
	if err != nil {
		return nil, fmt.Errorf("the image %s of container %s: %w", c.Config.Image, c.Name, err)
	}
	return img, nil
}

// OpenRoot reaches container c's root, mounted here (in this process's
// mount namespace, gone with Close or with the process) from its image's
// layers and its upper layer, or its vfs copy: read-only unless write,
// its mounts (volumes, /proc) left out. Writing into a running container
// is refused here: a second writable mount of the upper layer its overlay
// uses would corrupt it. The host reaches its own root instead (LiveRoot),
// which is closed to husk's other processes.
func OpenRoot(s *store.Store, c *container.Container, write bool) (*Root, error) {
	if write && c.Live() {
		return nil, fmt.Errorf("container %s is running: copy into it from the host, not inside husk's namespace (husk unshare), or stop it first (husk stop %s)", c.Name, c.Name)
	}
	img, err := Image(s, c)
	if err != nil {
		return nil, err
	}
	if s.Strategy == fuse.VFS {
		dir, err := s.ContainerRoot(img, c.ID)
		if err != nil {
			return nil, err
		}
		return &Root{Dir: dir, close: func() { _, _ = s.Unmount(c.ID, true) }}, nil
	}
	return mountOverlay(s, img, c, write)
}

// mountOverlay mounts the container's overlay (the same lower and upper
// directories its starts use) on a directory of its own.
func mountOverlay(s *store.Store, img *storage.Image, c *container.Container, write bool) (*Root, error) {
	lower, err := s.LowerDirs(img)
	if err != nil {
		return nil, err
	}
	upper, work := filepath.Join(c.Dir(), "upper"), filepath.Join(c.Dir(), "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating the upper layer of container %s: %w", c.Name, err)
		}
	}
	dir, err := s.TempDir("root-")
	if err != nil {
		return nil, fmt.Errorf("creating a mount point in %s: %w", s.GraphRoot(), err)
	}
	// Read-only, the upper layer is the top lower one: a running
	// container's too, whose overlay keeps it as its own.
	data := fmt.Sprintf("lowerdir=%s", strings.Join(append([]string{upper}, lower...), ":"))
	flags := uintptr(unix.MS_RDONLY)
	if write {
		data = fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), upper, work)
		flags = 0
	}
	if s.Strategy == fuse.Overlay {
		err = unix.Mount("overlay", dir, "overlay", flags, data+",userxattr")
	} else {
		err = fuseMount(data, dir)
	}
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("mounting the root of container %s (%s): %w", c.Name, s.Strategy, err)
	}
	return &Root{Dir: dir, close: func() {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
	}}, nil
}

func fuseMount(data, dir string) error {
	prog, err := fuse.FuseOverlayfsPath()
	if err != nil {
		return err
	}
	out, err := exec.Command(prog, "-o", data, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", prog, err, strings.TrimSpace(string(out)))
	}
	return nil
}
