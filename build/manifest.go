package build

import (
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
)

// manifest is the built image's ID (its config's digest) and a Docker
// schema 2 manifest naming its layers as uncompressed tars, as a loaded
// archive's are: push and save compress them again.
func (b *builder) manifest(raw []byte, st *stage) (string, []byte, error) {
	cd := digest.FromBytes(raw)
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: v1.Descriptor{
		MediaType: types.DockerConfigJSON, Size: int64(len(raw)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: cd.Encoded()},
	}, Layers: []v1.Descriptor{}}
	sizes := b.layerSizes(st.top)
	for i, d := range st.cfg.RootFS.DiffIDs {
		var size int64
		if i < len(sizes) {
			size = sizes[i]
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerUncompressedLayer, Digest: d, Size: size})
	}
	out, err := json.Marshal(m)
	return cd.Encoded(), out, err
}

func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }

// layerSizes are the uncompressed sizes of the layers up to top, the
// bottom one first.
func (b *builder) layerSizes(top string) []int64 {
	var out []int64
	for id := top; id != ""; {
		l, err := b.s.Layer(id)
		if err != nil {
			return nil
		}
		out = append([]int64{l.UncompressedSize}, out...)
		id = l.Parent
	}
	return out
}
