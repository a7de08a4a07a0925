package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

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
	conn, err := dialAttach(ct)
	if err != nil {
		return fmt.Errorf("attach %s: %w", c.Container, err)
	}
	return relay(conn, ct, ct.Config.Interactive && !c.NoStdin, keys)
}

func dialAttach(ct *container.Container) (*net.UnixConn, error) {
	dir, err := container.RunDir(ct.ID)
	if err != nil {
		return nil, err
	}
	conn, err := attach.Dial(filepath.Join(dir, "attach.sock"))
	if err != nil {
		return nil, fmt.Errorf("%w: its monitor does not answer: see 'husk ps -a'", err)
	}
	return conn, nil
}

// relay attaches this terminal (or these pipes) to the container until it
// exits, whose code becomes husk's, or until the detach keys.
func relay(conn *net.UnixConn, ct *container.Container, stdin bool, keys []byte) error {
	cl := &attach.Client{Stdout: os.Stdout, Stderr: os.Stderr, DetachKeys: keys}
	if stdin {
		cl.Stdin = os.Stdin
	}
	if ct.Config.Terminal() {
		cl.Terminal = os.Stdin
	}
	code, detached, err := cl.Run(conn)
	if err != nil {
		return err
	}
	if detached {
		return nil
	}
	return &ExitError{Code: code}
}
