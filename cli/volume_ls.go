package cli

import (
	"fmt"
	"strings"

	units "github.com/docker/go-units"

	"husk/store/volume"
	"husk/userns"
)

// VolumeLsCmd is `husk volume ls`.
type VolumeLsCmd struct {
	Quiet  bool     `short:"q" help:"Only print volume names."`
	Filter []string `short:"f" help:"Filter: name=, label=KEY[=VALUE], dangling=true|false, driver=local." placeholder:"KEY=VALUE"`
	Format string   `help:"Go template per volume, 'table TEMPLATE', or json."`
}

// volumeRow has Docker's field names, for --format.
type volumeRow struct {
	Driver     string
	Name       string `header:"VOLUME NAME"`
	Mountpoint string
	Scope      string
	Labels     string
	CreatedAt  string `header:"CREATED AT"`
}

func (c *VolumeLsCmd) Run(g *Globals) error {
	keep, err := volumeFilter(c.Filter)
	if err != nil {
		return err
	}
	vs, users, err := openVolumes()
	if err != nil {
		return err
	}
	all, err := vs.List()
	if err != nil {
		return err
	}
	var rows []volumeRow
	for _, v := range all {
		if keep(v, len(users[v.Name]) > 0) {
			rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope,
				Labels: labelText(v.Labels), CreatedAt: v.CreatedAt})
		}
	}
	return printRows(g.Stdout, c.Quiet, c.Format, "table {{.Driver}}\t{{.Name}}", rows, func(r volumeRow) string { return r.Name })
}

// volumeFilter is ls's --filter: every key given must match (values of one
// key: any of them).
func volumeFilter(specs []string) (func(volume.Info, bool) bool, error) {
	by := map[string][]string{}
	for _, s := range specs {
		k, v, ok := strings.Cut(s, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE", s)
		case k == "dangling" && v != "true" && v != "false" && v != "1" && v != "0":
			return nil, fmt.Errorf("--filter %q: dangling takes true or false", s)
		case k != "name" && k != "label" && k != "dangling" && k != "driver":
			return nil, fmt.Errorf("--filter %q: unknown key %q: use name=, label=, dangling= or driver=", s, k)
		}
		by[k] = append(by[k], v)
	}
	return func(v volume.Info, used bool) bool {
		for k, vals := range by {
			if !anyMatch(vals, func(want string) bool { return volumeMatch(v, used, k, want) }) {
				return false
			}
		}
		return true
	}, nil
}

func volumeMatch(v volume.Info, used bool, k, want string) bool {
	switch k {
	case "name":
		return strings.Contains(v.Name, want)
	case "driver":
		return want == v.Driver
	case "dangling":
		return used == (want == "false" || want == "0")
	}
	lk, lv, hasV := strings.Cut(want, "=")
	got, ok := v.Labels[lk]
	return ok && (!hasV || got == lv)
}

func anyMatch(vals []string, f func(string) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
	}
	return false
}

// VolumePruneCmd is `husk volume prune`.
type VolumePruneCmd struct {
	All    bool     `short:"a" help:"Remove every unused volume, not only anonymous ones."`
	Force  bool     `short:"f" help:"Do not ask for confirmation."`
	Filter []string `help:"Filter: label=KEY[=VALUE]." placeholder:"KEY=VALUE"`
}

func (c *VolumePruneCmd) Run(g *Globals) error {
	keep, err := volumeFilter(c.Filter)
	if err != nil {
		return err
	}
	what := "all anonymous local volumes not used by at least one container"
	if c.All {
		what = "all local volumes not used by at least one container"
	}
	if !c.Force && !userns.Reexecuted() && !confirm(g, "WARNING! This will remove "+what+".\nAre you sure you want to continue? [y/N] ") {
		return nil
	}
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	names, freed, err := pruneVolumes(c.All, keep)
	if len(names) > 0 {
		fmt.Fprintln(g.Stdout, "Deleted Volumes:\n"+strings.Join(names, "\n")+"\n")
	}
	fmt.Fprintln(g.Stdout, "Total reclaimed space: "+units.HumanSizeWithPrecision(float64(freed), 3))
	return err
}

// pruneVolumes removes the unused volumes (anonymous ones only unless
// all), in husk's user namespace; system prune --volumes uses it too.
func pruneVolumes(all bool, keep func(volume.Info, bool) bool) (names []string, freed int64, err error) {
	vs, users, err := openVolumes()
	if err != nil {
		return nil, 0, err
	}
	list, err := vs.List()
	if err != nil {
		return nil, 0, err
	}
	for _, v := range list {
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || (keep != nil && !keep(v, false)) {
			continue
		}
		size := diskUsage(v.Mountpoint)
		if err := vs.Remove(v.Name); err != nil {
			return names, freed, err
		}
		names, freed = append(names, v.Name), freed+size
	}
	return names, freed, nil
}
