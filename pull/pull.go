// Package pull fetches images from registries into husk's store.
package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"

	"husk/store"
)

// Options of one pull.
type Options struct {
	Ref       string
	Platform  string // os/arch[/variant]; "" for the host's
	TLSVerify bool
	Quiet     bool
	TTY       bool      // Stderr is a terminal: draw bars
	Stderr    io.Writer // progress and notices
	// local: the blobs are files at hand (an archive, a layout), so every
	// layer streams from them: a download file would be a second copy.
	local bool
}

// Pull fetches the image opts.Ref into s and returns its normalized name.
// Nothing of a failed pull stays: the image record is written last, and
// the layers this pull made are removed unless an image uses them.
func Pull(ctx context.Context, s *store.Store, opts Options) (string, error) {
	ref, err := store.ParseReference(opts.Ref, nameOptions(opts.TLSVerify)...)
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", opts.Ref, err)
	}
	display := store.DisplayName(ref)
	if err := pull(ctx, s, ref, display, opts); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("pull %s: %w", display, context.Canceled)
		}
		return "", fmt.Errorf("pull %s: %w", display, err)
	}
	return display, nil
}

func pull(ctx context.Context, s *store.Store, ref name.Reference, display string, opts Options) error {
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return err
	}
	reg := ref.Context().RegistryStr()
	auth, err := Keychain().Resolve(ref.Context())
	if err != nil {
		return err
	}
	rt, err := Transport(reg, opts.TLSVerify)
	if err != nil {
		return err
	}
	loggedIn := auth != authn.Anonymous
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(rt), remote.WithJobs(4)}
	desc, err := remote.Get(ref, ropts...)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("registry %s cut the manifest of %s short: try again; if it persists, the registry is at fault", reg, display)
	}
	if err != nil {
		return explain(err, reg, tagOf(ref), loggedIn)
	}
	img, err := resolveImage(desc, platform)
	if malformed(err) {
		err = fmt.Errorf("the manifest of %s from %s is not a valid manifest (%v): the registry serves a broken one; ask its operator", display, reg, err)
	}
	if err != nil {
		return explain(err, reg, tagOf(ref), loggedIn)
	}
	p := newProgress(opts.Stderr, opts.Quiet, opts.TTY)
	err = fetchImage(ctx, s, img, []string{display}, p, opts)
	p.Wait()
	if err != nil {
		return explain(err, reg, tagOf(ref), loggedIn)
	}
	return nil
}

func tagOf(ref name.Reference) string {
	return ref.Identifier()
}

// StoreImage stores an image read from an archive or a layout under
// names (none: a <none> image), as a pull stores one: every layer checked
// entry by entry and against the config's diff IDs, the record last,
// nothing left of a failure.
func StoreImage(ctx context.Context, s *store.Store, img v1.Image, names []string, quiet bool, stderr io.Writer) error {
	p := newProgress(stderr, true, false)
	err := fetchImage(ctx, s, img, names, p, Options{Quiet: quiet, Stderr: stderr, local: true})
	p.Wait()
	return err
}

// fetchImage stores img's layers and then its record.
func fetchImage(ctx context.Context, s *store.Store, img v1.Image, names []string, p progress, opts Options) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mdigest, err := img.Digest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	if m.Config.Size > maxManifest {
		return fmt.Errorf("the image's config is %d bytes, over husk's %d MiB bound: the image is not one husk can use", m.Config.Size, maxManifest>>20)
	}
	// Another husk pulling this image goes first; after it, the config and
	// the layers are in the store and nothing is fetched again.
	unlock, err := s.LockImage(ctx, m.Config.Digest.Hex, func() {
		if !opts.Quiet {
			fmt.Fprintf(opts.Stderr, "Waiting for another husk pulling image %.12s\n", m.Config.Digest.Hex)
		}
	})
	if err != nil {
		return err
	}
	defer unlock()
	rawCfg, err := configOf(s, img, m.Config.Digest)
	if err != nil {
		return err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return err
	}
	layers, err := layerInfos(m, cfg)
	if err != nil {
		return err
	}
	if s.Squashing && !opts.Quiet {
		fmt.Fprintln(opts.Stderr, squashNotice())
	}
	top, err := storeLayers(ctx, s, img, layers, p, opts.local)
	if err != nil {
		return err
	}
	return s.CommitImage(store.ImageRecord{
		ID: m.Config.Digest.Hex, Names: names, TopLayer: top,
		Manifest: manifest, ManifestDigest: digestOf(mdigest), Config: rawCfg, Created: cfg.Created.Time,
	})
}

// configOf is the config of img, from the store when an image with its
// digest is stored (a pull that went first), else from img (the registry
// or the archive), verified against the manifest's digest and size.
func configOf(s *store.Store, img v1.Image, d v1.Hash) ([]byte, error) {
	if stored, err := s.Image(d.Hex); err == nil {
		if raw, err := s.Config(stored); err == nil && digest.FromBytes(raw).String() == d.String() {
			return raw, nil
		}
	}
	return img.RawConfigFile()
}

