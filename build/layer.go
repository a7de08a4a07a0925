package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/stringid"

	"husk/store"
)

// emptyTar is the size of a tar with no entries: its two zero blocks.
const emptyTar = 1024

// layer is one layer of the image being built.
type layer struct {
	ID     string        // chain ID, the layer's ID in the store ("" for none)
	DiffID digest.Digest // digest of its uncompressed tar
	Size   int64         // size of that tar
}

// scratchRoot is a writable layer over parent, mounted: the root a step
// changes. Its changes become a layer with commit; drop removes it.
type scratchRoot struct {
	s      *store.Store
	id     string
	parent string
	Dir    string
}

func mountScratch(s *store.Store, parent string) (*scratchRoot, error) {
	id := stringid.GenerateRandomID()
	if _, err := s.CreateLayer(id, parent, nil, "", true, nil); err != nil {
		return nil, fmt.Errorf("creating a build layer over %.12s: %w", parent, store.AnnotateDisk(err, s.GraphRoot()))
	}
	dir, err := s.Mount(id, "")
	if err != nil {
		_ = s.DeleteLayer(id)
		return nil, fmt.Errorf("mounting a build layer over %.12s: %w", parent, err)
	}
	s.KeepHoles(dir, parent)
	return &scratchRoot{s: s, id: id, parent: parent, Dir: dir}, nil
}

// drop unmounts and removes the writable layer.
func (r *scratchRoot) drop() {
	_, _ = r.s.Unmount(r.id, true)
	_ = r.s.DeleteLayer(r.id)
}

// commit stores the changes made in the root as a layer of its own, with
// OCI whiteouts (containers/storage's diff of the writable layer), and
// returns it; a root with no changes gives no layer when keepEmpty is
// false. The layer's ID is its chain ID, so the same change on the same
// parent is stored once.
func (r *scratchRoot) commit(keepEmpty bool) (layer, error) {
	if _, err := r.s.Unmount(r.id, true); err != nil {
		return layer{}, fmt.Errorf("unmounting build layer %.12s: %w", r.id, err)
	}
	tmp, err := r.s.TempDir("build-")
	if err != nil {
		return layer{}, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "layer.tar")
	l, err := r.writeDiff(path)
	if err != nil || (l.Size <= emptyTar && !keepEmpty) {
		return layer{}, err
	}
	l.ID = chainID(r.parent, l.DiffID)
	if r.s.HasLayer(l.ID) {
		return l, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return layer{}, err
	}
	defer f.Close()
	_, err = r.s.PutLayer(store.LayerInfo{ChainID: l.ID, Parent: r.parent, Compressed: l.DiffID, Size: l.Size, DiffID: l.DiffID}, f)
	return l, err
}

func (r *scratchRoot) writeDiff(path string) (layer, error) {
	plain := archive.Uncompressed
	rc, err := r.s.Diff("", r.id, &storage.DiffOptions{Compression: &plain})
	if err != nil {
		return layer{}, fmt.Errorf("reading the changes of build layer %.12s: %w", r.id, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return layer{}, err
	}
	defer f.Close()
	h := sha256.New()
	hw := store.NewHoleWriter(f) // a sparse file's zeros stay holes in the tar
	n, err := io.Copy(io.MultiWriter(hw, h), rc)
	if err == nil {
		err = hw.Close()
	}
	if err != nil {
		return layer{}, fmt.Errorf("writing the changes of build layer %.12s: %w", r.id, store.AnnotateDisk(err, path))
	}
	return layer{DiffID: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), Size: n}, f.Close()
}

// chainID is the OCI chain ID of diffID over the layer parent.
func chainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	sum := sha256.Sum256([]byte("sha256:" + parent + " " + diffID.String()))
	return hex.EncodeToString(sum[:])
}
