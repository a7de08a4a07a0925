package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// publishedMarker, in a generation, says it was complete when published.
// A generation without it was left by a killed publish and is removed.
const publishedMarker = ".husk-published"

// Publish puts img, with its names, into the read-only store dir that
// others name in HUSK_IMAGE_STORES.
//
// Why it is atomic: dir is a symbolic link to a generation, a complete
// containers/storage store beside it (.NAME.gen-XXXX). A publish builds a
// new generation from the current one's images plus img, makes it readable
// to all, syncs it, marks it complete, and only then replaces the link
// with rename(2), which is atomic: a reader resolves dir to the old
// generation or the new one, never to a half-built one, and a publish
// killed at any moment before the rename leaves the link, and so the
// store, as it was. Generations are never changed after the rename. A name
// that another image in the store holds moves to img (as a pull does), so
// one name never means two images. Publishers of one store take turns on
// a lock file beside it. Earlier generations stay, for jobs that still
// run from them; remove them by hand when none does.
func (s *Store) Publish(img *storage.Image, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	unlock, err := lockFile(filepath.Join(parent, "."+base+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := currentGeneration(dir)
	if err != nil {
		return err
	}
	removePartial(parent, base, cur)
	gen, err := os.MkdirTemp(parent, "."+base+".gen-")
	if err != nil {
		return fmt.Errorf("publishing to %s: %w: the directory above it must be writable by you", dir, annotateDisk(err, parent))
	}
	if err := s.fill(gen, cur, img); err != nil {
		os.RemoveAll(gen)
		return fmt.Errorf("publishing to %s: %w", dir, annotateDisk(err, parent))
	}
	return swapLink(dir, gen)
}

// fill builds generation gen: the images of generation cur, then img.
func (s *Store) fill(gen, cur string, img *storage.Image) error {
	dst, closeDst, err := s.openGeneration(gen, "")
	if err != nil {
		return err
	}
	defer closeDst()
	if cur != "" {
		old, closeOld, err := s.openGeneration("", cur)
		if err != nil {
			return err
		}
		defer closeOld()
		imgs, err := old.Images()
		if err != nil {
			return fmt.Errorf("reading the store's images: %w", err)
		}
		for i := range imgs {
			if err := copyImage(old, dst, &imgs[i]); err != nil {
				return err
			}
		}
	}
	if err := copyImage(s.Store, dst, img); err != nil {
		return err
	}
	if _, err := dst.Shutdown(true); err != nil {
		return fmt.Errorf("closing the new store: %w", err)
	}
	if err := shareable(gen, s.GraphDriverName()); err != nil {
		return err
	}
	syscall.Sync()
	return os.WriteFile(filepath.Join(gen, publishedMarker), nil, 0o644)
}

// openGeneration opens a store with the user's driver: a new generation
// at graph (read-write), or, with graph "", an empty one whose only
// images are those of generation ro. Its run root is private and removed
// on close.
func (s *Store) openGeneration(graph, ro string) (storage.Store, func(), error) {
	run, err := os.MkdirTemp(s.RunRoot(), "publish-")
	if err != nil {
		return nil, nil, err
	}
	driver, opts, err := driverOptions(s.Strategy, s.Squashing)
	if err != nil {
		return nil, nil, err
	}
	if graph == "" {
		graph = filepath.Join(run, "graph")
		opts = append(opts, driver+".imagestore="+ro)
	}
	st, err := storage.GetStore(types.StoreOptions{RunRoot: filepath.Join(run, "run"), GraphRoot: graph,
		GraphDriverName: driver, GraphDriverOptions: opts})
	if err != nil {
		os.RemoveAll(run)
		return nil, nil, fmt.Errorf("opening a store at %s: %w", graph, err)
	}
	return st, func() { _, _ = st.Shutdown(true); os.RemoveAll(run) }, nil
}

// copyImage copies img's layers (those dst lacks), metadata and names from
// src to dst; names that dst gives another image move to img.
func copyImage(src, dst storage.Store, img *storage.Image) error {
	if err := copyLayers(src, dst, img.TopLayer); err != nil {
		return err
	}
	if _, err := dst.Image(img.ID); err != nil {
		opts := &storage.ImageOptions{CreationDate: img.Created, Digest: img.Digest, Digests: img.Digests}
		keys, err := src.ListImageBigData(img.ID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			data, err := src.ImageBigData(img.ID, k)
			if err != nil {
				return err
			}
			d, _ := src.ImageBigDataDigest(img.ID, k)
			opts.BigData = append(opts.BigData, storage.ImageBigDataOption{Key: k, Data: data, Digest: d})
		}
		if _, err := dst.CreateImage(img.ID, nil, img.TopLayer, img.Metadata, opts); err != nil {
			return fmt.Errorf("adding image %.12s: %w", img.ID, err)
		}
	}
	for _, n := range img.Names {
		if other, err := dst.Image(n); err == nil && other.ID != img.ID {
			if err := dst.RemoveNames(other.ID, []string{n}); err != nil {
				return err
			}
		}
	}
	return dst.AddNames(img.ID, img.Names)
}

// copyLayers copies layer id and its parents, bottom first, as tar diffs.
func copyLayers(src, dst storage.Store, id string) error {
	if id == "" {
		return nil
	}
	if _, err := dst.Layer(id); err == nil {
		return nil
	}
	l, err := src.Layer(id)
	if err != nil {
		return fmt.Errorf("reading layer %.12s: %w", id, err)
	}
	if err := copyLayers(src, dst, l.Parent); err != nil {
		return err
	}
	diff, err := src.Diff("", id, nil)
	if err != nil {
		return fmt.Errorf("reading layer %.12s: %w", id, err)
	}
	defer diff.Close()
	if _, _, err := dst.PutLayer(id, l.Parent, nil, "", false, nil, diff); err != nil {
		return fmt.Errorf("writing layer %.12s: %w", id, err)
	}
	return nil
}

// shareable makes the store's own files readable by every user; the
// layers' contents keep the modes the image gives them.
func shareable(gen, driver string) error {
	return filepath.Walk(gen, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(gen, p)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) >= 3 && (driver == "overlay" && parts[0] == "overlay" && parts[2] == "diff" ||
			driver == "vfs" && parts[0] == "vfs" && parts[1] == "dir") {
			return filepath.SkipDir
		}
		switch {
		case fi.IsDir():
			return os.Chmod(p, fi.Mode().Perm()|0o755)
		case fi.Mode().IsRegular():
			return os.Chmod(p, fi.Mode().Perm()|0o644)
		}
		return nil
	})
}

// currentGeneration is the generation dir links to, "" for a new store.
func currentGeneration(dir string) (string, error) {
	target, err := os.Readlink(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("publishing to %s: it exists and was not made by husk image publish: choose a new path", dir)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(dir), target)
	}
	return target, nil
}

// removePartial removes generations that killed publishes left.
func removePartial(parent, base, cur string) {
	gens, _ := filepath.Glob(filepath.Join(parent, "."+base+".gen-*"))
	for _, g := range gens {
		if _, err := os.Stat(filepath.Join(g, publishedMarker)); err != nil && g != cur {
			os.RemoveAll(g)
		}
	}
}

// swapLink points dir at gen by renaming a new link over it.
func swapLink(dir, gen string) error {
	tmp := gen + ".link"
	if err := os.Symlink(filepath.Base(gen), tmp); err != nil {
		return fmt.Errorf("publishing to %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("publishing to %s: %w", dir, err)
	}
	return nil
}

// lockFile takes an exclusive lock on path, waiting for other holders.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w: the directory must be writable by you", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
