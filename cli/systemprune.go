package cli

import (
	"fmt"

	units "github.com/docker/go-units"

	"husk/store/container"
	"husk/userns"
)

// SystemPruneCmd is `husk system prune`: container prune, then image
// prune, and with --volumes the unused anonymous volumes, as Docker's.
type SystemPruneCmd struct {
	All     bool `short:"a" help:"Remove every image no container uses, not only dangling ones."`
	Force   bool `short:"f" help:"Do not ask for confirmation."`
	Volumes bool `help:"Remove the anonymous volumes no container uses too."`
}

func (c *SystemPruneCmd) Run(g *Globals) error {
	images := "all dangling images"
	if c.All {
		images = "all images without at least one container associated to them"
	}
	if c.Volumes {
		images += "\n  - all anonymous volumes not used by at least one container"
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
	if c.Volumes {
		_, v, err := pruneVolumes(false, nil)
		if err != nil {
			return fmt.Errorf("system prune: %w", err)
		}
		n += v
	}
	fmt.Fprintln(g.Stdout, "Total reclaimed space: "+units.HumanSizeWithPrecision(float64(freed+n), 3))
	return nil
}
