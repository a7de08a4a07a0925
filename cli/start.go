package cli

import (
	"errors"
	"fmt"

	"husk/monitor"
	"husk/monitor/attach"
	"husk/store/container"
)

// StartCmd is `husk start`.
type StartCmd struct {
	Attach      bool     `short:"a" help:"Attach to the container's output and wait for it to exit."`
	Interactive bool     `short:"i" help:"Attach the container's standard input."`
	DetachKeys  string   `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from the container."`
	Containers  []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *StartCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	if c.Attach && len(c.Containers) > 1 {
		return fmt.Errorf("start -a: attach to one container at a time")
	}
	for _, q := range c.Containers {
		ct, err := cs.Find(q)
		if err != nil {
			return fmt.Errorf("start %s: %w", q, err)
		}
		if ct.Live() {
			fmt.Fprintln(g.Stdout, q) // Docker: starting a running container is fine
			continue
		}
		if c.Attach {
			return startAttached(ct, c.Interactive, keys)
		}
		if err := startMonitor(ct); err != nil {
			return fmt.Errorf("start %s: %w", q, err)
		}
		fmt.Fprintln(g.Stdout, q)
	}
	return nil
}

// startMonitor starts a created or exited container in the background.
func startMonitor(ct *container.Container) error {
	return exitErr(monitor.Start(ct))
}

// exitErr carries a monitor's failure code to husk's exit.
func exitErr(err error) error {
	var me *monitor.ExitError
	if errors.As(err, &me) {
		return &ExitError{Code: me.Code, Err: me.Err}
	}
	return err
}

// startAttached is `start -a`: the monitor starts the process once this
// husk attached, and it relays until the process exits.
func startAttached(ct *container.Container, stdin bool, keys []byte) error {
	return relayed(monitor.StartAttached(ct, monitor.Attached{Stdin: stdin, DetachKeys: keys}))
}
