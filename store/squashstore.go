package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A squashfs store is the shared read-only store a network filesystem can
// hold: containers/storage's needs a symlink's times set (lutimes, which
// sshfs refuses), xattrs and other owners; this one is regular files only.

// SquashImage is an image of a squashfs store of HUSK_IMAGE_STORES.
type SquashImage struct {
	SquashEntry
	Store string
}

// Path is the image's squashfs file.
func (i *SquashImage) Path() string { return filepath.Join(i.Store, i.File) }

// splitStores divides HUSK_IMAGE_STORES into containers/storage's stores
// and squashfs stores (those holding an index).
func splitStores() (cs, sq []string, err error) {
	all, err := ImageStores()
	for _, d := range all {
		if IsSquashStore(d) {
			sq = append(sq, d)
		} else {
			cs = append(cs, d)
		}
	}
	return cs, sq, err
}

// SquashImages are the images of the squashfs stores, in the order of
// HUSK_IMAGE_STORES.
func SquashImages() ([]SquashImage, error) {
	_, sq, err := splitStores()
	if err != nil {
		return nil, err
	}
	var out []SquashImage
	for _, d := range sq {
		idx, err := ReadSquashIndex(d)
		if err != nil {
			return nil, err
		}
		for _, e := range idx {
			out = append(out, SquashImage{SquashEntry: e, Store: d})
		}
	}
	return out, nil
}

// FindSquash is the image ref names in the squashfs stores: by name (as
// given or completed as a pull completes it), else by its ID or an ID's
// prefix of at least 4 digits; nil when none holds it.
func FindSquash(ref string) (*SquashImage, error) {
	imgs, err := SquashImages()
	if err != nil || len(imgs) == 0 {
		return nil, err
	}
	norm := NormalizeName(ref)
	for i := range imgs {
		for _, n := range imgs[i].Names {
			if n == ref || n == norm {
				return &imgs[i], nil
			}
		}
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) < 4 || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, nil
	}
	for i := range imgs {
		if strings.HasPrefix(imgs[i].ID, id) {
			return &imgs[i], nil
		}
	}
	return nil, nil
}

// PublishSquash puts image id, under names, into the squashfs store dir,
// made if missing. squash writes the image's squashfs file to the path it
// is given by a temporary file renamed into place (squash.Write).
//
// Why it is atomic: the file is named by the image's ID and appears whole
// by that rename; the index names only whole files and is itself replaced
// by a rename (writeSquashIndex). A publish killed at any moment leaves
// the old index, which readers go by; a file of the ID left without an
// entry is whole and is taken up by the next publish. A name that another
// image holds moves to this one. Publishers on one node take turns on a
// lock file in the store; the lock is the node's own on a network
// filesystem, so publish to one store from one node at a time.
func PublishSquash(dir, id string, names []string, created time.Time, squash func(out string) error) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := squashStoreDir(dir); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(dir, ".husk-images.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	removeStaleTemps(dir)
	idx, err := ReadSquashIndex(dir)
	if err != nil {
		return err
	}
	file := id + ".sqsh"
	p := filepath.Join(dir, file)
	fi, err := os.Stat(p)
	if err != nil {
		if err := squash(p); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return fmt.Errorf("publishing to %s: %w", dir, err)
		}
		if fi, err = os.Stat(p); err != nil {
			return fmt.Errorf("publishing to %s: %w", dir, err)
		}
	}
	e := SquashEntry{ID: id, Names: names, Created: created, Size: fi.Size(), File: file}
	return writeSquashIndex(dir, withEntry(idx, e))
}

// squashStoreDir makes dir a squashfs store's directory, readable by all,
// unless it is something else already.
func squashStoreDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("publishing to %s: %w: the directory above it must be writable by you", dir, err)
		}
		return os.Chmod(dir, 0o755)
	case err != nil:
		return fmt.Errorf("publishing to %s: %w", dir, err)
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("publishing to %s: it is a store of the store format: publish there with --format store, or choose a new path", dir)
	case !fi.IsDir():
		return fmt.Errorf("publishing to %s: it is not a directory: choose a new path", dir)
	}
	if IsSquashStore(dir) {
		return nil
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		return fmt.Errorf("publishing to %s: it exists and was not made by husk image publish: choose a new path", dir)
	}
	return nil
}

// removeStaleTemps removes what killed publishes of this node left: a
// squashfs file's temporary (.ID.sqsh.husk-tmp-HOST-PID) whose process is
// gone, and an index's temporary older than a minute (it lives for
// milliseconds). Another node's temporary files are left alone.
func removeStaleTemps(dir string) {
	host, _ := os.Hostname()
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.husk-tmp-*"))
	for _, t := range tmps {
		base := filepath.Base(t)
		if strings.HasPrefix(base, "."+SquashIndex+".") {
			if fi, err := os.Stat(t); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(t)
			}
			continue
		}
		_, hp, _ := strings.Cut(base, ".husk-tmp-")
		i := strings.LastIndex(hp, "-")
		if i < 0 || hp[:i] != host {
			continue
		}
		if pid, err := strconv.Atoi(hp[i+1:]); err == nil && !PidRunning(pid) {
			os.Remove(t)
		}
	}
}
