package cli

import "husk/store/container"

// PauseCmd is `husk pause`.
type PauseCmd struct {
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *PauseCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "pause", cs.Pause)
}

// UnpauseCmd is `husk unpause`.
type UnpauseCmd struct {
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *UnpauseCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "unpause", cs.Unpause)
}