// storeLayers fetches the missing layers in parallel and applies them in
// order. The first missing layer streams from the registry straight into
// the store (it is checked on the way and, if its blob or diff digest turns
// out wrong at the end, never committed); the others download to files
// meanwhile, so that each is there when its turn comes; local blobs all
// stream. On failure it removes the layers it created.
func storeLayers(ctx context.Context, s *store.Store, img v1.Image, layers []store.LayerInfo, p progress, local bool) (top string, err error) {
	if len(layers) == 0 {
		return "", nil
	}
	first := len(layers)
	for i := len(layers) - 1; i >= 0 && !s.HasLayer(layers[i].ChainID); i-- {
		first = i // a layer present means its parents are too
	}
	for _, l := range layers[:first] {
		p.Skip(l.Compressed)
	}
	if first == len(layers) {
		return layers[len(layers)-1].ChainID, nil
	}
	missing := layers[first:]
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var downloads []chan downloaded
	if len(missing) > 1 && !local {
		dir, err := s.TempDir("pull-")
		if err != nil {
			return "", fmt.Errorf("creating a download directory in %s: %w", s.GraphRoot(), err)
		}
		var wg sync.WaitGroup
		// Last in, first out: cancel the downloads, wait for them, then
		// remove their directory; none may report progress after this.
		defer os.RemoveAll(dir)
		defer wg.Wait()
		defer cancel()
		downloads = startDownloads(ctx, img, missing[1:], dir, p, &wg)
	}
	var created []string
	defer func() {
		if err != nil {
			cancel()
			s.RemoveUnused(created)
		}
	}()
	if s.CanStage() {
		return commitAll(cancel, s, missing, stageAll(ctx, s, img, missing, downloads, p), &created, p)
	}
	for i, l := range missing {
		var made bool
		if i == 0 || downloads == nil {
			made, err = applyStream(ctx, s, img, l, p)
		} else if d := <-downloads[i-1]; d.err != nil {
			return "", d.err
		} else {
			made, err = applyFile(ctx, s, l, d.path)
		}
		if made {
			created = append(created, l.ChainID)
		}
		p.Done(l.Compressed, err)
		if err != nil {
			return "", err
		}
	}
	return layers[len(layers)-1].ChainID, nil
}

// commitAll commits the staged layers parent first. On a failure it
// cancels the rest and discards what they staged.
func commitAll(cancel func(), s *store.Store, missing []store.LayerInfo, staged []chan stageResult, created *[]string, p progress) (string, error) {
	for i, l := range missing {
		r := <-staged[i]
		err := r.err
		if err == nil {
			var made bool
			made, err = s.Commit(r.st)
			if made {
				*created = append(*created, l.ChainID)
			}
		}
		p.Done(l.Compressed, err)
		if err != nil {
			cancel()
			discardRest(s, staged[i+1:])
			return "", err
		}
	}
	return missing[len(missing)-1].ChainID, nil
}

// discardRest waits for the stagings still under way (cancelled) and
// removes what they left.
func discardRest(s *store.Store, staged []chan stageResult) {
	for _, ch := range staged {
		if r := <-ch; r.st != nil {
			s.Discard(r.st)
		}
	}
}

type downloaded struct {
	path string
	err  error
}

// startDownloads fetches the layers into files in dir, maxDownloads at a
// time, parent first.
func startDownloads(ctx context.Context, img v1.Image, layers []store.LayerInfo, dir string, p progress, wg *sync.WaitGroup) []chan downloaded {
	out := make([]chan downloaded, len(layers))
	for i := range out {
		out[i] = make(chan downloaded, 1)
	}
	// Parent first and a few at a time, as Docker does: an image of many
	// layers must not open a connection per layer at once.
	slots := make(chan struct{}, maxDownloads)
	wg.Add(len(layers))
	go func() {
		for i, l := range layers {
			slots <- struct{}{}
			go func(l store.LayerInfo, ch chan<- downloaded) {
				defer wg.Done()
				defer func() { <-slots }()
				ch <- downloadOne(ctx, img, l, dir, p)
			}(l, out[i])
		}
	}()
	return out
}

// maxDownloads is how many layers download at once (Docker's default).
const maxDownloads = 3

func downloadOne(ctx context.Context, img v1.Image, l store.LayerInfo, dir string, p progress) downloaded {
	if err := ctx.Err(); err != nil {
		return downloaded{err: err}
	}
	rc, err := openBlob(img, l)
	if err != nil {
		return downloaded{err: err}
	}
	defer rc.Close()
	count := p.Start(l.Compressed, l.Size)
	path, err := download(ctx, rc, l.Compressed, dir, count)
	if err != nil {
		p.Done(l.Compressed, err)
	}
	return downloaded{path: path, err: err}
}

// squashNotice is said once per pull in the single-uid mapping.
func squashNotice() string {
	uid := strconv.Itoa(store.HostUID())
	who := uid
	if u, err := user.LookupId(uid); err == nil {
		who = u.Username
	}
	return fmt.Sprintf("husk: notice: %s has no subordinate uid range, so files of other owners in images are owned by your uid (%s): for real ownership ask an administrator for ranges in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s)", who, uid, who)
}

func digestOf(h v1.Hash) digest.Digest { return digest.Digest(h.String()) }

// malformed says whether err is a manifest or index that does not parse.
func malformed(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syn) || errors.As(err, &typ)
}
