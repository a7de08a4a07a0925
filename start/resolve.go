package start

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.podman.io/storage"

	"husk/fuse"
	"husk/reexec"
	"husk/store"
	"husk/userns"
)

// CallResolve is the function (reexec) that finds a start's image in the
// store, in husk's user namespace, for a start planned on the host: the
// store's files belong to the namespace's ids, and its locks and JSON are
// what the image cache (store.ResolvedImage) spares the next start. Its
// arguments are the store driver, the image reference or ID, the cache
// key ("" for none), and for the vfs strategy the root to copy into: a
// container's ID (its own copy, kept until rm) or "copy=ID" (a throw-away
// copy the host side holds in use and removes afterwards).
const CallResolve = "resolve-image"

func init() { reexec.Register(CallResolve, resolveMain) }

// resolved is what CallResolve answers on its standard output.
type resolved struct {
	Missing bool                `json:"missing,omitempty"`
	Plan    store.ResolvedImage `json:"plan"`
	Root    string              `json:"root,omitempty"` // vfs: the copy to bind as /
}

// ErrNoSuchImage is a start whose image is not in the store.
var ErrNoSuchImage = store.ErrNoSuchImage

func resolveMain(_ context.Context, out, errw io.Writer, args []string) int {
	if len(args) != 4 {
		fmt.Fprintf(errw, "husk: %s takes the store driver, an image, a key and a root: this is husk's own error\n", CallResolve)
		return 125
	}
	r, err := resolveInStore(args[0], args[1], args[2], args[3])
	if err == nil {
		err = json.NewEncoder(out).Encode(r)
	}
	if err != nil {
		fmt.Fprintln(errw, "husk: "+err.Error())
		return 125
	}
	return 0
}

// resolveInStore runs in the user namespace: it finds ref, records the
// image cache under key, and makes a vfs root when the store needs one.
func resolveInStore(driver, ref, key, root string) (*resolved, error) {
	_, graphroot, _, err := store.Paths()
	if err != nil {
		return nil, err
	}
	// Taken before the store is read: a change made meanwhile leaves the
	// cache stale, never wrong.
	stamp := store.StoreStamp(graphroot)
	s, err := store.Open(driver)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	img, err := s.Lookup(ref)
	if errors.Is(err, store.ErrNoSuchImage) {
		return &resolved{Missing: true}, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, err := imageConfig(s, img)
	if err != nil {
		return nil, err
	}
	r := &resolved{Plan: store.ResolvedImage{ImageID: img.ID, Strategy: s.Strategy, Config: cfg.Config, Stamp: stamp}}
	switch s.Strategy {
	case fuse.Overlay, fuse.FuseOverlayfs:
		if r.Plan.Lower, err = s.LowerDirs(img); err != nil {
			return nil, err
		}
		if key != "" {
			store.WriteResolved(key, &r.Plan)
		}
	default:
		if copyID, ok := strings.CutPrefix(root, "copy="); ok {
			r.Root, err = s.CopyRoot(img, copyID)
		} else {
			r.Root, err = s.ContainerRoot(img, root)
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func imageConfig(s *store.Store, img *storage.Image) (*v1.ConfigFile, error) {
	b, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("reading the config of image %.12s: %w: pull the image again", img.ID, err)
	}
	return &cfg, nil
}

// resolve asks CallResolve, in the user namespace, for ref.
func resolve(ctx context.Context, driver, ref, key, root string) (*resolved, error) {
	var out, errb bytes.Buffer
	code, err := userns.CallWith(ctx, &out, &errb, CallResolve, driver, ref, key, root)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		msg := strings.TrimPrefix(strings.TrimSpace(errb.String()), "husk: ")
		if msg == "" {
			msg = fmt.Sprintf("finding image %s in the store failed with code %d: this is husk's own error", ref, code)
		}
		return nil, errors.New(msg)
	}
	var r resolved
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("finding image %s in the store: %w: this is husk's own error", ref, err)
	}
	if r.Missing {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchImage, ref)
	}
	return &r, nil
}
