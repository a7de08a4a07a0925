package cli

import (
	"errors"
	"fmt"

	"husk/network"
	"husk/sandbox"
	"husk/sandbox/executor"
	"husk/start"
	"husk/store"
	"husk/store/container"
	"husk/userns"
)

// RunCmd is `husk run`: an image's process in a rootless sandbox.
//
// On the host it resolves the flags into the container's config, writes
// the record, plans the start (start.HostSpec) and launches the C executor
// as the sandbox's PID 1 (sandbox.Launch), with argv `husk container-init
// ID`.
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
	mapping, err := cfg.Mapping()
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
		nh.ExecBinds = container.ExecBindsPath(fg.c.ID)
	}
	if err := c.writeCIDFile(fg.c.ID); err != nil {
		fg.finish(g, ExitHusk)
		return err
	}
	if n := resourceNotice(cfg); n != "" {
		fmt.Fprintln(g.Stderr, n)
	}
	code, err := c.launch(g, mapping, fg, nh)
	fg.finish(g, code)
	return err
}

// foregroundConfig is the run's config. The image is found as the start is
// planned (start.HostSpec); only -P needs it (its EXPOSE ports) now, and
// --pull always pulls it first.
func (c *RunCmd) foregroundConfig(g *Globals) (*sandbox.Config, error) {
	cfg, err := c.config(c.Image, c.Cmd, false)
	if err != nil {
		return nil, err
	}
	if c.Pull == "always" && !c.PublishAll {
		return cfg, pullImage(g, c.Image)
	}
	if !c.PublishAll {
		return cfg, nil
	}
	img, err := findImage(g, c.Image, c.Pull)
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
func (c *RunCmd) launch(g *Globals, mapping *userns.Mapping, fg *foreground, nh *network.Host) (int, error) {
	hl, err := c.hostSpec(g, mapping, fg)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return ee.Code, err
		}
		return ExitHusk, err
	}
	defer hl.Done(g.Ctx)
	o := fg.options(fg.c.Config.LaunchOptions())
	var netErr error
	if err := sandbox.WithNet(&o, nh, &netErr); err != nil {
		return ExitHusk, err
	}
	o.CInit = hl.CSpec
	if hl.Reusable() {
		c.writeLaunch(mapping, o, fg.c.ID, hl)
	}
	code, _, err := sandbox.Launch(mapping, o)
	if err == nil {
		err = netErr
	}
	if err != nil {
		return ExitHusk, err
	}
	return code, &ExitError{Code: code}
}

// hostSpec plans the start, pulling the image first when it is missing,
// on the host's network, as `docker run` does.
func (c *RunCmd) hostSpec(g *Globals, mapping *userns.Mapping, fg *foreground) (*start.HostLaunch, error) {
	rec := start.NewRecord(fg.cs, fg.c)
	hl, err := start.HostSpec(g.Ctx, g.StorageDriver, mapping, rec)
	if !errors.Is(err, start.ErrNoSuchImage) {
		return hl, err
	}
	if _, perr := store.ParseReference(c.Image); perr != nil {
		return nil, perr
	}
	if c.Pull == "never" {
		return nil, fmt.Errorf("image %s is not in the store and --pull never forbids pulling it: pull it first (husk pull %s)", c.Image, c.Image)
	}
	fmt.Fprintf(g.Stderr, "Unable to find image '%s' locally\n", c.Image)
	if err := pullImage(g, c.Image); err != nil {
		return nil, err
	}
	hl, err = start.HostSpec(g.Ctx, g.StorageDriver, mapping, rec)
	if errors.Is(err, start.ErrNoSuchImage) {
		return nil, fmt.Errorf("run %s: the image is still missing after pulling it: see 'husk images'", c.Image)
	}
	return hl, err
}
