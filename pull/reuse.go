package pull

import (
	"bytes"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	storage "go.podman.io/storage"

	"husk/store"
)

// reuse is the image as it was pulled from a repository of the registry
// it is pushed to: its stored manifest and config unchanged, each layer
// mounted from that repository (or copied from it by the registry's own
// bytes, where it will not mount). Nothing is rebuilt or compressed, and
// the pushed digest is the pulled one, as Docker and podman push a
// re-tagged image. It is nil when the image has no name on that registry,
// or that repository lacks one of its blobs (a loaded image).
func reuse(s *store.Store, img *storage.Image, target name.Reference, tlsVerify bool, ropts []remote.Option) v1.Image {
	raw, err := s.ImageBigData(img.ID, store.ManifestKey)
	if err != nil {
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil || !m.MediaType.IsImage() || m.Config.Digest.Hex != img.ID {
		return nil
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil
	}
	for _, n := range img.Names {
		src, err := store.ParseReference(n, nameOptions(tlsVerify)...)
		if err != nil || src.Context().RegistryStr() != target.Context().RegistryStr() {
			continue
		}
		if layers := mountable(src.Context(), m, ropts); layers != nil {
			core := &reusedCore{raw: raw, cfg: cfg, mt: m.MediaType, layers: layers}
			v, err := partial.CompressedToImage(core)
			if err != nil {
				return nil
			}
			return &reused{Image: v, layers: layers}
		}
	}
	return nil
}

// mountable is each layer of m as a blob of repo, or nil when repo lacks
// one.
func mountable(repo name.Repository, m *v1.Manifest, ropts []remote.Option) []v1.Layer {
	var out []v1.Layer
	for _, d := range m.Layers {
		ref := repo.Digest(d.Digest.String())
		l, err := remote.Layer(ref, ropts...)
		if err != nil {
			return nil
		}
		if ok, err := partial.Exists(l); err != nil || !ok {
			return nil
		}
		out = append(out, &remote.MountableLayer{Layer: l, Reference: ref})
	}
	return out
}

type reusedCore struct {
	raw, cfg []byte
	mt       types.MediaType
	layers   []v1.Layer
}

func (c *reusedCore) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *reusedCore) RawConfigFile() ([]byte, error)      { return c.cfg, nil }
func (c *reusedCore) MediaType() (types.MediaType, error) { return c.mt, nil }

func (c *reusedCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.layers {
		if d, _ := l.Digest(); d == h {
			return l, nil
		}
	}
	return nil, errNoLayer(h)
}

// reused hands remote.Write the mountable layers themselves: it mounts
// only a layer of that type.
type reused struct {
	v1.Image
	layers []v1.Layer
}

func (r *reused) Layers() ([]v1.Layer, error) { return r.layers, nil }

type errNoLayer v1.Hash

func (e errNoLayer) Error() string { return "the image has no layer " + v1.Hash(e).String() }
