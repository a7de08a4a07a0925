package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alecthomas/kong"

	"husk/oci"
	"husk/sandbox"
)

// OciCmd is `husk oci`: runc's command line (also husk called as runc or
// husk-runc), for the callers that drive a runtime: podman --runtime,
// Slurm's oci.conf. Its global flags are runc's, those it has no use for
// accepted and ignored.
type OciCmd struct {
	Root          string `help:"Where containers' state is kept (default: $XDG_RUNTIME_DIR/husk-oci, else husk's private run directory)." placeholder:"DIR"`
	Log           string `help:"Also write errors to FILE." placeholder:"FILE"`
	LogFormat     string `name:"log-format" help:"text or json, for --log." default:"text" enum:"text,json"`
	SystemdCgroup bool   `name:"systemd-cgroup" help:"Accepted and ignored: husk makes no cgroup for an OCI container."`
	Debug         bool   `help:"Accepted and ignored."`
	Rootless      string `help:"Accepted and ignored: husk is always rootless." placeholder:"auto"`

	Create   OciCreateCmd   `cmd:"" help:"Create a container from a bundle; its process waits for start."`
	Start    OciStartCmd    `cmd:"" help:"Start a created container's process."`
	State    OciStateCmd    `cmd:"" help:"Print a container's state as JSON."`
	Kill     OciKillCmd     `cmd:"" help:"Send a signal to a container (default TERM)."`
	Delete   OciDeleteCmd   `cmd:"" help:"Delete a container's state (--force: end it first)."`
	Run      OciRunCmd      `cmd:"" help:"Create and start a container, and wait for it."`
	List     OciListCmd     `cmd:"" help:"List the containers."`
	Features OciFeaturesCmd `cmd:"" help:"Print what this runtime supports as JSON."`
}

// AfterApply makes the global flags available to the verbs.
func (c *OciCmd) AfterApply(k *kong.Context) error {
	k.Bind(c)
	return nil
}

func (c *OciCmd) root() (string, error) {
	if c.Root != "" {
		return filepath.Abs(c.Root)
	}
	return oci.DefaultRoot()
}

// done writes a failure to --log too (as runc, in JSON with --log-format
// json, which podman's conmon reads). An error the container's init
// printed already is not printed again.
func (c *OciCmd) done(err error) error {
	if err == nil {
		return nil
	}
	if c.Log != "" {
		if f, ferr := os.OpenFile(c.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); ferr == nil {
			if c.LogFormat == "json" {
				b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().UTC().Format(time.RFC3339Nano)})
				fmt.Fprintf(f, "%s\n", b)
			} else {
				fmt.Fprintf(f, "husk: %s\n", err)
			}
			f.Close()
		}
	}
	var printed *sandbox.PrintedError
	if errors.As(err, &printed) {
		return &ExitError{Code: ExitHusk}
	}
	return err
}

// OciCreateCmd is runc create.
type OciCreateCmd struct {
	Bundle        string `short:"b" help:"The bundle's directory (default: the current one)." default:"." placeholder:"DIR"`
	PidFile       string `name:"pid-file" help:"Write the container's pid to FILE." placeholder:"FILE"`
	ConsoleSocket string `name:"console-socket" help:"A unix socket that takes the terminal's master (process.terminal)." placeholder:"PATH"`
	NoPivot       bool   `name:"no-pivot" help:"Accepted and ignored."`
	NoNewKeyring  bool   `name:"no-new-keyring" help:"Accepted and ignored."`
	PreserveFds   int    `name:"preserve-fds" help:"Refused above 0: the container gets stdio only."`
	ID            string `arg:"" name:"id"`
}

func (o *OciCreateCmd) options() (oci.CreateOptions, error) {
	if o.PreserveFds > 0 {
		return oci.CreateOptions{}, fmt.Errorf("--preserve-fds %d: husk passes the container stdio only: leave it out", o.PreserveFds)
	}
	return oci.CreateOptions{Bundle: o.Bundle, PidFile: o.PidFile, ConsoleSocket: o.ConsoleSocket}, nil
}

