package cli

import (
	"errors"
	"fmt"

	"husk/monitor"
	"husk/monitor/attach"
	"husk/sandbox"
	"husk/sandbox/executor"
	"husk/start"
	"husk/store/container"
)

// RunCmd is `husk run`: an image's process in a rootless sandbox.
//
// A run is a container under its monitor, as with run -d, and this husk
// attaches to it: it logs, it detaches on the detach keys, and it goes on
// when this husk is killed. A `run --rm` without -t is the exception, for
// its start speed: this husk launches the sandbox itself (start.Supervised,
// or start.Adopt of the prelaunch's) and keeps its record until it ends.
type RunCmd struct {
	ContainerFlags
	Detach     bool     `short:"d" help:"Run in the background and print the container ID."`
	DetachKeys string   `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from the container (with -t)."`
	Join       string   `help:"Share one container among the tasks that give the same NAME (one per node for a Slurm step's ranks: 'step' names the step's): the first creates it, each runs its command in it, the last out removes it." placeholder:"NAME"`
	Image      string   `arg:"" help:"Image to run; pulled when missing."`
	Cmd        []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the image's)."`

	storeName string // the name (as given) that a squashfs store resolved to its file, now Image
}

func (c *RunCmd) Run(g *Globals) error {
	if err := c.fileRun(); err != nil {
		return err
	}
	if c.Join != "" {
		return c.runJoined(g)
	}
	if c.Detach {
		return runDetached(g, &c.ContainerFlags, c.Image, c.Cmd)
	}
	c.stepRm()
	if pre := executor.Prelaunched(); pre != nil {
		cfg, err := c.config(c.Image, c.Cmd, false)
		if err != nil {
			pre.Abandon() // the sandbox must not run unseen
			return err
		}
		return exited(start.Adopt(g.Ctx, g.StorageDriver, cfg, c.Name, c.Cmd, pre))
	}
	if !c.Rm || c.TTY {
		return c.runAttached(g)
	}
	return c.runSupervised(g)
}

// runAttached is a run under a monitor, with this husk attached; signals
// it gets go to the container. One that never started leaves nothing.
func (c *RunCmd) runAttached(g *Globals) error {
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	if err := c.checkTerminal(); err != nil {
		return err
	}
	ct, err := createContainer(g, &c.ContainerFlags, c.Image, c.Cmd)
	if err != nil {
		return err
	}
	a := monitor.Attached{Stdin: c.Interactive, DetachKeys: keys, ProxySignals: true}
	code, detached, err := monitor.StartAttached(ct, a)
	var me *monitor.ExitError
	if errors.As(err, &me) {
		container.Discard(g.Ctx, g.StorageDriver, ct.ID)
	}
	return relayed(code, detached, err)
}

// runSupervised is a `run --rm` without -t, launched by this husk. All
// that can be checked on the host is, before any clone; the image is
// found in the sandbox, after the launch.
func (c *RunCmd) runSupervised(g *Globals) error {
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
	fg, err := start.NewForeground(g.StorageDriver, cfg, c.Name, nh.Ports(), "")
	if err != nil {
		return err
	}
	if nh != nil {
		nh.ExecBinds = container.ExecBindsPath(fg.ID())
	}
	if err := c.writeCIDFile(fg.ID()); err != nil {
		fg.Finish(g.Ctx, ExitHusk)
		return err
	}
	if n := resourceNotice(cfg); n != "" {
		fmt.Fprintln(g.Stderr, n)
	}
	s := &start.Supervised{Driver: g.StorageDriver, Image: c.Image, Mapping: mapping, Net: nh, Launch: c.prelaunch(mapping, cfg),
		Pull: func() error {
			if c.Pull == "never" {
				return fmt.Errorf("image %s is not in the store and --pull never forbids pulling it: pull it first (husk pull %s)", c.Image, c.Image)
			}
			fmt.Fprintf(g.Stderr, "Unable to find image '%s' locally\n", c.Image)
			return pullImage(g, c.Image)
		}}
	code, err := s.Run(g.Ctx, fg)
	fg.Finish(g.Ctx, code)
	return exited(code, err)
}

// exited is a supervised run's end as husk's: the container's code, or an
// error of husk's own with its code (125, or a pull's).
func exited(code int, err error) error {
	var ee *ExitError
	switch {
	case err == nil:
		return &ExitError{Code: code}
	case errors.As(err, &ee):
		return err
	}
	return &ExitError{Code: code, Err: err}
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
