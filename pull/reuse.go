package pull

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
// is the pulled one, as Docker and podman push a re-tagged image.
//
// With check, each source is asked for the layers first, and reuse is nil
// when none has them all (a loaded or built image), or the image has no
// name on that registry. Without, the layers are taken from the first
// source unasked: a push that finds one missing fails with errLacks before
// it writes the manifest, and the caller pushes another way. The push's
// own repository is a source only where it holds the image's manifest
// already (asked either way).
func (s *session) reuse(si *store.StoredImage, check bool) *reused {
	if si.Manifest == nil || si.Config == nil || len(s.sources) == 0 || s.notFrom[si.ID] {
		return nil
	}
	r := s.reuseFrom(si, check)
	if r == nil {
		s.notFrom[si.ID] = true // asked: the push goes on without asking again
	}
	return r
}

func (s *session) reuseFrom(si *store.StoredImage, check bool) *reused {
	m, err := v1.ParseManifest(bytes.NewReader(si.Manifest))
	if err != nil || !m.MediaType.IsImage() || m.Config.Digest.Hex != si.ID {
		return nil
	}
	own := s.ref.Context().String()
	for _, src := range s.sources {
		var layers []v1.Layer
		if src.String() == own {
			// The target holds the image's blobs when a push put its
			// manifest there: one question, where a re-tagged image's
			// first push would otherwise send its config and find a
			// layer missing before it gives up.
			if s.holdsManifest(si.Manifest) {
				layers = s.mountable(src, m, false)
			}
		} else {
			layers = s.mountable(src, m, check)
		}
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

// holdsManifest says whether the push's repository has the manifest raw:
// a registry takes a manifest only with every blob it names.
func (s *session) holdsManifest(raw []byte) bool {
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return false
	}
	_, err = remote.Head(s.ref.Context().Digest(d.String()), s.ropts...)
	return err == nil
}

// errLacks is a source repository without a layer of the image.
var errLacks = errors.New("the repository lacks a layer")

// mountable is each layer of m as a blob of repo; with check, the layers
// are asked for, all at once, and it is nil when repo lacks one.
func (s *session) mountable(repo name.Repository, m *v1.Manifest, check bool) []v1.Layer {
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
			if check && d.MediaType.IsDistributable() {
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
// Its bytes are read only where the registry will not mount it; a source
// that lacks it is errLacks.
type described struct {
	v1.Layer
	desc v1.Descriptor
}

func (l *described) Size() (int64, error)                { return l.desc.Size, nil }
func (l *described) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *described) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", errLacks, l.desc.Digest)
	}
	return rc, err
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
