package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/term"

	"husk/build"
	"husk/network"
	"husk/pull"
	"husk/store"
)

// BuildCmd is `husk build`: an image from a Dockerfile.
type BuildCmd struct {
	Tags      []string `short:"t" name:"tag" help:"Name the image NAME[:TAG] (repeatable)." placeholder:"NAME"`
	File      string   `short:"f" help:"The Dockerfile (default: CONTEXT/Dockerfile); - reads it from stdin." placeholder:"FILE"`
	BuildArgs []string `name:"build-arg" help:"Set a build arg K=V; K alone takes the value from the environment." placeholder:"K=V"`
	Labels    []string `name:"label" help:"Add a label K=V to the image." placeholder:"K=V"`
	Target    string   `help:"Build up to this stage (FROM ... AS NAME)." placeholder:"STAGE"`
	NoCache   bool     `name:"no-cache" help:"Run every step again, ignoring the layer cache."`
	Pull      bool     `help:"Pull FROM images even when the store has them."`
	Network   string   `default:"default" help:"RUN steps' network: default or builtin (husk's userspace network, as husk run gets), host (the host's) or none (loopback only); builtin:allow_host_loopback=true lets host.husk.internal reach the host's loopback." placeholder:"MODE[:OPTIONS]"`
	Platform  string   `help:"Only this host's platform (linux/amd64 here) can be built." placeholder:"OS/ARCH"`
	Quiet     bool     `short:"q" help:"Print only the image ID."`
	IIDFile   string   `name:"iidfile" help:"Write the image ID to FILE." placeholder:"FILE"`
	Secrets   []string `name:"secret" help:"Give RUN --mount=type=secret a secret: id=ID,src=FILE or id=ID,env=VAR." placeholder:"id=ID,src=FILE"`
	Security  []string `name:"security-opt" help:"fake-ids=false: without subuid ranges, let RUN's id changes and chowns fail instead of faking them." placeholder:"OPT"`
	Progress  string   `default:"auto" enum:"auto,plain,tty,quiet" help:"Progress output: plain (#N [stage n/m] INSTRUCTION lines and the steps' output), tty (a live view as BuildKit draws it, on a terminal; plain when stderr is not one), auto (tty when stderr is a terminal, else plain) or quiet (nothing but errors)."`
	Context   string   `arg:"" help:"The build context directory, or - for a Dockerfile on stdin and no context."`
}

func (c *BuildCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	o, err := c.options(g)
	if err != nil {
		return err
	}
	o.Pull = func(ref string) error {
		_, err := pull.Pull(g.Ctx, s, pull.Options{Ref: ref, TLSVerify: true, Quiet: o.Quiet, Stderr: g.Stderr})
		return err
	}
	id, err := build.Build(g.Ctx, s, o)
	if err != nil && g.Ctx.Err() != nil {
		// Ctrl-C: the step's command got the signal too, and its failure
		// is the interruption, not the Dockerfile's.
		return &ExitError{Code: exitSignalFirst + 2, Err: fmt.Errorf("build interrupted: run the same build again; the steps that finished stay cached")}
	}
	var failed interface{ StepFailed() bool }
	if errors.As(err, &failed) {
		return &ExitError{Code: 1, Err: err} // a failed RUN: Docker's code
	}
	if err != nil {
		return err
	}
	return c.report(g, o, id)
}

func (c *BuildCmd) report(g *Globals, o build.Options, id string) error {
	if c.IIDFile != "" {
		if err := os.WriteFile(c.IIDFile, []byte("sha256:"+id), 0o644); err != nil {
			return fmt.Errorf("writing the image ID to %s: %w", c.IIDFile, err)
		}
	}
	if o.Quiet {
		fmt.Fprintln(g.Stdout, "sha256:"+id)
		return nil
	}
	fmt.Fprintf(g.Stderr, "writing image sha256:%s\n", id)
	for _, t := range o.Tags {
		fmt.Fprintf(g.Stderr, "naming to %s\n", t)
	}
	return nil
}

