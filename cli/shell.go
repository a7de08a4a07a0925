package cli

import (
	"os"

	"husk/sandbox"
	"husk/store"
	"husk/userns"
)

// ShellCmd is `husk shell`: an isolated shell over the host, with no image.
type ShellCmd struct {
	Overlay bool     `help:"Make the host's root writable, copy-on-write; changes are discarded at exit."`
	NoHome  bool     `name:"no-home" help:"Hide the home directory behind an empty tmpfs."`
	Network string   `default:"none" enum:"none,host" help:"none (no network, the default) or host."`
	Cmd     []string `arg:"" optional:"" passthrough:"" help:"Command to run (default: $SHELL)."`
}

func (c *ShellCmd) Run(g *Globals) error {
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	_, _, runroot, err := store.Paths()
	if err != nil {
		return err
	}
	s, err := sandbox.ShellSpec(sandbox.ShellOptions{
		Cmd: c.Cmd, Overlay: c.Overlay, NoHome: c.NoHome, HostNet: c.Network == "host",
		RunRoot: runroot, UID: store.HostUID(), GID: sandbox.HostGID(),
	})
	if err != nil {
		return err
	}
	code, err := sandbox.Run(s, sandbox.Options{
		NewNet: c.Network != "host", Stdin: os.Stdin,
		UIDMap: []userns.IDMap{{ContainerID: store.HostUID(), HostID: 0, Size: 1}},
		GIDMap: []userns.IDMap{{ContainerID: sandbox.HostGID(), HostID: 0, Size: 1}},
	})
	if err != nil {
		return err
	}
	return &ExitError{Code: code}
}
