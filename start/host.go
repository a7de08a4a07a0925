package start

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"husk/fuse"
	"husk/sandbox"
	"husk/squash"
	"husk/store"
	"husk/userns"
)

// Every start is planned here, on the host: the spec is built from the
// container's config and the image's, and the C init runs it. What the
// store knows of the image (store.ResolvedImage: its ID, config and layers'
// directories) is cached after the first start of a reference, so that
// later ones need not open the store at all (its locks and JSON, and a
// process in the user namespace to read them, are most of a start's cost).
// Without a cache that still holds, CallResolve reads the store in the
// user namespace and writes it.

// ResolvedKey is where image, resolved in the store, is cached for store
// driver driver and the ID mapping (nil: real root).
func ResolvedKey(driver, image string, mapping *userns.Mapping) string {
	ids := "root"
	if mapping != nil {
		ids = fmt.Sprint(mapping.Mode, mapping.UIDMap, mapping.GIDMap)
	}
	return store.ResolvedKey(image, driver, ids)
}

// HostLaunch is what HostSpec built: the C init's encoded spec, the spec
// in JSON as the container records it, and where its root comes from.
type HostLaunch struct {
	CSpec, JSON []byte
	// Bare is CSpec without the process's arguments, which are Entry and
	// the command given, or Default.
	Bare           []byte
	Entry, Default []string
	ImageID        string
	Strategy       fuse.Strategy
	// release ends the host side's hold of a throw-away vfs copy, which
	// Done then removes.
	release func()
	copyID  string
	driver  string
	// file: a squashfs file the start runs (husk run FILE.sqsh);
	// fileMeta the sign of its node copy, fileCopy the copy it runs from.
	file, fileMeta string
	fileCopy       *squash.Copy
	// noReuse: the start made or filled volumes, which a prelaunch of
	// the same launch would not.
	noReuse bool
}

// Done removes what the start made for one launch alone (a throw-away vfs
// copy), once its sandbox has ended.
func (hl *HostLaunch) Done(ctx context.Context) {
	if hl == nil || hl.release == nil {
		return
	}
	hl.release()
	hl.release = nil
	_, _ = userns.Call(ctx, io.Discard, store.CallRemoveCopy, hl.driver, hl.copyID)
}

// Reusable says whether the launch may be started again as it is (the
// prelaunch): not when its root is a copy made for it alone.
func (hl *HostLaunch) Reusable() bool {
	return hl.copyID == "" && hl.Strategy != fuse.VFS && !hl.noReuse
}

// HostSpec is the C init's spec for this start of rec's container. An
// image missing from the store is ErrNoSuchImage.
func HostSpec(ctx context.Context, driver string, mapping *userns.Mapping, rec *Record) (*HostLaunch, error) {
	cfg := rec.Config
	hl := &HostLaunch{driver: driver}
	p, root, err := hl.find(ctx, mapping, rec)
	if err != nil {
		hl.Done(ctx)
		return nil, err
	}
	if err := hl.build(ctx, p, root, mapping, rec, cfg); err != nil {
		hl.Done(ctx)
		return nil, err
	}
	return hl, nil
}

// find is the image resolved, from the cache or the store, and for the
// vfs strategy the root copy the sandbox runs on.
func (hl *HostLaunch) find(ctx context.Context, mapping *userns.Mapping, rec *Record) (*store.ResolvedImage, string, error) {
	cfg := rec.Config
	if squash.IsPath(cfg.Image) {
		p, err := hl.findFile(cfg.Image, mapping)
		return p, "", err
	}
	key := ResolvedKey(hl.driver, cfg.Image, mapping)
	if p := store.ReadResolved(key); p != nil && (cfg.ImageID == "" || p.ImageID == cfg.ImageID) {
		return p, "", nil
	}
	ref := cfg.Image
	if cfg.ImageID != "" {
		// The image it was created from, even if retagged; the cache is
		// by reference.
		ref, key = cfg.ImageID, ""
	}
	root := rec.ID
	if cfg.AutoRemove {
		hl.copyID = store.NewCopyID()
		release, err := store.HoldCopy(hl.copyID)
		if err != nil {
			return nil, "", err
		}
		hl.release, root = release, "copy="+hl.copyID
	}
	r, err := resolve(ctx, hl.driver, ref, key, root)
	if (err != nil || r.Root == "") && hl.release != nil {
		// No copy was made (not vfs, or the image is missing): only the
		// hold goes.
		hl.release()
		hl.release, hl.copyID = nil, ""
	}
	if err != nil {
		return nil, "", err
	}
	return &r.Image, r.Root, nil
}

