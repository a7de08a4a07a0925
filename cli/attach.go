package cli

import (
	"fmt"

	"husk/monitor"
	"husk/monitor/attach"
	"husk/store/container"
)

// AttachCmd is `husk attach`.
type AttachCmd struct {
	NoStdin    bool   `name:"no-stdin" help:"Do not attach standard input."`
	DetachKeys string `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from the container."`
	Container  string `arg:"" help:"Container name or ID."`
}

func (c *AttachCmd) Run(g *Globals) error {
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return fmt.Errorf("attach %s: %w", c.Container, err)
	}
	if !ct.Live() {
		return fmt.Errorf("attach %s: the container is not running: start it first (husk start -a %s)", c.Container, c.Container)
	}
	conn, err := monitor.Dial(ct)
	if err != nil {
		return fmt.Errorf("attach %s: %w", c.Container, err)
	}
	return relayed(monitor.Attached{Stdin: ct.Config.Interactive && !c.NoStdin, DetachKeys: keys}.Relay(conn, ct))
}

// relayed is an attach's end as husk's: the container's exit code, or 0
// after the detach keys.
func relayed(code int, detached bool, err error) error {
	switch {
	case err != nil:
		return exitErr(err)
	case detached:
		return nil
	}
	return &ExitError{Code: code}
}
