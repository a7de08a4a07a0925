package integration

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Ref is repo:tag on this registry, e.g. 127.0.0.1:5000/busybox:latest.
func (r *Registry) Ref(repoTag string) string { return r.Addr + "/" + repoTag }

// Options for ggcr's remote package: the harness CA and the basic auth.
func (r *Registry) Options() []remote.Option {
	opts := []remote.Option{remote.WithTransport(r.Transport())}
	if r.User != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password}))
	}
	return opts
}

// Parse parses repo:tag (or repo@digest) on this registry.
func (r *Registry) Parse(repoTag string) (name.Reference, error) {
	var opts []name.Option
	if r.CA == nil {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(r.Ref(repoTag), opts...)
}

// Push writes an image under repo:tag.
func (r *Registry) Push(repoTag string, img v1.Image) error {
	ref, err := r.Parse(repoTag)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, r.Options()...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// PushIndex writes an image index (and its images) under repo:tag.
func (r *Registry) PushIndex(repoTag string, idx v1.ImageIndex) error {
	ref, err := r.Parse(repoTag)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx, r.Options()...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// Get fetches a manifest's descriptor (an independent check that the
// registry serves what was pushed).
func (r *Registry) Get(repoTag string) (*remote.Descriptor, error) {
	ref, err := r.Parse(repoTag)
	if err != nil {
		return nil, err
	}
	return remote.Get(ref, r.Options()...)
}
