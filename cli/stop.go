package cli

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"husk/store/container"
)

// StopCmd is `husk stop`.
type StopCmd struct {
	Time       *int     `short:"t" help:"Seconds to wait before killing the container (default: its --stop-timeout, else 10; -1 waits forever)."`
	Signal     string   `short:"s" help:"Signal to stop with (default: the image's STOPSIGNAL, else SIGTERM)."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *StopCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "stop", func(ct *container.Container) error {
		return cs.Stop(ct, c.Signal, stopTimeout(c.Time, ct))
	})
}

// stopTimeout is -t, else the container's --stop-timeout, else Docker's
// 10 seconds; -1 waits as long as the process takes.
func stopTimeout(t *int, ct *container.Container) time.Duration {
	if t == nil {
		t = ct.Config.StopTimeout
	}
	switch {
	case t == nil:
		return 10 * time.Second
	case *t < 0:
		return 100 * 365 * 24 * time.Hour
	}
	return time.Duration(*t) * time.Second
}

// eachContainer applies fn to each named container and prints its name
// as given, as Docker does; it goes on after a failure and reports the
// first.
func eachContainer(g *Globals, cs *container.Store, names []string, verb string, fn func(*container.Container) error) error {
	var first error
	for _, q := range names {
		ct, err := cs.Find(q)
		if err == nil {
			err = fn(ct)
		}
		if err != nil {
			err = fmt.Errorf("%s %s: %w", verb, q, err)
			if first == nil {
				first = err
			} else {
				fmt.Fprintln(g.Stderr, "husk: "+err.Error())
			}
			continue
		}
		fmt.Fprintln(g.Stdout, q)
	}
	return first
}

// KillCmd is `husk kill`.
type KillCmd struct {
	Signal     string   `short:"s" default:"KILL" help:"Signal to send."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *KillCmd) Run(g *Globals) error {
	sig, err := container.ParseSignal(c.Signal, unix.SIGKILL)
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "kill", func(ct *container.Container) error {
		return cs.Kill(ct, sig)
	})
}

// RestartCmd is `husk restart`.
type RestartCmd struct {
	Time       *int     `short:"t" help:"Seconds to wait before killing the container (default: its --stop-timeout, else 10; -1 waits forever)."`
	Containers []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *RestartCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	return eachContainer(g, cs, c.Containers, "restart", func(ct *container.Container) error {
		if err := cs.Stop(ct, "", stopTimeout(c.Time, ct)); err != nil {
			return err
		}
		ct, err := cs.Find(ct.ID)
		if err != nil {
			return err
		}
		return startMonitor(ct)
	})
}
