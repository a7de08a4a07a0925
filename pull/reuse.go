package pull

import (
	"bytes"
	"errors"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"husk/store"
)

// reuse is the image as it was pulled from a repository of the registry
// it is pushed to: its stored manifest and config unchanged, each layer
// mounted from that repository (or copied from it by the registry's own
// bytes, where it will not mount), and the config mounted too (or sent
// from the store). Nothing is rebuilt or compressed, and the pushed digest
// is the pulled one, as Docker and podman push a re-tagged image. It is
// nil when the image has no name on that registry, or that repository
// lacks one of its layers (a loaded or built image).
func (s *session) reuse(si *store.StoredImage) *reused {
	if si.Manifest == nil || si.Config == nil {
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(si.Manifest))
	if err != nil || !m.MediaType.IsImage() || m.Config.Digest.Hex != si.ID {
		return nil
	}
	for _, src := range s.sources {
		layers := s.mountable(src, m)
		if layers == nil {
			continue
		}
		core := &reusedCore{raw: si.Manifest, cfg: si.Config, mt: m.MediaType, layers: layers}
		img, err := partial.CompressedToImage(core)
		if err != nil {
			return nil
		}
		config := &remote.MountableLayer{Layer: static.NewLayer(si.Config, m.Config.MediaType), Reference: src.Digest(m.Config.Digest.String())}
		return &reused{Image: img, layers: layers, config: config}
	}
	return nil
}

// sourcesOf are the repositories of names on the registry of target,
// each once, in the order of names, the target's own last (it is where
// the push goes, and holds the blobs only when pushed there before):
// where a push may mount blobs from.
func sourcesOf(names []string, target name.Reference, tlsVerify bool) []name.Repository {
	var out []name.Repository
	own := false
	seen := map[string]bool{}
	for _, n := range names {
		src, err := store.ParseReference(n, nameOptions(tlsVerify)...)
		if err != nil || src.Context().RegistryStr() != target.Context().RegistryStr() || seen[src.Context().String()] {
			continue
		}
		seen[src.Context().String()] = true
		if src.Context().String() == target.Context().String() {
			own = true
			continue
		}
		out = append(out, src.Context())
	}
	if own {
		out = append(out, target.Context())
	}
	return out
}

var errLacks = errors.New("the repository lacks a layer")

// mountable is each layer of m as a blob of repo, or nil when repo lacks
// one; the layers are asked for all at once.
func (s *session) mountable(repo name.Repository, m *v1.Manifest) []v1.Layer {
	out := make([]v1.Layer, len(m.Layers))
	g := errgroup.Group{}
	g.SetLimit(8)
	for i, d := range m.Layers {
		g.Go(func() error {
			ref := repo.Digest(d.Digest.String())
			l, err := remote.Layer(ref, s.ropts...)
			if err != nil {
				return err
			}
			if ml, ok := l.(*remote.MountableLayer); ok {
				l = ml.Layer // its Exists asks with HEAD, not GET
			}
			if d.MediaType.IsDistributable() {
				if ok, err := partial.Exists(l); err != nil || !ok {
					return errLacks
				}
			}
			out[i] = &remote.MountableLayer{Layer: &described{l, d}, Reference: ref}
			return nil
		})
	}
	if g.Wait() != nil {
		return nil
	}
	return out
}

// described is a layer of a registry with the size and media type its
// manifest gives: asking the registry again costs a request per layer.
type described struct {
	v1.Layer
	desc v1.Descriptor
}

func (l *described) Size() (int64, error)                { return l.desc.Size, nil }
func (l *described) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

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

// reused hands remote.Write the mountable layers and config themselves:
// it mounts only a layer of that type.
type reused struct {
	v1.Image
	layers []v1.Layer
	config v1.Layer
}

func (r *reused) Layers() ([]v1.Layer, error)    { return r.layers, nil }
func (r *reused) ConfigLayer() (v1.Layer, error) { return r.config, nil }

type errNoLayer v1.Hash

func (e errNoLayer) Error() string { return "the image has no layer " + v1.Hash(e).String() }
