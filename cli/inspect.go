package cli

import (
	"errors"
	"fmt"
	"time"

	"husk/store/container"
	"husk/userns"
)

// InspectCmd is `husk inspect`: containers as Docker shows them, or
// images for names that are not containers.
type InspectCmd struct {
	Format  string   `short:"f" help:"Go template applied to each object."`
	Objects []string `arg:"" name:"name" help:"Container or image names or IDs."`
}

type inspectState struct {
	Status     string
	Running    bool
	Restarting bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
}

type inspectContainer struct {
	Id           string
	Created      string
	Path         string
	Args         []string
	State        inspectState
	Image        string
	Name         string
	RestartCount int
	Config       struct {
		Image     string
		Cmd       []string
		Tty       bool
		OpenStdin bool
		Labels    map[string]string
	}
	HostConfig struct {
		AutoRemove    bool
		RestartPolicy struct {
			Name              string
			MaximumRetryCount int
		}
		PortBindings []string
	}
	LogPath string
}

func (c *InspectCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	var out []inspectContainer
	for _, q := range c.Objects {
		ct, err := cs.Find(q)
		if errors.Is(err, container.ErrNoSuchContainer) {
			// Docker's inspect takes images too.
			code, err := userns.Call(g.Ctx, g.Stdout, callImageInspect, g.StorageDriver, c.Format, q)
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("inspect %s: %w", q, err)
		}
		out = append(out, describeContainer(ct))
	}
	if len(out) == 0 {
		return nil
	}
	return printInspect(g.Stdout, c.Format, out)
}

func describeContainer(ct *container.Container) inspectContainer {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	ic := inspectContainer{Id: ct.ID, Created: ts(ct.Created), Image: "sha256:" + ct.Config.ImageID,
		Name: "/" + ct.Name, RestartCount: ct.Restarts, LogPath: ct.LogPath()}
	if len(ct.Command) > 0 {
		ic.Path, ic.Args = ct.Command[0], ct.Command[1:]
	}
	live := ct.Live()
	ic.State = inspectState{Status: ct.State.Status, Running: live && ct.State.Status == container.Running,
		Restarting: live && ct.State.Status == container.Restarting, ExitCode: ct.ExitCode,
		Error: ct.Error, StartedAt: ts(ct.StartedAt), FinishedAt: ts(ct.FinishedAt)}
	if live {
		ic.State.Pid = ct.InitPID
	}
	cfg := ct.Config
	ic.Config.Image, ic.Config.Cmd, ic.Config.Tty, ic.Config.OpenStdin = cfg.Image, ct.Command, cfg.Terminal(), cfg.Interactive
	ic.Config.Labels = cfg.Labels
	if ic.Config.Labels == nil {
		ic.Config.Labels = map[string]string{}
	}
	ic.HostConfig.AutoRemove = cfg.AutoRemove
	ic.HostConfig.RestartPolicy.Name, ic.HostConfig.RestartPolicy.MaximumRetryCount = cfg.Restart.Name, cfg.Restart.MaximumRetryCount
	for _, p := range cfg.Ports {
		ic.HostConfig.PortBindings = append(ic.HostConfig.PortBindings, p.String())
	}
	return ic
}
