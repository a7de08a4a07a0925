package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/term"

	"husk/monitor/attach"
	"husk/sandbox"
	"husk/store/container"
)

// ExecCmd is `husk exec`: a further process in a running container, with
// the container's user, environment, capabilities and seccomp filter.
type ExecCmd struct {
	Interactive bool     `short:"i" help:"Keep standard input open."`
	TTY         bool     `short:"t" name:"tty" help:"Allocate a pseudo-terminal."`
	User        string   `short:"u" help:"User (name or uid, with an optional :group)." placeholder:"USER[:GROUP]"`
	Env         []string `short:"e" help:"Set an environment variable." placeholder:"KEY=VALUE"`
	EnvFile     []string `name:"env-file" help:"Read environment variables from a file." placeholder:"FILE" type:"existingfile"`
	Detach      bool     `short:"d" help:"Run the command in the background."`
	Privileged  bool     `help:"Give the command every capability, as run --privileged does."`
	Workdir     string   `short:"w" help:"Working directory inside the container."`
	DetachKeys  string   `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Accepted for Docker's sake."`
	Container   string   `arg:"" help:"Container name or ID."`
	Cmd         []string `arg:"" passthrough:"" help:"Command and arguments."`
}

func (c *ExecCmd) Run(g *Globals) error {
	if _, err := attach.ParseDetachKeys(c.DetachKeys); err != nil {
		return err
	}
	if c.TTY && c.Interactive && !term.IsTerminal(int(os.Stdin.Fd())) {
		return fmt.Errorf("the input device is not a TTY: drop -t, or run husk from a terminal")
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return fmt.Errorf("exec %s: %w", c.Container, err)
	}
	if err := ct.Runnable(); err != nil {
		return fmt.Errorf("exec %s: %w", c.Container, err)
	}
	if !ct.Live() || !ct.InitAlive() {
		return fmt.Errorf("exec %s: %w", c.Container, container.ErrNotRunning)
	}
	if ct.Paused {
		return fmt.Errorf("exec %s: %w", c.Container, container.ErrPaused)
	}
	spec, err := c.spec(ct.ID)
	if err != nil {
		return fmt.Errorf("exec %s: %w", c.Container, err)
	}
	if c.Detach {
		// Docker's exec -d: no streams, no terminal, no exit code.
		spec.Terminal = false
		if err := sandbox.ExecDetached(ct.InitPID, ct.ID, spec); err != nil {
			return fmt.Errorf("exec %s: %w", c.Container, err)
		}
		return nil
	}
	o := sandbox.Options{Terminal: c.TTY}
	if c.Interactive {
		o.Stdin = os.Stdin
	}
	code, err := sandbox.Exec(ct.InitPID, ct.ID, spec, o, container.ExecBindsPath(ct.ID))
	if err != nil {
		return fmt.Errorf("exec %s: %w", c.Container, err)
	}
	return &ExitError{Code: code}
}

// spec is the container's own process spec, as its init recorded it,
// with exec's flags on top.
func (c *ExecCmd) spec(id string) (*sandbox.Spec, error) {
	dir, err := container.RunDir(id)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "spec.json")
	// The init writes it once it has resolved the image and command, a
	// moment after a foreground run is listed as running.
	b, err := os.ReadFile(path)
	for end := time.Now().Add(5 * time.Second); errors.Is(err, fs.ErrNotExist) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the container's spec %s: %w: restart the container", path, err)
	}
	var s sandbox.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading the container's spec %s: %w: restart the container", path, err)
	}
	s.Terminal = c.TTY
	if len(c.Cmd) > 0 { // run --join without a command: the container's
		s.Args = c.Cmd
	}
	if c.User != "" {
		s.User = c.User
	}
	if c.Workdir != "" {
		s.Cwd = c.Workdir
	}
	for _, file := range c.EnvFile {
		lines, err := readEnvFile(file)
		if err != nil {
			return nil, err
		}
		s.Env = append(s.Env, lines...)
	}
	for _, e := range c.Env {
		s.Env = append(s.Env, expandEnv(e)...)
	}
	if c.Privileged {
		all, _ := sandbox.ParseCaps([]string{"ALL"})
		s.Caps = sandbox.CapNames(all)
	}
	// The init's own mounts are done; only the process part matters.
	s.RootOps, s.Mounts, s.Files = nil, nil, nil
	return &s, nil
}
