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
)

// PsCmd is `husk ps`.
type PsCmd struct {
	All     bool     `short:"a" help:"Show all containers (default: running ones)."`
	Quiet   bool     `short:"q" help:"Only print container IDs."`
	NoTrunc bool     `name:"no-trunc" help:"Do not truncate IDs and commands."`
	Filter  []string `short:"f" help:"Filter: id=, name=, status=created|running|restarting|exited, ancestor=IMAGE, exited=CODE." placeholder:"KEY=VALUE"`
	Format  string   `help:"Go template per container, 'table TEMPLATE', or json."`
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
}

func (c *PsCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	all, err := cs.List()
	if err != nil {
		return err
	}
	match, err := psFilter(c.Filter)
	if err != nil {
		return err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	var rows []psRow
	for _, ct := range all {
		if (!c.All && !ct.Live() && len(c.Filter) == 0) || !match(ct) {
			continue
		}
		rows = append(rows, c.row(ct))
	}
	return c.print(g.Stdout, rows)
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
		Status:     statusText(ct), State: ct.State.Status,
		Ports: strings.Join(portsShown(ct), ", "), Names: ct.Name}
}

func quoteCommand(args []string) string {
	return strconv.Quote(strings.Join(args, " "))
}

// statusText is Docker's STATUS column.
func statusText(ct *container.Container) string {
	switch ct.State.Status {
	case container.Running:
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
func psFilter(specs []string) (func(*container.Container) bool, error) {
	by := map[string][]string{}
	for _, f := range specs {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("invalid --filter %q: use KEY=VALUE", f)
		case k != "id" && k != "name" && k != "status" && k != "ancestor" && k != "exited" && k != "label":
			return nil, fmt.Errorf("invalid --filter %q: use id=, name=, status=, ancestor=, exited= or label=", f)
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
		"status": func(c *container.Container, v string) bool { return c.State.Status == v },
		"ancestor": func(c *container.Container, v string) bool {
			return c.Config.Image == v || (c.Config.ImageID != "" && strings.HasPrefix(c.Config.ImageID, strings.TrimPrefix(v, "sha256:")))
		},
		"label": func(c *container.Container, v string) bool {
			k, want, hasValue := strings.Cut(v, "=")
			got, ok := c.Config.Labels[k]
			return ok && (!hasValue || got == want)
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
	return printRows(w, c.Quiet, c.Format, psTable, rows, func(r psRow) string { return r.ID })
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