func (o *OciCreateCmd) Run(c *OciCmd) error {
	root, err := c.root()
	if err != nil {
		return c.done(err)
	}
	opts, err := o.options()
	if err != nil {
		return c.done(err)
	}
	_, err = oci.Create(root, o.ID, opts)
	return c.done(err)
}

// OciRunCmd is runc run.
type OciRunCmd struct {
	OciCreateCmd
	Detach bool `short:"d" help:"Return once the process has started."`
}

func (o *OciRunCmd) Run(c *OciCmd) error {
	root, err := c.root()
	if err != nil {
		return c.done(err)
	}
	opts, err := o.options()
	if err != nil {
		return c.done(err)
	}
	code, err := oci.Run(root, o.ID, opts, o.Detach)
	if err != nil {
		return c.done(err)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// OciStartCmd is runc start.
type OciStartCmd struct {
	ID string `arg:"" name:"id"`
}

func (o *OciStartCmd) Run(c *OciCmd) error {
	root, err := c.root()
	if err == nil {
		err = oci.Start(root, o.ID)
	}
	return c.done(err)
}

// OciStateCmd is runc state.
type OciStateCmd struct {
	ID string `arg:"" name:"id"`
}

func (o *OciStateCmd) Run(g *Globals, c *OciCmd) error {
	root, err := c.root()
	if err != nil {
		return c.done(err)
	}
	st, err := oci.Status(root, o.ID)
	if err != nil {
		return c.done(err)
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	fmt.Fprintf(g.Stdout, "%s\n", b)
	return nil
}

// OciKillCmd is runc kill.
type OciKillCmd struct {
	All    bool   `short:"a" help:"Signal every process in the container."`
	ID     string `arg:"" name:"id"`
	Signal string `arg:"" optional:"" default:"TERM"`
}

func (o *OciKillCmd) Run(c *OciCmd) error {
	root, err := c.root()
	if err != nil {
		return c.done(err)
	}
	sig, err := oci.ParseSignal(o.Signal)
	if err != nil {
		return c.done(err)
	}
	return c.done(oci.Kill(root, o.ID, sig, o.All))
}

// OciDeleteCmd is runc delete.
type OciDeleteCmd struct {
	Force bool   `short:"f" help:"End a running container first."`
	ID    string `arg:"" name:"id"`
}

func (o *OciDeleteCmd) Run(c *OciCmd) error {
	root, err := c.root()
	if err == nil {
		err = oci.Delete(root, o.ID, o.Force)
	}
	return c.done(err)
}

// OciListCmd is runc list: ID, PID, STATUS, BUNDLE, CREATED.
type OciListCmd struct {
	Quiet bool `short:"q" help:"Only IDs."`
}

func (o *OciListCmd) Run(g *Globals, c *OciCmd) error {
	root, err := c.root()
	if err != nil {
		return c.done(err)
	}
	sts, err := oci.List(root)
	if err != nil {
		return c.done(err)
	}
	if !o.Quiet {
		fmt.Fprintf(g.Stdout, "%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED")
	}
	for _, s := range sts {
		if o.Quiet {
			fmt.Fprintln(g.Stdout, s.ID)
			continue
		}
		fmt.Fprintf(g.Stdout, "%-20s %-8d %-10s %-40s %s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano))
	}
	return nil
}

// OciFeaturesCmd is runc features.
type OciFeaturesCmd struct{}

func (OciFeaturesCmd) Run(g *Globals) error {
	b, _ := json.MarshalIndent(oci.Features(), "", "  ")
	fmt.Fprintf(g.Stdout, "%s\n", b)
	return nil
}

// AsRuntime says whether husk was called by a runtime's name (argv[0]'s
// base runc or husk-runc), which makes its command line husk oci's.
func AsRuntime(argv0 string) bool {
	b := filepath.Base(argv0)
	return b == "runc" || b == "husk-runc"
}
