package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	storage "go.podman.io/storage"

	"husk/store"
	"husk/transfer"
)

// PushOptions of one push.
type PushOptions struct {
	Ref       string // a name of an image in the store
	TLSVerify bool
	Quiet     bool
	Stderr    io.Writer // progress
}

// Pushed is what the registry now holds under a name.
type Pushed struct {
	Name   string // normalized
	Tag    string
	Digest v1.Hash // of the manifest
	Size   int64   // of the manifest
}

// Push sends the image named opts.Ref to its registry, the manifest last.
// An image pulled from that registry goes as it was pulled, its blobs
// mounted there (reuse); any other has its layers rebuilt from the store
// and gzipped, all at once, each blob sent only when the registry lacks it
// (remote.Write asks first). The store is only read: a failed push leaves
// the image as it was.
func Push(ctx context.Context, s *store.Store, opts PushOptions) (*Pushed, error) {
	ref, err := store.ParseReference(opts.Ref, nameOptions(opts.TLSVerify)...)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", opts.Ref, err)
	}
	display := store.DisplayName(ref)
	img, err := s.Lookup(display)
	if err != nil || !hasName(img.Names, display) {
		return nil, fmt.Errorf("push %s: no image of that name here: tag one with 'husk tag IMAGE %s', or see 'husk images'", display, display)
	}
	p, err := push(ctx, s, img, ref, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("push %s: %w", display, context.Canceled)
		}
		return nil, fmt.Errorf("push %s: %w", display, err)
	}
	p.Name = display
	return p, nil
}

func hasName(names []string, n string) bool {
	for _, have := range names {
		if have == n {
			return true
		}
	}
	return false
}

func push(ctx context.Context, s *store.Store, img *storage.Image, ref name.Reference, opts PushOptions) (*Pushed, error) {
	reg := ref.Context().RegistryStr()
	auth, err := Keychain().Resolve(ref.Context())
	if err != nil {
		return nil, err
	}
	rt, err := Transport(reg, opts.TLSVerify)
	if err != nil {
		return nil, err
	}
	out := io.Discard
	if !opts.Quiet {
		out = opts.Stderr
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(rt), remote.WithJobs(4)}
	var sent v1.Image = reuse(s, img, ref, opts.TLSVerify, ropts)
	if sent == nil {
		exp, err := transfer.Export(ctx, s, img, transfer.Form{OCI: storedOCI(s, img), Compress: true})
		if err != nil {
			return nil, err
		}
		defer exp.Close()
		sent = &announced{exp, out}
	}
	if err := remote.Write(ref, sent, ropts...); err != nil {
		return nil, explainPush(err, reg, ref.Context().RepositoryStr(), auth != authn.Anonymous)
	}
	d, err := sent.Digest()
	if err != nil {
		return nil, err
	}
	raw, err := sent.RawManifest()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "Writing manifest %s\n", d)
	return &Pushed{Tag: ref.Identifier(), Digest: d, Size: int64(len(raw))}, nil
}

// storedOCI reports whether the image came with an OCI manifest; a push
// keeps that kind, else it writes Docker's schema 2 as Docker does.
func storedOCI(s *store.Store, img *storage.Image) bool {
	raw, err := s.ImageBigData(img.ID, store.ManifestKey)
	if err != nil {
		return false
	}
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	return json.Unmarshal(raw, &m) == nil && m.MediaType == types.OCIManifestSchema1
}

// explainPush names what a registry's refusal of a push means.
func explainPush(err error, registry, repo string, loggedIn bool) error {
	var te *transport.Error
	if errors.As(err, &te) {
		login := "husk login " + RegistryKey(registry)
		switch {
		case te.StatusCode == http.StatusUnauthorized && !loggedIn:
			return fmt.Errorf("%s wants a login to push to %s (unauthorized): run %s", registry, repo, login)
		case te.StatusCode == http.StatusForbidden || (hasCode(te, transport.DeniedErrorCode) && loggedIn):
			return fmt.Errorf("%s denied the push to %s (forbidden): the account may not write there: check the repository name, or log in as a user who may (%s)", registry, repo, login)
		case te.StatusCode == http.StatusRequestEntityTooLarge:
			return fmt.Errorf("%s refused a blob of the push to %s as too large (413): raise the registry's or its proxy's upload limit", registry, repo)
		case strings.Contains(strings.ToLower(te.Error()), "quota"):
			return fmt.Errorf("%s refused the push to %s: over quota: free space in the repository or raise the quota", registry, repo)
		}
	}
	return explain(err, registry, "", loggedIn)
}

// announced is an image whose layers say on out when they are sent: the
// ones the registry has already are never opened.
type announced struct {
	*transfer.Exported
	out io.Writer
}

func (a *announced) Layers() ([]v1.Layer, error) {
	ls, err := a.Exported.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &announcedLayer{l, a.out}
	}
	return out, nil
}

type announcedLayer struct {
	v1.Layer
	out io.Writer
}

func (l *announcedLayer) Compressed() (io.ReadCloser, error) {
	if d, err := l.Digest(); err == nil {
		size, _ := l.Size()
		fmt.Fprintf(l.out, "Copying blob %s (%s)\n", shortDigest(digestOf(d)), humanSize(size))
	}
	return l.Layer.Compressed()
}
