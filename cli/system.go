package cli

import (
	"fmt"
	"strings"

	"husk/store"
	"husk/store/container"
	"husk/userns"
)

// SystemCmd is `husk system`.
type SystemCmd struct {
	Df    SystemDfCmd    `cmd:"" help:"Show what images and containers take on disk."`
	Prune SystemPruneCmd `cmd:"" help:"Remove stopped containers and dangling images (-a: every image no container uses)."`
	Reset SystemResetCmd `cmd:"" help:"Remove every image and container and the whole store."`
}

// SystemResetCmd is `husk system reset`.
type SystemResetCmd struct {
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *SystemResetCmd) Run(g *Globals) error {
	root, _, _, err := store.Paths()
	if err != nil {
		return err
	}
	// The question is asked once, on the host: the re-executed child skips it.
	if !c.Force && !userns.Reexecuted() && !confirm(g, fmt.Sprintf("This removes every husk image and container and %s. Continue? [y/N] ", root)) {
		return nil
	}
	// Inside the namespace, so that files of subordinate uids go too.
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	// Containers first: a running one is killed, as podman's reset does.
	if cs, err := container.OpenDefault(); err == nil {
		if all, err := cs.List(); err == nil {
			for _, ct := range all {
				_ = cs.Remove(ct, true, g.StorageDriver)
			}
		}
	}
	if err := store.Reset(g.StorageDriver); err != nil {
		return fmt.Errorf("system reset: %w", err)
	}
	return nil
}

// confirm asks on the terminal; with no terminal the answer is no.
func confirm(g *Globals, question string) bool {
	fmt.Fprint(g.Stderr, question)
	var answer string
	fmt.Scanln(&answer)
	return strings.HasPrefix(strings.ToLower(answer), "y")
}
