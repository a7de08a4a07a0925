package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	storage "go.podman.io/storage"

	"husk/fuse"
	"husk/network"
	"husk/sandbox"
	"husk/sandbox/executor"
	"husk/store"
	"husk/userns"
)

// RunCmd is `husk run`: an image's process in a rootless sandbox.
//
// On the host it resolves the flags into the container's config, writes
// the record and launches husk again as the sandbox's PID 1 (sandbox.Launch)
// with argv `husk container-init ID`; there, inside every namespace,
// becomeInit finds the image, builds the Spec from the config and becomes
// the sandbox.
type RunCmd struct {
	ContainerFlags
	Detach bool     `short:"d" help:"Run in the background and print the container ID."`
	Image  string   `arg:"" help:"Image to run; pulled when missing."`
	Cmd    []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the image's)."`
}

func (c *RunCmd) Run(g *Globals) error {
	if c.Detach {
		return runDetached(g, &c.ContainerFlags, c.Image, c.Cmd)
	}
	if pre := executor.Prelaunched(); pre != nil {
		return c.adopt(g, pre)
	}
	// Everything that can be checked on the host is, before any clone.
	cfg, err := c.foregroundConfig(g)
	if err != nil {
		return err
	}
	plan, err := planFor(cfg)
	if err != nil {
		return err
	}
	nh, err := cfg.NetHost()
	if err != nil {
		return err
	}
	defer nh.Close()
	fg, err := newForeground(g, cfg, c.Name, nh.Ports(), "")
	if err != nil {
		return err
	}
	if nh != nil {
		nh.ExecBinds = execBindsPath(fg.c.ID)
	}
	code, err := c.launch(g, plan, fg, nh)
	fg.finish(g, code)
	return err
}

// foregroundConfig is the run's config. The image is found in the sandbox,
// after the launch; only -P needs it (its EXPOSE ports) now.
func (c *RunCmd) foregroundConfig(g *Globals) (*sandbox.Config, error) {
	cfg, err := c.config(c.Image, c.Cmd, false)
	if err != nil || !c.PublishAll {
		return cfg, err
	}
	img, err := findOrPull(g, c.Image)
	if err != nil {
		return nil, err
	}
	return cfg, withImage(cfg, img)
}

func exposedPorts(img *inspectImage) []string {
	var out []string
	for p := range img.Config.ExposedPorts {
		out = append(out, p)
	}
	return out
}

// launch runs the sandbox in the foreground, pulling a missing image on
// the way, and returns its exit code.
func (c *RunCmd) launch(g *Globals, plan *userns.Plan, fg *foreground, nh *network.Host) (int, error) {
	for pulled := false; ; pulled = true {
		o := fg.options(launchOptions(fg.c.Config))
		if plan != nil {
			o.Env = append(o.Env, envPlanKey+"="+planKey(g, c.Image, plan))
		}
		var hl *hostLaunch
		if !pulled {
			var err error
			if hl, err = hostSpec(g, plan, fg); err != nil {
				return ExitHusk, err
			}
		}
		var netErr error
		if err := sandbox.WithNet(&o, nh, &netErr); err != nil {
			return ExitHusk, err
		}
		if hl != nil {
			o.CInit = hl.cspec
			c.writeLaunch(g, plan, o, fg.c.ID, hl)
		}
		code, st, err := sandbox.Launch(plan, o)
		if err == nil {
			err = netErr
		}
		if err != nil {
			return ExitHusk, err
		}
		if st.Cleanup != "" {
			runHusk(g, "system", "remove-copy", st.Cleanup)
		}
		if st.Pull != "" && pulled {
			return ExitHusk, fmt.Errorf("run %s: the image is still missing after pulling it: see 'husk images'", c.Image)
		}
		if st.Pull == "" {
			return code, &ExitError{Code: code}
		}
		// Missing: pull on the host's network, as `docker run` does, then
		// launch again.
		fmt.Fprintf(g.Stderr, "Unable to find image '%s' locally\n", c.Image)
		if code := runHusk(g, "pull", c.Image); code != 0 {
			return code, &ExitError{Code: code}
		}
	}
}

