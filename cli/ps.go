package cli

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"husk/store/container"
	"husk/userns"
)

// PsCmd is `husk ps`.
type PsCmd struct {
	All     bool     `short:"a" help:"Show all containers (default: running ones)."`
	Quiet   bool     `short:"q" help:"Only print container IDs."`
	NoTrunc bool     `name:"no-trunc" help:"Do not truncate IDs and commands."`
	Filter  []string `short:"f" help:"Filter: id=, name=, label=KEY[=VALUE], status=created|running|paused|restarting|exited, ancestor=IMAGE, exited=CODE." placeholder:"KEY=VALUE"`
	Format  string   `help:"Go template per container, 'table TEMPLATE', or json."`
	Latest  bool     `short:"l" help:"Show the latest created container (in any state)."`
	Last    int      `short:"n" default:"-1" help:"Show the N last created containers (in any state)."`
	Size    bool     `short:"s" help:"Show the size of each container's files."`
}

// psRow has Docker's field names, for --format.
type psRow struct {
	ID         string `header:"CONTAINER ID"`
	Image      string
	Command    string
	CreatedAt  string `header:"CREATED AT"`
	RunningFor string `header:"CREATED"`
	Status     string
	State      string
	Ports      string
	Names      string
	Labels     string
	Mounts     string
	Networks   string
	// LocalVolumes: husk has no named volumes.
	LocalVolumes string `header:"LOCAL VOLUMES"`
	Size         string `json:",omitempty"`
	labels       map[string]string
}

// Label is one label's value, for --format '{{.Label "KEY"}}' as Docker's.
func (r psRow) Label(key string) string { return r.labels[key] }