// options reads the Dockerfile and the context and resolves the flags.
func (c *BuildCmd) options(g *Globals) (build.Options, error) {
	for _, s := range c.Security {
		if k, v, _ := strings.Cut(s, "="); k != "fake-ids" {
			return build.Options{}, fmt.Errorf("--security-opt %s: husk build takes only fake-ids=true|false", s)
		} else if _, err := parseFakeIDs(v); err != nil {
			return build.Options{}, err
		}
	}
	if c.Platform != "" && c.Platform != "linux/"+runtime.GOARCH {
		return build.Options{}, fmt.Errorf("--platform %s: husk builds for this host's platform, linux/%s, only: drop the flag", c.Platform, runtime.GOARCH)
	}
	bnet, err := buildNetwork(c.Network)
	if err != nil {
		return build.Options{}, err
	}
	o := build.Options{Target: c.Target, NoCache: c.NoCache, AlwaysPull: c.Pull, Network: bnet, Quiet: c.Quiet || c.Progress == "quiet", Live: (c.Progress == "tty" || c.Progress == "auto") && stderrTerminal(g.Stderr), Out: g.Stderr, Runner: build.SandboxRunner{NoFakeIDs: !fakeIDs(c.Security)}}
	ctxDir, file := c.Context, c.File
	if ctxDir == "-" {
		ctxDir, file = "", "-"
	}
	if file == "" {
		file = filepath.Join(ctxDir, "Dockerfile")
	}
	data, name, err := readDockerfile(file)
	if err != nil {
		return o, err
	}
	if o.Dockerfile, err = build.Parse(name, data); err != nil {
		return o, err
	}
	if o.Context, err = build.OpenContext(ctxDir, c.File); err != nil {
		return o, err
	}
	for _, t := range c.Tags {
		ref, err := store.ParseReference(t)
		if err != nil {
			return o, fmt.Errorf("-t %s: %w", t, err)
		}
		o.Tags = append(o.Tags, store.DisplayName(ref))
	}
	o.BuildArgs = map[string]string{}
	for _, a := range c.BuildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue // Docker leaves an unset one out
			}
		}
		o.BuildArgs[k] = v
	}
	if o.Secrets, err = parseSecrets(c.Secrets); err != nil {
		return o, err
	}
	o.Labels = map[string]string{}
	for _, l := range c.Labels {
		k, v, _ := strings.Cut(l, "=")
		o.Labels[k] = v
	}
	return o, nil
}

// maxDockerfile bounds a Dockerfile read whole: -f /dev/zero or an
// endless stdin is refused instead of filling memory (issue 19, item 7).
const maxDockerfile = 4 << 20

func readDockerfile(file string) ([]byte, string, error) {
	if file == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, maxDockerfile+1))
		if err == nil && len(b) > maxDockerfile {
			err = fmt.Errorf("more than %d MiB: pipe in a Dockerfile", maxDockerfile>>20)
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		return b, "Dockerfile", nil
	}
	f, err := os.Open(file)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(io.LimitReader(f, maxDockerfile+1))
		f.Close()
		if err == nil && len(b) > maxDockerfile {
			return nil, "", fmt.Errorf("reading the Dockerfile %s: more than %d MiB: give a Dockerfile's path with -f", file, maxDockerfile>>20)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading the Dockerfile %s: %w: give its path with -f, or a context directory that holds one", file, err)
	}
	return b, file, nil
}

// buildNetwork is husk build's --network, in run's syntax: default (as
// Docker's default bridge: husk's builtin network), builtin[:OPTIONS],
// host or none.
func buildNetwork(v string) (build.Network, error) {
	if v == "default" {
		v = network.Builtin
	}
	mode, opts, err := (&SandboxFlags{Network: v}).netMode()
	if err != nil {
		return build.Network{}, err
	}
	switch mode {
	case network.Builtin, "host", "none":
	default:
		return build.Network{}, fmt.Errorf("--network %s: husk build runs steps on default (builtin), host or none: use one of those", mode)
	}
	if opts["port_handler"] != "" {
		return build.Network{}, fmt.Errorf("--network %s: a build publishes no ports: drop port_handler", v)
	}
	return build.Network{Mode: mode, AllowHostLoopback: opts["allow_host_loopback"] == "true"}, nil
}

// stderrTerminal: the build's progress goes to a terminal, where the live
// view can redraw itself.
func stderrTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
