package cli

import (
	"fmt"

	"husk/store/container"
)

// RenameCmd is `husk rename`.
type RenameCmd struct {
	Container string `arg:"" help:"Container name or ID."`
	NewName   string `arg:"" name:"new-name" help:"Its new name."`
}

func (c *RenameCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	if err := cs.Rename(c.Container, c.NewName); err != nil {
		return fmt.Errorf("rename %s: %w", c.Container, err)
	}
	return nil
}