func (c *PsCmd) Run(g *Globals) error {
	if c.Size {
		// The containers' files belong to the namespace's ids.
		if err := userns.Enter(g.Ctx); err != nil {
			return err
		}
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	all, err := cs.List()
	if err != nil {
		return err
	}
	if c.Latest {
		c.Last = 1
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	labels := c.labels(g, all)
	match, err := psFilter(c.Filter, labels)
	if err != nil {
		return err
	}
	var sizes map[string]int64
	if c.Size {
		sizes = imageSizes(g)
	}
	var rows []psRow
	for _, ct := range all {
		// -n and -l count every container, as Docker's do.
		if (!c.All && c.Last <= 0 && !ct.Live() && len(c.Filter) == 0) || !match(ct) {
			continue
		}
		if c.Last > 0 && len(rows) >= c.Last {
			break
		}
		r := c.row(ct)
		r.labels, r.Labels = labels[ct.ID], labelText(labels[ct.ID])
		if c.Size {
			r.Size = sizeText(diskUsage(ct.Dir()), sizes[ct.Config.ImageID])
		}
		rows = append(rows, r)
	}
	return c.print(g.Stdout, rows)
}

// labels are the containers' labels, read only when a filter or the
// format may show them (the images' configs cost a call into the store).
// With -s, husk is in its namespace already.
func (c *PsCmd) labels(g *Globals, all []*container.Container) map[string]map[string]string {
	out := map[string]map[string]string{}
	need := c.Format == "json" || strings.Contains(c.Format, "Label")
	for _, f := range c.Filter {
		need = need || strings.HasPrefix(f, "label=")
	}
	if !need {
		return out
	}
	var ids []string
	for _, ct := range all {
		ids = append(ids, ct.Config.ImageID)
	}
	imgs := imageConfigs(g, ids)
	for _, ct := range all {
		out[ct.ID] = containerLabels(imgs[ct.Config.ImageID], ct.Config.Labels)
	}
	return out
}

// labelText is Docker's ps Labels column: KEY=VALUE,... in key order.
func labelText(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// sizeText is Docker's SIZE column: the container's own files, and with
// its image's.
func sizeText(rw, image int64) string {
	srw := units.HumanSizeWithPrecision(float64(rw), 3)
	if rw+image <= 0 {
		return srw
	}
	return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(rw+image), 3))
}

func (c *PsCmd) row(ct *container.Container) psRow {
	id, cmd := ct.ID[:12], quoteCommand(ct.Command)
	if c.NoTrunc {
		id = ct.ID
	} else if len(cmd) > 22 {
		cmd = cmd[:21] + "…\""
	}
	return psRow{ID: id, Image: ct.Config.Image, Command: cmd,
		CreatedAt:  ct.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: units.HumanDuration(time.Since(ct.Created)) + " ago",
		Status:     statusText(ct), State: stateOf(ct),
		Ports: strings.Join(portsShown(ct), ", "), Names: ct.Name,
		Mounts: mountsText(ct), Networks: ct.Config.Network.Mode, LocalVolumes: "0"}
}

// mountsText is Docker's ps Mounts column: each bind's host path.
func mountsText(ct *container.Container) string {
	var out []string
	for _, m := range mountsOf(ct.Config) {
		out = append(out, m.Source)
	}
	return strings.Join(out, ",")
}

func quoteCommand(args []string) string {
	return strconv.Quote(strings.Join(args, " "))
}

// stateOf is Docker's state word: paused is a running container's.
func stateOf(ct *container.Container) string {
	if ct.State.Status == container.Running && ct.Paused {
		return "paused"
	}
	return ct.State.Status
}

// statusText is Docker's STATUS column.
func statusText(ct *container.Container) string {
	switch ct.State.Status {
	case container.Running:
		if ct.Paused {
			return "Up " + units.HumanDuration(time.Since(ct.StartedAt)) + " (Paused)"
		}
		return "Up " + units.HumanDuration(time.Since(ct.StartedAt))
	case container.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", ct.ExitCode, units.HumanDuration(time.Since(ct.FinishedAt)))
	case container.Exited:
		return fmt.Sprintf("Exited (%d) %s ago", ct.ExitCode, units.HumanDuration(time.Since(ct.FinishedAt)))
	}
	return "Created"
}

// psFilter reads --filter KEY=VALUE; filters of one key are alternatives,
// of different keys all must hold (Docker's rule).
func psFilter(specs []string, labels map[string]map[string]string) (func(*container.Container) bool, error) {
	by := map[string][]string{}
	for _, f := range specs {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("invalid --filter %q: use KEY=VALUE", f)
		case k != "id" && k != "name" && k != "status" && k != "ancestor" && k != "exited" && k != "label":
			return nil, fmt.Errorf("invalid --filter %q: use id=, name=, label=, status=, ancestor= or exited=", f)
		}
		if k == "name" {
			if _, err := regexp.Compile(v); err != nil {
				return nil, fmt.Errorf("invalid --filter %q: %w: name= takes a regular expression, as Docker's does", f, err)
			}
		}
		by[k] = append(by[k], v)
	}
	test := map[string]func(*container.Container, string) bool{
		"id":     func(c *container.Container, v string) bool { return strings.HasPrefix(c.ID, v) },
		"name":   func(c *container.Container, v string) bool { return regexp.MustCompile(v).MatchString(c.Name) },
		"status": func(c *container.Container, v string) bool { return stateOf(c) == v },
		"label": func(c *container.Container, v string) bool {
			k, want, withValue := strings.Cut(v, "=")
			got, ok := labels[c.ID][k]
			return ok && (!withValue || got == want)
		},
		"ancestor": func(c *container.Container, v string) bool {
			return c.Config.Image == v || (c.Config.ImageID != "" && strings.HasPrefix(c.Config.ImageID, strings.TrimPrefix(v, "sha256:")))
		},
		"exited": func(c *container.Container, v string) bool {
			return c.State.Status == container.Exited && strconv.Itoa(c.ExitCode) == v
		},
	}
	return func(c *container.Container) bool {
		for k, vs := range by {
			// Labels must all be there, as in Docker; other keys' values
			// are alternatives.
			ok := k == "label"
			for _, v := range vs {
				if k == "label" {
					ok = ok && test[k](c, v)
				} else {
					ok = ok || test[k](c, v)
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

func (c *PsCmd) print(w io.Writer, rows []psRow) error {
	table := psTable
	if c.Size {
		table += "\t{{.Size}}"
	}
	return printRows(w, c.Quiet, c.Format, table, rows, func(r psRow) string { return r.ID })
}

// portsShown are the bound ports as Docker shows them: 0.0.0.0:8080->80/tcp.
func portsShown(ct *container.Container) []string {
	if !ct.Live() {
		return nil
	}
	var out []string
	for _, p := range ct.Bound {
		out = append(out, portArrow(p))
	}
	return out
}

// portArrow turns -p syntax (HOST_IP:HOST_PORT:PORT/PROTO) into Docker's
// HOST_IP:HOST_PORT->PORT/PROTO, with 0.0.0.0 for every address.
func portArrow(p string) string {
	host, cport := splitPort(p)
	return host + "->" + cport
}

// splitPort splits a bound port into the host's address:port and the
// container's port/proto.
func splitPort(p string) (host, cport string) {
	i := strings.LastIndex(p, ":")
	if i < 0 {
		return "", p
	}
	host, cport = p[:i], p[i+1:]
	if !strings.Contains(host, ":") {
		host = "0.0.0.0:" + host
	}
	return host, cport
}
