package transfer

import (
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
)

// asTars presents an image whose blobs are not at hand as stored (a
// docker-archive names its layers by file, not digest) with each layer's
// tar as its blob: its digest is the diff ID the config names, so the
// store checks every layer against the config while it unpacks it, and
// nothing is compressed only to be decompressed again.
func asTars(img v1.Image) (v1.Image, error) {
	return partial.CompressedToImage(&tarsImage{img: img})
}

type tarsImage struct {
	img      v1.Image
	manifest []byte
}

func (t *tarsImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (t *tarsImage) RawConfigFile() ([]byte, error)      { return t.img.RawConfigFile() }

func (t *tarsImage) RawManifest() ([]byte, error) {
	if t.manifest != nil {
		return t.manifest, nil
	}
	raw, err := t.img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cfg, err := t.img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: v1.Descriptor{
		MediaType: types.DockerConfigJSON, Size: int64(len(raw)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: digest.FromBytes(raw).Encoded()},
	}, Layers: []v1.Descriptor{}}
	for _, d := range cfg.RootFS.DiffIDs {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerUncompressedLayer, Digest: d})
	}
	t.manifest, err = json.Marshal(m)
	return t.manifest, err
}

func (t *tarsImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, err := t.img.LayerByDiffID(h)
	if err != nil {
		return nil, fmt.Errorf("the archive has no layer %s: %w", h, err)
	}
	return &tarLayer{l: l, diffID: h}, nil
}

type tarLayer struct {
	l      v1.Layer
	diffID v1.Hash
}

func (l *tarLayer) Digest() (v1.Hash, error)            { return l.diffID, nil }
func (l *tarLayer) Size() (int64, error)                { return 0, nil }
func (l *tarLayer) MediaType() (types.MediaType, error) { return types.DockerUncompressedLayer, nil }
func (l *tarLayer) Compressed() (io.ReadCloser, error)  { return l.l.Uncompressed() }
