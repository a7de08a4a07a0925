package start

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.podman.io/storage"

	"husk/fuse"
	"husk/sandbox"
	"husk/store"
	"husk/userns"
)

// initSpec is the spec of one start: the container's config on the
// image's, with its root.
func initSpec(s *store.Store, img *storage.Image, rec *Record) (*sandbox.Spec, error) {
	cfg, err := imageConfig(s, img)
	if err != nil {
		return nil, err
	}
	runroot, scratch, err := ScratchDir()
	if err != nil {
		return nil, err
	}
	// A container that outlives this start keeps its upper layer in its
	// directory in the store; a --rm one in the scratch tmpfs.
	rw, keep := scratch, ""
	if !rec.Config.AutoRemove {
		if rw, err = rec.UpperBase(); err != nil {
			return nil, err
		}
		keep = rec.ID
	}
	rootOps, err := rootOf(s, img, rw, keep)
	if err != nil {
		return nil, err
	}
	opts, err := rec.Config.RunOptions(rec.ID, filepath.Join(runroot, "seccomp"), userns.Mode() == userns.ModeSingle)
	if err != nil {
		return nil, err
	}
	opts.Scratch, opts.RootOps = scratch, rootOps
	return sandbox.ContainerSpec(cfg.Config, opts)
}

// ScratchDir is the run root and, in it, the directory where an init
// mounts its scratch tmpfs.
func ScratchDir() (runroot, scratch string, err error) {
	if _, _, runroot, err = store.Paths(); err != nil {
		return "", "", err
	}
	scratch, err = sandbox.ScratchDir(runroot)
	return runroot, scratch, err
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

// rootOf is how the sandbox builds its root from the image, by strategy.
// The overlay upper layer lives in rw: the sandbox's scratch tmpfs (gone
// with the sandbox) or the container's directory (keep names it). vfs
// needs a copy: the container's own, kept until rm, or a throw-away one
// that the host side removes afterwards (the sandbox cannot reach the
// store once it pivots).
func rootOf(s *store.Store, img *storage.Image, rw, keep string) ([]sandbox.Op, error) {
	switch s.Strategy {
	case fuse.Overlay, fuse.FuseOverlayfs:
		lower, err := s.LowerDirs(img)
		if err != nil {
			return nil, err
		}
		if s.Strategy == fuse.Overlay {
			return sandbox.OverlayRoot(lower, rw), nil
		}
		prog, err := fuse.FuseOverlayfsPath()
		if err != nil {
			return nil, err
		}
		return sandbox.FuseOverlayRoot(prog, lower, rw), nil
	}
	if keep != "" {
		// The container's own copy, kept until husk rm.
		dir, err := s.ContainerRoot(img, keep)
		return sandbox.BindRoot(dir), err
	}
	dir, id, err := s.CopyRoot(img)
	if err != nil {
		return nil, err
	}
	sandbox.Ask("cleanup", id)
	return sandbox.BindRoot(dir), nil
}
