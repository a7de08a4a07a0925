package cli

import (
	"errors"
	"fmt"
	"io"

	"husk/monitor"
	"husk/monitor/attach"
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
// A run is a container under its monitor, as with run -d, and this husk
// attaches to it: it logs, it detaches on the detach keys, and it goes on
// when this husk is killed. A `run --rm` without -t is the exception, for
// its start speed: this husk launches the sandbox itself (sandbox.Launch,
// or the prelaunch's adopted one) and keeps its record until it ends.
type RunCmd struct {
	ContainerFlags
	Detach     bool     `short:"d" help:"Run in the background and print the container ID."`
	DetachKeys string   `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from the container (with -t)."`
	Image      string   `arg:"" help:"Image to run; pulled when missing."`
	Cmd        []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the image's)."`
}

func (c *RunCmd) Run(g *Globals) error {
	if c.Detach {
		return runDetached(g, &c.ContainerFlags, c.Image, c.Cmd)
	}
	if pre := executor.Prelaunched(); pre != nil {
		return c.adopt(g, pre)
	}
	if !c.Rm || c.TTY {
		return c.runAttached(g)
	}
	// Everything that can be checked on the host is, before any clone.
	cfg, err := c.foregroundConfig(g)
	if err != nil {
		return err
	}
	plan, err := cfg.Mapping()
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
	code, err := c.launch(g, plan, fg, nh)
	fg.finish(g, code)
	return err
}

// runAttached is a run under a monitor, with this husk attached; signals
// it gets go to the container. One that never started leaves nothing.
func (c *RunCmd) runAttached(g *Globals) error {
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
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
		forgetAll(g, ct.ID)
	}
	return relayed(code, detached, err)
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
		o := fg.options(fg.c.Config.LaunchOptions())
		if plan != nil {
			o.Env = append(o.Env, start.EnvPlanKey+"="+start.PlanKey(g.StorageDriver, c.Image, plan))
		}
		var hl *start.HostLaunch
		if !pulled {
			var err error
			if hl, err = start.HostSpec(g.StorageDriver, plan, start.NewRecord(fg.cs, fg.c)); err != nil {
				return ExitHusk, err
			}
		}
		var netErr error
		if err := sandbox.WithNet(&o, nh, &netErr); err != nil {
			return ExitHusk, err
		}
		if hl != nil {
			o.CInit = hl.CSpec
			c.writeLaunch(plan, o, fg.c.ID, hl)
		}
		code, st, err := sandbox.Launch(plan, o)
		if err == nil {
			err = netErr
		}
		if err != nil {
			return ExitHusk, err
		}
		if st.Cleanup != "" {
			_, _ = userns.Call(g.Ctx, io.Discard, store.CallRemoveCopy, g.StorageDriver, st.Cleanup)
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
		if err := pullImage(g, c.Image); err != nil {
			var ee *ExitError
			if errors.As(err, &ee) {
				return ee.Code, err
			}
			return ExitHusk, err
		}
	}
}
