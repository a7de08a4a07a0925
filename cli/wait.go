package cli

import (
	"fmt"
	"time"

	"husk/store/container"
)

// WaitCmd is `husk wait`: block until containers stop, print their codes.
type WaitCmd struct {
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *WaitCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	for _, q := range c.Containers {
		ct, err := cs.Find(q)
		if err != nil {
			return fmt.Errorf("wait %s: %w", q, err)
		}
		code, err := waitExit(g, cs, ct)
		if err != nil {
			return fmt.Errorf("wait %s: %w", q, err)
		}
		fmt.Fprintln(g.Stdout, code)
	}
	return nil
}

// waitExit polls until the container is no longer running (the monitor
// is not our child, so there is nothing to wait(2) for).
func waitExit(g *Globals, cs *container.Store, ct *container.Container) (int, error) {
	for ct.Live() {
		select {
		case <-g.Ctx.Done():
			return 0, g.Ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		var err error
		if ct, err = cs.Find(ct.ID); err != nil {
			return 0, err
		}
	}
	return ct.ExitCode, nil
}
