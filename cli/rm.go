package cli

import (
	"fmt"

	"husk/store"
	"husk/store/container"
	"husk/userns"
)

// RmCmd is `husk rm`.
type RmCmd struct {
	Force      bool     `short:"f" help:"Kill and remove a running container."`
	Volumes    bool     `short:"v" help:"Remove anonymous volumes too (husk makes none; accepted for Docker's sake)."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *RmCmd) Run(g *Globals) error {
	// The upper layer holds files of the namespace's other ids: only
	// husk's user namespace may remove them.
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	cs, err := openContainers()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "rm", func(ct *container.Container) error {
		return removeContainer(g, cs, ct, c.Force)
	})
}

// removeContainer removes a container with its upper layer or vfs copy;
// it runs in husk's user namespace.
func removeContainer(g *Globals, cs *container.Store, ct *container.Container, force bool) error {
	if ct.Live() {
		if !force {
			return fmt.Errorf("the container is running: stop it first (husk stop %s), or use rm -f", ct.Name)
		}
		if err := stopContainer(cs, ct, "KILL", 0); err != nil {
			return err
		}
	}
	if err := removeCopy(g, ct.ID); err != nil {
		return err
	}
	if err := cs.Forget(ct.ID); err != nil {
		return err
	}
	removeRunDir(ct.ID)
	return nil
}

// removeCopy removes the container's vfs copy, when the store has one.
func removeCopy(g *Globals, id string) error {
	s, err := store.Open(g.StorageDriver)
	if err != nil {
		return nil // no store, no copy
	}
	defer s.Close()
	return s.RemoveContainerRoot(id)
}
