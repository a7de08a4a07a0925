package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

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
	si := &store.StoredImage{Image: *img}
	si.Manifest, _ = s.ImageBigData(img.ID, store.ManifestKey)
	si.Config, _ = s.Config(img)
	p, err := push(ctx, s, si, ref, opts)
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

func push(ctx context.Context, s *store.Store, si *store.StoredImage, ref name.Reference, opts PushOptions) (*Pushed, error) {
	sess, err := newSession(ctx, ref, si.Names, opts.TLSVerify)
	if err != nil {
		return nil, err
	}
	if r := sess.reuse(si, true); r != nil {
		return sess.writeReused(r, opts)
	}
	up, err := transfer.NewUpload(ctx, s, &si.Image, transfer.Form{OCI: storedOCI(si.Manifest)}, progressOut(opts))
	if err != nil {
		return nil, err
	}
	sess, pulled := sess.pulledBlobs(s, si, up)
	img, err := sess.upload(up, pulled)
	if err != nil {
		return nil, err
	}
	return sess.pushed(img, opts)
}

func progressOut(opts PushOptions) io.Writer {
	if opts.Quiet {
		return io.Discard
	}
	return opts.Stderr
}

// A session is one push's way to its registry: one transport, made by one
// ping (and one token, for a registry that hands them out) with every
// scope the push needs, the target's push and the pull of each repository
// it may mount from, shared by all its requests.
type session struct {
	ctx      context.Context
	ref      name.Reference
	sources  []name.Repository // where blobs may be mounted from
	loggedIn bool
	ropts    []remote.Option
	notFrom  map[string]bool // images reuse found no source for
	// names the session was made for, and its TLS: pulledBlobs makes
	// another with more.
	names     []string
	tlsVerify bool
}

// sessions are those made in this process, by target, names and TLS: a
// push that asked whether it could reuse blobs before it opened the store
// (PushCmd, on the host or in the namespace entered before Go) goes on
// with the same transport and answer, not a second ping and question.
var sessions struct {
	sync.Mutex
	m map[string]*session
}

func newSession(ctx context.Context, ref name.Reference, names []string, tlsVerify bool) (*session, error) {
	key := fmt.Sprint(ref.String(), "\x00", strings.Join(names, "\x00"), "\x00", tlsVerify)
	sessions.Lock()
	defer sessions.Unlock()
	if s := sessions.m[key]; s != nil && s.ctx == ctx {
		return s, nil
	}
	s, err := dialSession(ctx, ref, names, tlsVerify)
	if err == nil {
		if sessions.m == nil {
			sessions.m = map[string]*session{}
		}
		sessions.m[key] = s
	}
	return s, err
}

func dialSession(ctx context.Context, ref name.Reference, names []string, tlsVerify bool) (*session, error) {
	repo := ref.Context()
	auth, err := Keychain().Resolve(repo)
	if err != nil {
		return nil, err
	}
	rt, err := Transport(repo.RegistryStr(), tlsVerify)
	if err != nil {
		return nil, err
	}
	s := &session{ctx: ctx, ref: ref, sources: sourcesOf(names, ref, tlsVerify), loggedIn: auth != authn.Anonymous, notFrom: map[string]bool{}, names: names, tlsVerify: tlsVerify}
	scopes := []string{repo.Scope(transport.PushScope)}
	for _, src := range s.sources {
		if src.String() != repo.String() {
			scopes = append(scopes, src.Scope(transport.PullScope))
		}
	}
	t, err := transport.NewWithContext(ctx, repo.Registry, auth, rt, scopes)
	if err != nil {
		return nil, s.explain(err)
	}
	s.ropts = []remote.Option{remote.WithContext(ctx), remote.WithTransport(t), remote.WithJobs(4)}
	return s, nil
}

func (s *session) explain(err error) error {
	return explainPush(err, s.ref.Context().RegistryStr(), s.ref.Context().RepositoryStr(), s.loggedIn)
}

// writeReused sends a reused image under the session's name: its blobs,
// all at once, each asked for and mounted (none is read here), then its
// manifest. Unlike remote.Write it does not first ask whether the tag
// names that manifest already: a push of a re-tagged image goes to a
// name that has none, and putting the same manifest again changes
// nothing.
func (s *session) writeReused(img *reused, opts PushOptions) (*Pushed, error) {
	p, err := remote.NewPusher(s.ropts...)
	if err != nil {
		return nil, err
	}
	g, ctx := errgroup.WithContext(s.ctx)
	g.SetLimit(8) // mounts are small requests; a registry serves a few at once
	for _, l := range append(slices.Clip(img.layers), img.config) {
		g.Go(func() error { return p.Upload(ctx, s.ref.Context(), l) })
	}
	if err := g.Wait(); errors.Is(err, errLacks) {
		return nil, err
	} else if err != nil {
		return nil, s.explain(err)
	}
	if err := p.Put(s.ctx, s.ref, img); err != nil {
		return nil, s.explain(err)
	}
	return s.pushed(img, opts)
}

