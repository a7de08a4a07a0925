package cli

import (
	"fmt"
	"strings"

	"husk/store/container"
)

// PortCmd is `husk port`: a running container's published ports.
type PortCmd struct {
	Container string `arg:"" help:"Container name or ID."`
	Port      string `arg:"" optional:"" help:"Only this container port (PORT[/PROTO])."`
}

func (c *PortCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return fmt.Errorf("port %s: %w", c.Container, err)
	}
	want := c.Port
	if want != "" && !strings.Contains(want, "/") {
		want += "/tcp"
	}
	found := false
	for _, p := range portsShown(ct) {
		host, cport, _ := strings.Cut(p, "->")
		if want != "" && cport != want {
			continue
		}
		found = true
		if want != "" {
			fmt.Fprintln(g.Stdout, host)
		} else {
			fmt.Fprintf(g.Stdout, "%s -> %s\n", cport, host)
		}
	}
	if want != "" && !found {
		return fmt.Errorf("port %s: no public port %s published: see 'husk port %s'", c.Container, want, c.Container)
	}
	return nil
}
