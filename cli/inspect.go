package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"husk/store/container"
	"husk/userns"
)

// InspectCmd is `husk inspect`: containers as Docker shows them, or
// images for names that are not containers.
type InspectCmd struct {
	Format  string   `short:"f" help:"Go template applied to each object."`
	Type    string   `help:"Only look for this kind of object: container or image."`
	Size    bool     `short:"s" help:"Add the container's sizes (SizeRw, SizeRootFs)."`
	Objects []string `arg:"" name:"name" help:"Container or image names or IDs."`
}

type inspectState struct {
	Status     string
	Running    bool
	Paused     bool
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
		Hostname   string
		Image      string
		Env        []string
		Cmd        []string
		Entrypoint []string
		WorkingDir string
		Labels     map[string]string
		Tty        bool
		OpenStdin  bool
	}
	HostConfig struct {
		AutoRemove    bool
		Privileged    bool
		NetworkMode   string
		RestartPolicy struct {
			Name              string
			MaximumRetryCount int
		}
		PortBindings    portMap
		PublishAllPorts bool
	}
	NetworkSettings inspectNetworkSettings
	Mounts          []inspectMount
	LogPath         string
	// With -s: the container's own files, and with its image's.
	SizeRw     *int64 `json:",omitempty"`
	SizeRootFs *int64 `json:",omitempty"`
}

func (c *InspectCmd) Run(g *Globals) error {
	if c.Type != "" && c.Type != "container" && c.Type != "image" {
		return fmt.Errorf("invalid --type %q: use container or image", c.Type)
	}
	if c.Type == "image" {
		return c.images(g, c.Objects)
	}
	if c.Size {
		// The container's files belong to the namespace's ids.
		if err := userns.Enter(g.Ctx); err != nil {
			return err
		}
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	var cts []*container.Container
	for _, q := range c.Objects {
		ct, err := cs.Find(q)
		if errors.Is(err, container.ErrNoSuchContainer) && c.Type == "" {
			// Docker's inspect takes images too.
			if err := c.images(g, []string{q}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("inspect %s: %w", q, err)
		}
		cts = append(cts, ct)
	}
	if len(cts) == 0 {
		return nil
	}
	return printInspect(g.Stdout, c.Format, c.describe(g, cts))
}

func (c *InspectCmd) images(g *Globals, names []string) error {
	code, err := userns.Call(g.Ctx, g.Stdout, callImageInspect, append([]string{g.StorageDriver, c.Format}, names...)...)
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

func (c *InspectCmd) describe(g *Globals, cts []*container.Container) []inspectContainer {
	var ids []string
	for _, ct := range cts {
		ids = append(ids, ct.Config.ImageID)
	}
	imgs := map[string]inspectConfig{}
	if needsImage(c.Format) {
		imgs = imageConfigs(g, ids)
	}
	var sizes map[string]int64
	if c.Size {
		sizes = imageSizes(g)
	}
	out := make([]inspectContainer, 0, len(cts))
	for _, ct := range cts {
		ic := describeContainer(ct, imgs[ct.Config.ImageID])
		if c.Size {
			rw := diskUsage(ct.Dir())
			root := rw + sizes[ct.Config.ImageID]
			ic.SizeRw, ic.SizeRootFs = &rw, &root
		}
		out = append(out, ic)
	}
	return out
}

// wholeObject is a template that prints the whole object: {{.}} or
// {{json .}}. Compiled on first use, not at every start of husk.
var wholeObject = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{\{-?\s*(json\s+)?\.\s*-?\}\}`) })

// needsImage reports whether the output may show what comes from the
// image's config (its environment, labels, entrypoint, working
// directory): reading it costs a call into husk's namespace, which a
// script polling {{.State.Pid}} should not pay.
func needsImage(format string) bool {
	return format == "" || strings.Contains(format, "Config") || wholeObject().MatchString(format)
}

func describeContainer(ct *container.Container, img inspectConfig) inspectContainer {
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
		if ct.Paused {
			ic.State.Status, ic.State.Paused = "paused", true
		}
	}
	cfg := ct.Config
	ic.Config.Image, ic.Config.Cmd, ic.Config.Tty, ic.Config.OpenStdin = cfg.Image, ct.Command, cfg.Terminal(), cfg.Interactive
	ic.Config.Hostname, ic.Config.Entrypoint, ic.Config.WorkingDir = cfg.OCI.Hostname, img.Entrypoint, img.WorkingDir
	if ic.Config.Hostname == "" {
		ic.Config.Hostname = ct.ID[:12]
	}
	if e := cfg.Entrypoint; e != nil {
		ic.Config.Entrypoint = nil
		if *e != "" {
			ic.Config.Entrypoint = []string{*e}
		}
	}
	var own []string
	if p := cfg.OCI.Process; p != nil {
		own = p.Env
		if p.Cwd != "" {
			ic.Config.WorkingDir = p.Cwd
		}
	}
	ic.Config.Env = mergeEnv(img.Env, own)
	ic.Config.Labels = containerLabels(img, cfg.Labels)
	ic.HostConfig.AutoRemove, ic.HostConfig.Privileged, ic.HostConfig.NetworkMode = cfg.AutoRemove, cfg.Privileged, cfg.Network.Mode
	ic.HostConfig.RestartPolicy.Name, ic.HostConfig.RestartPolicy.MaximumRetryCount = cfg.Restart.Name, cfg.Restart.MaximumRetryCount
	ic.HostConfig.PortBindings = portMapOf(portSpecs(cfg.Ports), false)
	ic.HostConfig.PublishAllPorts = cfg.PublishAll
	ic.NetworkSettings = networkSettings(ct)
	if live {
		// Docker lists the image's exposed ports too, unpublished ones as null.
		for p := range img.ExposedPorts {
			if _, ok := ic.NetworkSettings.Ports[p]; !ok {
				ic.NetworkSettings.Ports[p] = nil
			}
		}
	}
	ic.Mounts = mountsOf(cfg)
	return ic
}