// upload sends an image of the store: its layers all at once, each
// gzipped as it is sent, those with a recorded digest only when the
// registry lacks them, and its config beside them; then the manifest,
// which names the digests the sending found (the pusher knows the blobs
// it sent, and sends none twice).
func (s *session) upload(up *transfer.Upload, pulled map[int]v1.Layer) (v1.Image, error) {
	p, err := remote.NewPusher(s.ropts...)
	if err != nil {
		return nil, err
	}
	layers := up.Layers()
	for i, l := range pulled {
		d, _ := l.Digest()
		size, _ := l.Size()
		up.Found(i, d, size)
		layers[i] = l
	}
	// The layers first: the largest sending starts at once, its upload
	// not queued in the registry behind the config's.
	layers = s.mountFromOthers(append(layers, up.Config()), pulled)
	g, ctx := errgroup.WithContext(s.ctx)
	g.SetLimit(4)
	for _, l := range layers {
		g.Go(func() error { return p.Upload(ctx, s.ref.Context(), l) })
	}
	err = g.Wait()
	if ferr := up.Failure(); ferr != nil {
		return nil, ferr // the layer's own word, not the upload's that it ended
	}
	var te *transport.Error
	if errors.As(err, &te) && hasCode(te, transport.DigestInvalidErrorCode) {
		up.Refused()
	}
	if err != nil {
		return nil, s.explain(err)
	}
	img, err := up.Image()
	if err != nil {
		return nil, err
	}
	// Put, not Push: the blobs are there, and Push would first ask
	// whether the tag names this manifest already, which it seldom does
	// here (a repository holding the stored manifest made the push a
	// reuse); putting the same manifest again changes nothing.
	if err := p.Put(s.ctx, s.ref, img); err != nil {
		return nil, s.explain(err)
	}
	return img, nil
}

// mountFromOthers lets each blob whose digest is known (a recorded gzip,
// the config) be mounted from another repository of the registry that
// the image is named in, where an earlier push will have put it: the
// registry is asked to mount it in the request that would start its
// upload, and the upload goes on where it will not. Those of pulled are
// mountable already.
func (s *session) mountFromOthers(layers []v1.Layer, pulled map[int]v1.Layer) []v1.Layer {
	own := s.ref.Context().String()
	i := slices.IndexFunc(s.sources, func(r name.Repository) bool { return r.String() != own })
	if i < 0 {
		return layers
	}
	src := s.sources[i]
	for k, l := range layers {
		if _, ok := pulled[k]; ok {
			continue
		}
		if d, err := l.Digest(); err == nil {
			layers[k] = &remote.MountableLayer{Layer: l, Reference: src.Digest(d.String())}
		}
	}
	return layers
}

// pushed says what the registry now holds.
func (s *session) pushed(img v1.Image, opts PushOptions) (*Pushed, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progressOut(opts), "Writing manifest %s\n", d)
	return &Pushed{Tag: s.ref.Identifier(), Digest: d, Size: int64(len(raw))}, nil
}

// A Reuse is a push that needs nothing of the store but what was read of
// it on the host: every blob of the image is in the registry already.
type Reuse struct {
	sess    *session
	img     *reused
	display string
	opts    PushOptions
}

// ErrNotReused is a Reuse that found a blob missing from the registry
// before it wrote anything under the name: the image must be pushed from
// the store (Push, in the user namespace).
var ErrNotReused = errors.New("the registry lost a blob of the image while it was pushed: push again")

// ReuseOnHost is the push of opts.Ref as it was pulled (see reuse), from
// images read on the host (store.ImagesOnHost), or nil when the image is
// not among them or must be read from the store (rebuilt and compressed):
// then Push, in the user namespace, does it. With check the registry is
// asked for the layers first; without, the push itself finds out, a
// request sooner, and fails with ErrNotReused where they are not there.
func ReuseOnHost(ctx context.Context, images []store.StoredImage, opts PushOptions, check bool) *Reuse {
	ref, err := store.ParseReference(opts.Ref, nameOptions(opts.TLSVerify)...)
	if err != nil {
		return nil
	}
	display := store.DisplayName(ref)
	for i := range images {
		if !hasName(images[i].Names, display) {
			continue
		}
		sess, err := newSession(ctx, ref, images[i].Names, opts.TLSVerify)
		if err != nil {
			return nil
		}
		if img := sess.reuse(&images[i], check); img != nil {
			return &Reuse{sess: sess, img: img, display: display, opts: opts}
		}
		return nil
	}
	return nil
}

// Push sends the image, as Push does.
func (r *Reuse) Push(ctx context.Context) (*Pushed, error) {
	p, err := r.sess.writeReused(r.img, r.opts)
	switch {
	case errors.Is(err, errLacks):
		return nil, ErrNotReused
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("push %s: %w", r.display, context.Canceled)
	case err != nil:
		return nil, fmt.Errorf("push %s: %w", r.display, err)
	}
	p.Name = r.display
	return p, nil
}

// storedOCI reports whether the image came with an OCI manifest; a push
// keeps that kind, else it writes Docker's schema 2 as Docker does.
func storedOCI(raw []byte) bool {
	if raw == nil {
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
		case hasCode(te, transport.DigestInvalidErrorCode):
			// A recorded gzip that is not as recorded, whose record the
			// upload has dropped (transfer.Upload.Refused): the next push
			// learns it.
			return fmt.Errorf("%s refused a blob of the push to %s as not matching its digest (DIGEST_INVALID): push again", registry, repo)
		case strings.Contains(strings.ToLower(te.Error()), "quota"):
			return fmt.Errorf("%s refused the push to %s: over quota: free space in the repository or raise the quota", registry, repo)
		}
	}
	return explain(err, registry, "", loggedIn)
}