// build makes the spec of p's image with the container's config.
func (hl *HostLaunch) build(ctx context.Context, p *store.ResolvedImage, root string, mapping *userns.Mapping, rec *Record, cfg *sandbox.Config) error {
	runroot, scratch, err := ScratchDir()
	if err != nil {
		return err
	}
	rw := scratch
	if !cfg.AutoRemove && hl.file == "" {
		if rw, err = rec.UpperBase(); err != nil {
			return err
		}
	}
	var rootOps []sandbox.Op
	switch p.Strategy {
	case fuse.Overlay:
		if err := sandbox.OverlayFits(rec.Config.Image, p.Lower, rw); err != nil {
			return err
		}
		rootOps = sandbox.OverlayRoot(p.Lower, rw)
	case fuse.FuseOverlayfs:
		prog, err := fuse.FuseOverlayfsPath()
		if err != nil {
			return err
		}
		rootOps = sandbox.FuseOverlayRoot(prog, p.Lower, rw)
	case squashfsRoot:
		if rootOps, err = hl.fileRoot(scratch, cfg); err != nil {
			return err
		}
	default:
		rootOps = sandbox.BindRoot(root)
	}
	opts, err := cfg.RunOptions(rec.ID, filepath.Join(runroot, "seccomp"), mapping != nil && mapping.Mode == userns.ModeSingle)
	if err != nil {
		return err
	}
	opts.Scratch, opts.RootOps = scratch, rootOps
	if err := hl.volumes(ctx, p, rec, &opts); err != nil {
		return err
	}
	spec, err := sandbox.ContainerSpec(p.Config, opts)
	if err != nil {
		return err
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := rec.RememberJSON(p.ImageID, spec.Args, js); err != nil {
		return err
	}
	cs, err := cSpec(spec, p.ImageID, hl.file != "")
	if err == nil && hl.fileCopy != nil {
		// The copy held in use, and found still there once held.
		cs.InUse, cs.ImageDir = hl.fileCopy.InUse, hl.fileCopy.Root
	}
	if err != nil {
		return err
	}
	enc, err := cs.Encode()
	if err != nil {
		return err
	}
	hl.CSpec, hl.JSON, hl.ImageID, hl.Strategy = enc, js, p.ImageID, p.Strategy
	hl.Entry, hl.Default = sandbox.CommandParts(p.Config, opts)
	bare := *spec
	bare.Args = nil
	cs.Spec = &bare
	hl.Bare, err = cs.Encode()
	return err
}

// cSpec is spec for the C init, which holds image imageID in use itself
// and checks that its top layer is still there once it does.
func cSpec(spec *sandbox.Spec, imageID string, file bool) (*sandbox.CSpec, error) {
	if file {
		return &sandbox.CSpec{Spec: spec}, nil // a squashfs file: no image of the store to hold
	}
	inuse, err := store.InUsePath(imageID)
	if err != nil {
		return nil, err
	}
	top := ""
	if len(spec.RootOps) > 0 {
		if _, rest, ok := strings.Cut(spec.RootOps[0].Data, "lowerdir="); ok {
			top, _, _ = strings.Cut(rest, ":")
			top, _, _ = strings.Cut(top, ",")
		}
	}
	return &sandbox.CSpec{Spec: spec, InUse: inuse, ImageDir: top}, nil
}
