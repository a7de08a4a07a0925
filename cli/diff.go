package cli

import (
	"fmt"

	"husk/ctrfs"
)

// DiffCmd is `husk diff`.
type DiffCmd struct {
	Container string `arg:"" help:"Container name or ID."`
}

func (c *DiffCmd) Run(g *Globals) error {
	s, ct, err := openContainer(g, c.Container)
	if err != nil {
		return fmt.Errorf("diff %s: %w", c.Container, err)
	}
	defer s.Close()
	changes, err := ctrfs.Changes(s, ct)
	if err != nil {
		return fmt.Errorf("diff %s: %w", c.Container, err)
	}
	for _, ch := range changes {
		fmt.Fprintln(g.Stdout, ch.String())
	}
	return nil
}
