package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"husk/userns"
)

// ContainerCmd is `husk container`.
type ContainerCmd struct {
	Prune PruneCmd `cmd:"" help:"Remove all stopped containers."`
}

// PruneCmd is `husk container prune`.
type PruneCmd struct {
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *PruneCmd) Run(g *Globals) error {
	if !c.Force && !userns.Reexecuted() {
		fmt.Fprint(g.Stderr, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
	}
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	cs, err := openContainers()
	if err != nil {
		return err
	}
	all, err := cs.List()
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, "Deleted Containers:")
	for _, ct := range all {
		if ct.Live() {
			continue
		}
		if err := removeContainer(g, cs, ct, false); err != nil {
			return fmt.Errorf("container prune: %s: %w", ct.Name, err)
		}
		fmt.Fprintln(g.Stdout, ct.ID)
	}
	return nil
}
