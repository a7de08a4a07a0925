package cli

import (
	"fmt"

	units "github.com/docker/go-units"

	"husk/store/container"
	"husk/userns"
)

// SystemPruneCmd is `husk system prune`: container prune, then image
// prune, as Docker's. husk has no networks, volumes or build cache of
// Docker's kind to prune: --volumes is accepted and finds none.
type SystemPruneCmd struct {
	All     bool `short:"a" help:"Remove every image no container uses, not only dangling ones."`
	Force   bool `short:"f" help:"Do not ask for confirmation."`
	Volumes bool `help:"Accepted for Docker's sake: husk has no volumes of its own to prune."`
}

func (c *SystemPruneCmd) Run(g *Globals) error {
	images := "all dangling images"
	if c.All {
		images = "all images without at least one container associated to them"
	}
	// Asked once, on the host: the re-executed child skips it.
	question := "WARNING! This will remove:\n  - all stopped containers\n  - " + images + "\n\nAre you sure you want to continue? [y/N] "
	if !c.Force && !userns.Reexecuted() && !confirm(g, question) {
		return nil
	}
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	// Containers first: the images they held may then go too.
	freed, err := pruneContainers(g, cs)
	if err != nil {
		return fmt.Errorf("system prune: %w", err)
	}
	n, err := pruneImages(g, c.All)
	if err != nil {
		return fmt.Errorf("system prune: %w", err)
	}
	fmt.Fprintln(g.Stdout, "Total reclaimed space: "+units.HumanSizeWithPrecision(float64(freed+n), 3))
	return nil
}
