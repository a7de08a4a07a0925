package cli

import (
	"errors"
	"fmt"
	"strings"

	"husk/store/container"
	"husk/store/volume"
	"husk/userns"
)

// VolumeCmd is `husk volume`: named and anonymous volumes (store/volume).
type VolumeCmd struct {
	Create  VolumeCreateCmd  `cmd:"" help:"Create a volume."`
	Ls      VolumeLsCmd      `cmd:"" aliases:"list" help:"List volumes."`
	Inspect VolumeInspectCmd `cmd:"" help:"Show volumes in JSON."`
	Rm      VolumeRmCmd      `cmd:"" aliases:"remove" help:"Remove volumes no container uses."`
	Prune   VolumePruneCmd   `cmd:"" help:"Remove the anonymous volumes no container uses (all unused ones with -a)."`
}

// VolumeCreateCmd is `husk volume create`.
type VolumeCreateCmd struct {
	Label  []string `help:"Set a label: KEY=VALUE." placeholder:"KEY=VALUE"`
	Opt    []string `short:"o" help:"Driver option: type=tmpfs|bind, device=PATH, o=OPTIONS." placeholder:"KEY=VALUE"`
	Driver string   `short:"d" default:"local" help:"Driver: local only."`
	Name   string   `arg:"" optional:"" help:"Name (default: a generated one)."`
}

func (c *VolumeCreateCmd) Run(g *Globals) error {
	if c.Driver != "local" {
		return fmt.Errorf("volume driver %q: husk has the local driver only: drop -d", c.Driver)
	}
	labels, err := keyValues("--label", c.Label)
	if err != nil {
		return err
	}
	opts, err := keyValues("--opt", c.Opt)
	if err != nil {
		return err
	}
	vs, err := volume.Open()
	if err != nil {
		return err
	}
	v, _, err := vs.Create(volume.Spec{Name: c.Name, Labels: labels, Options: opts})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, v.Name)
	return nil
}

// keyValues reads repeated KEY=VALUE flags.
func keyValues(flag string, list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: use KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	if len(out) == 0 && flag == "--opt" {
		return nil, nil
	}
	return out, nil
}

// VolumeInspectCmd is `husk volume inspect`.
type VolumeInspectCmd struct {
	Format  string   `short:"f" help:"Go template per volume."`
	Volumes []string `arg:"" name:"volume" help:"Volume names."`
}

func (c *VolumeInspectCmd) Run(g *Globals) error {
	vs, err := volume.Open()
	if err != nil {
		return err
	}
	out := []*volume.Volume{}
	var errs []error
	for _, n := range c.Volumes {
		v, err := vs.Get(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: see 'husk volume ls'", err))
			continue
		}
		out = append(out, v)
	}
	if err := printInspect(g.Stdout, c.Format, out); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// VolumeRmCmd is `husk volume rm`.
type VolumeRmCmd struct {
	Force   bool     `short:"f" help:"Ignore volumes that do not exist."`
	Volumes []string `arg:"" name:"volume" help:"Volume names."`
}

func (c *VolumeRmCmd) Run(g *Globals) error {
	// A volume's files may be the namespace's other ids'.
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	vs, users, err := openVolumes()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range c.Volumes {
		if u := users[n]; len(u) > 0 {
			errs = append(errs, fmt.Errorf("volume %s is in use by container %s: remove the container first (husk rm %s)", n, u[0], u[0]))
			continue
		}
		err := vs.Remove(n)
		if errors.Is(err, volume.ErrNoSuchVolume) && c.Force {
			err = nil
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.Stdout, n)
	}
	return errors.Join(errs...)
}

// openVolumes is the volumes and which containers use each.
func openVolumes() (*volume.Store, map[string][]string, error) {
	vs, err := volume.Open()
	if err != nil {
		return nil, nil, err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, nil, err
	}
	users, err := cs.VolumeUsers()
	return vs, users, err
}
