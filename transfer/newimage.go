package transfer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"

	"husk/store"
)

// NewImage is an image made here of one layer over a base: `husk commit`
// (a container's changes over its image) and `husk import` (a tar alone).
type NewImage struct {
	Base    *storage.Image // nil for none
	Config  v1.ConfigFile  // the base's config with the changes made; its layers are added to
	History v1.History     // the entry for the new layer
	Names   []string       // normalized
}

// LayerFile is a layer's tar written to a work directory, with its digest.
type LayerFile struct {
	Path   string
	DiffID digest.Digest
	Size   int64
}

// WriteLayerFile copies a tar stream (decompressed, if it is gzip or
// zstd) to a file in dir, reading every header on the way: a truncated
// or corrupt tar, or an entry that climbs out of its root, is refused
// before anything is stored.
func WriteLayerFile(ctx context.Context, dir string, in io.Reader) (*LayerFile, error) {
	r, done, err := Decompress(in)
	if err != nil {
		return nil, err
	}
	defer done()
	p := dir + "/layer.tar"
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	hw := store.NewHoleWriter(f) // a sparse file's zeros stay holes in the tar
	cw := &countWriter{w: io.MultiWriter(hw, h)}
	if err := checkTar(io.TeeReader(ctxReader{ctx, r}, cw)); err != nil {
		return nil, store.AnnotateDisk(err, dir)
	}
	if err := hw.Close(); err != nil {
		return nil, store.AnnotateDisk(err, dir)
	}
	if err := f.Close(); err != nil {
		return nil, store.AnnotateDisk(err, dir)
	}
	return &LayerFile{Path: p, DiffID: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), Size: cw.n}, nil
}

// checkTar reads the whole tar (and the padding after it).
func checkTar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not a complete tar archive (%v)", err)
		}
		if n := path.Clean(h.Name); n == ".." || strings.HasPrefix(n, "../") {
			return fmt.Errorf("the entry %q climbs out of the archive's root", h.Name)
		}
		if h.Typeflag == tar.TypeLink && strings.HasPrefix(path.Clean(h.Linkname), "../") {
			return fmt.Errorf("the hard link %q points out of the archive's root (%s)", h.Name, h.Linkname)
		}
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

// StoreNewImage stores the layer over the base and records the image with
// its names, returning its ID. A failure leaves no image and no layer of
// its own.
func StoreNewImage(s *store.Store, n NewImage, l *LayerFile) (string, error) {
	parent := ""
	if n.Base != nil {
		parent = n.Base.TopLayer
	}
	chain := chainID(parent, l.DiffID)
	created := false
	if !s.HasLayer(chain) {
		f, err := os.Open(l.Path)
		if err != nil {
			return "", err
		}
		created, err = s.PutLayer(store.LayerInfo{ChainID: chain, Parent: parent, Compressed: l.DiffID, Size: l.Size, DiffID: l.DiffID}, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	id, err := recordImage(s, n, chain, l.DiffID)
	if err != nil && created {
		s.RemoveUnused([]string{chain})
	}
	return id, err
}

func recordImage(s *store.Store, n NewImage, top string, diffID digest.Digest) (string, error) {
	cfg := n.Config
	now := time.Now().UTC()
	cfg.Created = v1.Time{Time: now}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(append([]v1.Hash{}, cfg.RootFS.DiffIDs...), v1.Hash{Algorithm: "sha256", Hex: diffID.Encoded()})
	h := n.History
	h.Created = cfg.Created
	cfg.History = append(append([]v1.History{}, cfg.History...), h)
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	manifest, err := newManifest(s, raw, cfg.RootFS.DiffIDs, top)
	if err != nil {
		return "", err
	}
	id := digest.FromBytes(raw).Encoded()
	err = s.CommitImage(store.ImageRecord{
		ID: id, Names: n.Names, TopLayer: top, Manifest: manifest,
		ManifestDigest: digest.FromBytes(manifest), Config: raw, Created: now,
	})
	return id, err
}

// newManifest is a Docker schema 2 manifest naming the layers as
// uncompressed tars, as a build's are: push and save compress them.
func newManifest(s *store.Store, raw []byte, diffIDs []v1.Hash, top string) ([]byte, error) {
	var sizes []int64
	for id := top; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("reading layer %.12s: %w", id, err)
		}
		sizes = append([]int64{l.UncompressedSize}, sizes...)
		id = l.Parent
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: v1.Descriptor{
		MediaType: types.DockerConfigJSON, Size: int64(len(raw)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: digest.FromBytes(raw).Encoded()},
	}, Layers: []v1.Descriptor{}}
	for i, d := range diffIDs {
		var size int64
		if i < len(sizes) {
			size = sizes[i]
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerUncompressedLayer, Digest: d, Size: size})
	}
	return json.Marshal(m)
}

// chainID is the OCI chain ID of diffID over the layer parent: the
// layer's ID in the store, as pull and build name layers.
func chainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	sum := sha256.Sum256([]byte("sha256:" + parent + " " + diffID.String()))
	return hex.EncodeToString(sum[:])
}
