package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"husk/store"
	"husk/userns"
)

// UnshareCmd is `husk unshare [CMD...]`: CMD (default $SHELL, else /bin/sh)
// as root in husk's user and mount namespace, as `podman unshare` does, to
// look at or clean up files in the store that belong to subordinate IDs.
type UnshareCmd struct {
	Command []string `arg:"" optional:"" passthrough:"partial" help:"Command and arguments (default: $SHELL, else /bin/sh)."`
}

func (c *UnshareCmd) Run(g *Globals) error {
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	_, graphroot, _, err := store.Paths()
	if err != nil {
		return err
	}
	argv := c.Command
	if len(argv) == 0 {
		argv = []string{os.Getenv("SHELL")}
		if argv[0] == "" {
			argv[0] = "/bin/sh"
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return execError(argv[0], err)
	}
	env := append(userns.UserEnv(os.Environ()), "HUSK_STORE="+graphroot)
	// exec, not a child: the command's exit code and signals are the
	// namespace child's, which the parent on the host passes on.
	return execError(argv[0], userns.Exec(path, argv, env))
}

// execError gives Docker's codes: 127 when the command is not found, 126
// when it cannot be run.
func execError(name string, err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("running %s: command not found: check the name and $PATH", name)}
	}
	return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("running %s: %w", name, err)}
}
