package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/lockfile"

	"husk/fuse"
)

// StoredImage is an image's record with its manifest (as pulled; nil when
// it has none) and its config.
type StoredImage struct {
	storage.Image
	Manifest, Config []byte
}

// errNotOnHost is a store whose images the host cannot read alone.
var errNotOnHost = errors.New("the store's images are read in the user namespace")

// ImagesOnHost reads, on the host, the images of the user's store that
// keep accepts, with their manifests and configs: what a push needs of an
// image, without opening containers/storage, which must run in husk's user
// namespace (entering it, the mapping and the store's locks are most of a
// push's fixed cost). The files are the user's own; the image list is read
// under containers/storage's own read lock of it, in the records' own
// type, so a pull or rmi running meanwhile is seen whole or not at all.
//
// It fails (and the caller opens the store in the namespace) when the
// store has no recorded driver, a forced driver differs from it, or
// read-only stores (HUSK_IMAGE_STORES) hold images beside it.
func ImagesOnHost(forced string, keep func(*storage.Image) bool) ([]StoredImage, error) {
	if os.Getenv(EnvImageStores) != "" {
		return nil, errNotOnHost
	}
	_, graphroot, _, err := Paths()
	if err != nil {
		return nil, err
	}
	strategy, err := fuse.Recorded(graphroot)
	if err != nil {
		return nil, err
	}
	if strategy == "" {
		return nil, errNotOnHost
	}
	if forced != "" {
		if s, err := fuse.Parse(forced); err != nil || s != strategy {
			return nil, errNotOnHost
		}
	}
	dir := filepath.Join(graphroot, driverName(strategy)+"-images")
	if _, err := os.Stat(filepath.Join(dir, "images.json")); err != nil {
		return nil, err // no image yet: nothing made here
	}
	// The read-write kind of containers/storage's lock: it keeps one lock
	// per path in a process, and the store opened after this (as real
	// root, or when the push needs the layers) asks for that kind.
	lock, err := lockfile.GetLockFile(filepath.Join(dir, "images.lock"))
	if err != nil {
		return nil, err
	}
	lock.RLock()
	defer lock.Unlock()
	b, err := os.ReadFile(filepath.Join(dir, "images.json"))
	if err != nil {
		return nil, err
	}
	var all []storage.Image
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, "images.json"), err)
	}
	var out []StoredImage
	for i := range all {
		if !keep(&all[i]) {
			continue
		}
		si := StoredImage{Image: all[i]}
		si.Manifest, err = os.ReadFile(bigDataPath(dir, si.ID, ManifestKey))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if si.Config, err = os.ReadFile(bigDataPath(dir, si.ID, ConfigKey(si.ID))); err != nil {
			return nil, err
		}
		out = append(out, si)
	}
	return out, nil
}

// driverName is the containers/storage driver a strategy uses.
func driverName(s fuse.Strategy) string {
	if s == fuse.VFS {
		return "vfs"
	}
	return "overlay"
}

// bigDataPath is where containers/storage keeps an image's big-data item
// key (its makeBigDataBaseName): the key itself when it is made of
// lowercase letters, digits and dots, else "=" and its base64.
func bigDataPath(dir, id, key string) string {
	base := key
	if strings.TrimFunc(key, func(r rune) bool { return r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') }) != "" {
		base = "=" + base64.StdEncoding.EncodeToString([]byte(key))
	}
	return filepath.Join(dir, id, base)
}
