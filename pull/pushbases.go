package pull

import (
	"bytes"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"husk/store"
	"husk/transfer"
)

// A built or committed image shares its bottom layers with the image it
// was made from. Where that image was pulled from the registry the push
// goes to, those layers are there already, as the blobs they were pulled
// as: the push mounts them from that repository (or has the registry
// copy them), as Docker and podman do, rather than sending them again
// gzipped anew under other digests.

// pulledBlob is a layer's blob as a repository of the target registry
// holds it: an image of the store named there lists it in its manifest.
type pulledBlob struct {
	names []string        // the image's, whose repositories the session may read
	repo  name.Repository // one of them, on the target registry
	desc  v1.Descriptor
}

// pulledBlobs gives, by index, the layers of up to send as the blobs
// they were pulled as, each found in its repository; the rest are sent
// from the store. The session may be another one, that may also read
// those repositories; it is the one to send with.
func (s *session) pulledBlobs(st *store.Store, si *store.StoredImage, up *transfer.Upload) (*session, map[int]v1.Layer) {
	known := s.pulledOnRegistry(st, si.ID)
	if len(known) == 0 {
		return s, nil
	}
	want := map[int]pulledBlob{}
	names := slices.Clone(s.names)
	readable := len(names)
	for i, id := range up.StoredLayers() {
		l, err := st.Layer(id)
		if err != nil || l.CompressedDigest == "" || l.UncompressedDigest.String() != up.DiffID(i).String() {
			continue
		}
		if b, ok := known[l.CompressedDigest.String()]; ok {
			want[i] = b
			if !slices.ContainsFunc(s.sources, func(r name.Repository) bool { return r.String() == b.repo.String() }) {
				names = append(names, b.names...)
			}
		}
	}
	if len(want) == 0 {
		return s, nil
	}
	sess := s
	if len(names) > readable {
		// A session whose token may also read those repositories.
		var err error
		if sess, err = newSession(s.ctx, s.ref, names, s.tlsVerify); err != nil {
			return s, nil
		}
	}
	return sess, sess.askPulled(want)
}

// pulledOnRegistry maps the gzip blobs of the store's images named on the
// target registry (from their manifests) to where they are; not those of
// the image pushed, whose repositories reuse asked already.
func (s *session) pulledOnRegistry(st *store.Store, pushed string) map[string]pulledBlob {
	images, err := st.Images()
	if err != nil {
		return nil
	}
	out := map[string]pulledBlob{}
	for _, img := range images {
		srcs := sourcesOf(img.Names, s.ref, s.tlsVerify)
		if img.ID == pushed || len(srcs) == 0 {
			continue
		}
		raw, err := st.ImageBigData(img.ID, store.ManifestKey)
		if err != nil {
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			continue
		}
		for _, d := range m.Layers {
			if d.MediaType == types.DockerLayer || d.MediaType == types.OCILayer {
				out[d.Digest.String()] = pulledBlob{names: img.Names, repo: srcs[0], desc: d}
			}
		}
	}
	return out
}

// askPulled asks each blob's repository for it, all at once, and gives
// those it holds as layers that mount from there.
func (s *session) askPulled(want map[int]pulledBlob) map[int]v1.Layer {
	out := make([]v1.Layer, len(want))
	idx := make([]int, 0, len(want))
	for i := range want {
		idx = append(idx, i)
	}
	g := errgroup.Group{}
	g.SetLimit(8)
	for k, i := range idx {
		b := want[i]
		g.Go(func() error {
			ref := b.repo.Digest(b.desc.Digest.String())
			l, err := remote.Layer(ref, s.ropts...)
			if err != nil {
				return nil
			}
			if ml, ok := l.(*remote.MountableLayer); ok {
				l = ml.Layer // its Exists asks with HEAD, not GET
			}
			if ok, err := partial.Exists(l); err != nil || !ok {
				return nil
			}
			out[k] = &remote.MountableLayer{Layer: &described{l, b.desc}, Reference: ref}
			return nil
		})
	}
	_ = g.Wait()
	got := map[int]v1.Layer{}
	for k, i := range idx {
		if out[k] != nil {
			got[i] = out[k]
		}
	}
	return got
}
