package cli

import (
	"fmt"
	"os"

	"golang.org/x/term"

	"husk/fuse"
	"husk/sandbox"
	"husk/store"
	"husk/userns"
)

// ShellCmd is `husk shell`: an isolated shell over the host, with no image.
type ShellCmd struct {
	Overlay bool     `help:"Make the host's root writable, copy-on-write; changes are discarded at exit."`
	NoHome  bool     `name:"no-home" help:"Hide the home directory behind an empty tmpfs."`
	Network string   `default:"none" enum:"none,host" help:"none (no network, the default) or host."`
	Socket  []string `name:"socket" sep:"none" placeholder:"PATH" help:"Let the shell connect to this host unix socket (repeatable); the host's others are hidden."`
	Cmd     []string `arg:"" optional:"" passthrough:"" help:"Command to run (default: $SHELL)."`
}

func (c *ShellCmd) Run(g *Globals) error {
	given, err := sandbox.GivenSockets(c.Socket)
	if err != nil {
		return err
	}
	if c.Overlay {
		if err := checkOverlay(); err != nil {
			return err
		}
	}
	if cwd, err := os.Getwd(); err == nil && sandbox.SharedWorkdir(cwd, os.Getenv("HOME")) {
		fmt.Fprintf(g.Stderr, "husk shell: %s is not yours alone, so it stays read-only (under /tmp: the shell's private, empty /tmp); start the shell in a directory of your own to write there\n", cwd)
	}
	terminal := term.IsTerminal(int(os.Stdin.Fd()))
	host, err := sandbox.HostSockets()
	if err != nil {
		fmt.Fprintf(g.Stderr, "husk shell: %v: the host's unix sockets outside /run are reachable from the shell\n", err)
	}
	spec, err := c.spec(terminal, host, given)
	if err != nil {
		return err
	}
	code, _, err := sandbox.Launch(userns.KeepID(), sandbox.Options{
		NewNet: c.Network != "host", Stdin: os.Stdin, Terminal: terminal,
		Args: []string{"shell-init"}, CInit: spec,
	})
	if err != nil {
		return err
	}
	return &ExitError{Code: code}
}

// spec is the shell's spec, built here and run by the executor's init.
func (c *ShellCmd) spec(terminal bool, host, given []string) ([]byte, error) {
	_, _, runroot, err := store.Paths()
	if err != nil {
		return nil, err
	}
	o := sandbox.ShellOptions{Cmd: c.Cmd, NoHome: c.NoHome, HostNet: c.Network == "host", RunRoot: runroot, Terminal: terminal,
		HostSockets: host, Sockets: given}
	if c.Overlay {
		if o.Overlay, err = fuse.FuseOverlayfsPath(); err != nil {
			return nil, err
		}
	}
	s, err := sandbox.ShellSpec(o)
	if err != nil {
		return nil, err
	}
	return (&sandbox.CSpec{Spec: s}).Encode()
}

// checkOverlay: --overlay needs fuse-overlayfs and /dev/fuse.
func checkOverlay() error {
	if _, err := fuse.FuseOverlayfsPath(); err != nil {
		return fmt.Errorf("shell --overlay: %w", err)
	}
	if err := fuse.DevFuse(); err != nil {
		return fmt.Errorf("shell --overlay: %w", err)
	}
	return nil
}