// becomeInit is the sandbox side of container id: PID 1 in the new
// namespaces. It returns only when it failed before it became the sandbox.
func becomeInit(g *Globals, id string) error {
	rec, err := ownRecord(id)
	if err != nil {
		return err
	}
	cfg := rec.Config
	g.StorageDriver = rec.StorageDriver
	s, err := store.Open(g.StorageDriver)
	if err != nil {
		return err
	}
	ref, stamp := cfg.Image, ""
	if cfg.ImageID != "" {
		ref = cfg.ImageID // the image it was created from, even if retagged
	} else {
		_, graphroot, _, _ := store.Paths()
		stamp = store.StoreStamp(graphroot)
	}
	img, err := holdImage(s, ref)
	if errors.Is(err, store.ErrNoSuchImage) {
		if _, perr := store.ParseReference(cfg.Image); perr != nil {
			return perr
		}
		sandbox.Ask("pull", cfg.Image)
		return &ExitError{Code: ExitHusk}
	}
	if err != nil {
		return err
	}
	spec, err := initSpec(s, img, rec)
	if err == nil {
		recordPlan(s, img, stamp)
	}
	s.Close()
	if err != nil {
		return err
	}
	if err := rec.remember(img.ID, spec); err != nil {
		return err
	}
	if sandbox.CInitSupports(spec) {
		c, err := cSpec(spec, img.ID)
		if err != nil {
			return err
		}
		return sandbox.BecomeC(c)
	}
	sandbox.Become(spec)
	return nil
}

// holdImage finds the image and marks it in use for the sandbox's life.
// It looks again once the mark is held: an rmi that won the race has
// removed the image by then, and the image counts as missing.
func holdImage(s *store.Store, ref string) (*storage.Image, error) {
	img, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if err := s.HoldImage(img.ID); err != nil {
		return nil, err
	}
	if _, err := s.Image(img.ID); err != nil {
		return nil, fmt.Errorf("%w: it was removed while the container started", store.ErrNoSuchImage)
	}
	return img, nil
}

// initSpec is the spec of one start: the container's config on the
// image's, with its root.
func initSpec(s *store.Store, img *storage.Image, rec *ownContainer) (*sandbox.Spec, error) {
	cfg, err := imageConfig(s, img)
	if err != nil {
		return nil, err
	}
	runroot, scratch, err := scratchDir()
	if err != nil {
		return nil, err
	}
	// A container that outlives this start keeps its upper layer in its
	// directory in the store; a --rm one in the scratch tmpfs.
	rw, keep := scratch, ""
	if !rec.Config.AutoRemove {
		if rw, err = rec.upperBase(); err != nil {
			return nil, err
		}
		keep = rec.ID
	}
	rootOps, err := rootOf(s, img, rw, keep)
	if err != nil {
		return nil, err
	}
	opts, err := rec.Config.RunOptions(rec.ID, filepath.Join(runroot, "seccomp"))
	if err != nil {
		return nil, err
	}
	opts.Scratch, opts.RootOps, opts.NoSetGroups = scratch, rootOps, userns.Mode() == userns.ModeSingle
	return sandbox.ContainerSpec(cfg.Config, opts)
}

// scratchDir is the run root and, in it, the directory where an init
// mounts its scratch tmpfs.
func scratchDir() (runroot, scratch string, err error) {
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

// runHusk runs husk again on the host with the terminal, for the steps a
// sandbox asks of it, and returns its exit code.
func runHusk(g *Globals, args ...string) int {
	cmd := newHusk(huskArgs(g.StorageDriver, args...)...)
	// The run's own stdout belongs to the sandbox's process.
	cmd.Stdout = os.Stderr
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "husk: "+err.Error())
		return ExitHusk
	}
	return sandbox.ExitCode(cmd.ProcessState)
}

func newHusk(args ...string) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd
}
