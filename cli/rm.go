package cli

import (
	"husk/store/container"
	"husk/userns"
)

// RmCmd is `husk rm`.
type RmCmd struct {
	Force      bool     `short:"f" help:"Kill and remove a running container."`
	Volumes    bool     `short:"v" help:"Remove the container's anonymous volumes too (those no other container mounts)."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *RmCmd) Run(g *Globals) error {
	// The upper layer holds files of the namespace's other ids: only
	// husk's user namespace may remove them.
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "rm", func(ct *container.Container) error {
		if err := cs.Remove(ct, c.Force, g.StorageDriver); err != nil || !c.Volumes {
			return err
		}
		return cs.RemoveVolumes(ct)
	})
}
