package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	storage "go.podman.io/storage"

	"husk/fuse"
	"husk/pull"
	"husk/sandbox"
	"husk/store"
)

// RunCmd is `husk run`: an image's process in a rootless sandbox.
type RunCmd struct {
	SandboxFlags
	Rm    bool     `help:"Remove the container when it exits (husk's sandboxes leave nothing behind either way for now)."`
	Name  string   `help:"Name of the container."`
	Image string   `arg:"" help:"Image to run; pulled when missing."`
	Cmd   []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the image's)."`
}

func (c *RunCmd) Run(g *Globals) error {
	// Everything that can be checked on the host is, before any clone.
	if err := c.check(); err != nil {
		return err
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	img, err := findOrPull(g, s, c.Image)
	if err != nil {
		return err
	}
	cfg, err := imageConfig(s, img)
	if err != nil {
		return err
	}
	_, _, runroot, err := store.Paths()
	if err != nil {
		return err
	}
	scratch, err := sandbox.ScratchDir(runroot)
	if err != nil {
		return err
	}
	rootOps, cleanup, err := rootOf(s, img, scratch)
	if err != nil {
		return err
	}
	defer cleanup()
	opts, err := c.runOptions(c.Cmd, scratch, rootOps)
	if err != nil {
		return err
	}
	spec, err := sandbox.ContainerSpec(cfg.Config, opts)
	if err != nil {
		return err
	}
	code, err := sandbox.Run(spec, c.launchOptions())
	if err != nil {
		return err
	}
	return &ExitError{Code: code}
}

// findOrPull looks the image up, and pulls it when it is missing, as
// `docker run` does.
func findOrPull(g *Globals, s *store.Store, ref string) (*storage.Image, error) {
	img, err := s.Lookup(ref)
	if err == nil || !errors.Is(err, store.ErrNoSuchImage) {
		return img, err
	}
	if _, perr := store.ParseReference(ref); perr != nil {
		return nil, perr
	}
	fmt.Fprintf(g.Stderr, "Unable to find image '%s' locally\n", ref)
	name, err := pull.Pull(g.Ctx, s, pull.Options{Ref: ref, TLSVerify: true, TTY: isTerminal(os.Stderr), Stderr: g.Stderr})
	if err != nil {
		return nil, err
	}
	return s.Lookup(name)
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

// rootOf is how the init builds the root from the image, by strategy. The
// overlay upper layer lives in the init's scratch tmpfs, so it vanishes
// with the sandbox; vfs needs a copy, removed at the end.
func rootOf(s *store.Store, img *storage.Image, scratch string) ([]sandbox.Op, func(), error) {
	nothing := func() {}
	switch s.Strategy {
	case fuse.Overlay, fuse.FuseOverlayfs:
		lower, err := s.LowerDirs(img)
		if err != nil {
			return nil, nothing, err
		}
		if s.Strategy == fuse.Overlay {
			return sandbox.OverlayRoot(lower, scratch), nothing, nil
		}
		prog, err := fuse.FuseOverlayfsPath()
		if err != nil {
			return nil, nothing, err
		}
		return sandbox.FuseOverlayRoot(prog, lower, scratch), nothing, nil
	}
	dir, cleanup, err := s.CopyRoot(img)
	if err != nil {
		return nil, nothing, err
	}
	return sandbox.BindRoot(dir), cleanup, nil
}
