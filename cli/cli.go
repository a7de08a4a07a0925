// Package cli holds one kong command struct per verb. Each parses, calls a
// package that does the work, and prints.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// Docker's exit codes for failures of the tool itself.
const (
	ExitHusk        = 125 // husk failed
	ExitCannotRun   = 126 // the command cannot be run
	ExitNotFound    = 127 // the command was not found
	exitSignalFirst = 128 // 128+N after signal N
)

// Build is what the Makefile stamps into the binary.
type Build struct {
	Version string
	Commit  string
}

// Globals are passed to every command's Run.
type Globals struct {
	Ctx           context.Context `kong:"-"`
	Build         Build           `kong:"-"`
	Stdout        io.Writer       `kong:"-"`
	Stderr        io.Writer       `kong:"-"`
	StorageDriver string          `kong:"-"` // --storage-driver / HUSK_STORAGE_DRIVER, "" to probe
}

// GlobalFlags come before the verb.
type GlobalFlags struct {
	Version       kong.VersionFlag `help:"Print the version and commit, then exit."`
	StorageDriver string           `help:"Root-filesystem strategy: overlay, fuse-overlayfs or vfs (default: probed)." name:"storage-driver" env:"HUSK_STORAGE_DRIVER" placeholder:"NAME"`
}

// grammarFor picks the grammar to parse args with: the global flags and
// the one verb args name. Building kong's model of every verb costs ~15 ms
// on each start, a verb alone a fraction of one; help, an unknown verb and
// completion get the whole CLI.
func grammarFor(args []string) (any, *GlobalFlags) {
	if !asksHelp(args) {
		if f, ok := verbField(reflect.TypeFor[CLI](), verbOf(args)); ok {
			t := reflect.StructOf([]reflect.StructField{
				{Name: "GlobalFlags", Type: reflect.TypeFor[GlobalFlags](), Tag: `embed:""`},
				{Name: f.Name, Type: f.Type, Tag: f.Tag},
			})
			v := reflect.New(t)
			return v.Interface(), v.Elem().Field(0).Addr().Interface().(*GlobalFlags)
		}
	}
	c := &CLI{}
	return c, &c.GlobalFlags
}

// verbField is the command field of t (or of a struct it embeds) that
// kong names verb, by the field's name as kong spells it or an alias.
func verbField(t reflect.Type, verb string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if _, embed := f.Tag.Lookup("embed"); embed {
			if g, ok := verbField(f.Type, verb); ok {
				return g, true
			}
			continue
		}
		if _, cmd := f.Tag.Lookup("cmd"); !cmd || verb == "" {
			continue
		}
		name := f.Tag.Get("name")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == verb || slices.Contains(strings.Split(f.Tag.Get("aliases"), ","), verb) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// verbOf is the first argument that is not a global flag or its value.
func verbOf(args []string) string {
	if i := nextWord(args, 0); i < len(args) {
		return args[i]
	}
	return ""
}

// nextWord is the index of the first word from i on that is not a global
// flag or its value (len(args) when there is none).
func nextWord(args []string, i int) int {
	for ; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--storage-driver":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return i
		}
	}
	return len(args)
}

// asksHelp: help lists every verb, so it needs the whole grammar. In run,
// -h is --hostname (imageWord).
func asksHelp(args []string) bool {
	run := verbOf(args) == "run"
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--help" || (a == "-h" && !run) {
			return true
		}
	}
	return false
}

// CLI is the whole command line. Add a verb by adding a field and a file.
type CLI struct {
	GlobalFlags

	Info           InfoCmd       `cmd:"" help:"Show what husk will use on this machine and what is missing."`
	Version        VersionCmd    `cmd:"" help:"Show husk's version."`
	Completion     CompletionCmd `cmd:"" help:"Print the shell code that completes husk's commands and flags: bash, zsh or fish."`
	Build          BuildCmd      `cmd:"" help:"Build an image from a Dockerfile."`
	Pull           PullCmd       `cmd:"" help:"Pull an image from a registry."`
	Push           PushCmd       `cmd:"" help:"Push an image to a registry."`
	Save           SaveCmd       `cmd:"" help:"Write images to an archive (docker-archive, oci-archive) or an OCI layout."`
	Load           LoadCmd       `cmd:"" help:"Load images from an archive or an OCI layout."`
	Import         ImportCmd     `cmd:"" help:"Make an image of one layer from a tar of a filesystem."`
	Export         ExportCmd     `cmd:"" help:"Write a container's filesystem as a tar."`
	Commit         CommitCmd     `cmd:"" help:"Make an image of a container's changes."`
	Cp             CpCmd         `cmd:"" help:"Copy files between a container and the host."`
	Diff           DiffCmd       `cmd:"" help:"List the files a container added (A), changed (C) and deleted (D)."`
	History        HistoryCmd    `cmd:"" help:"Show the steps that made an image."`
	Images         ImagesCmd     `cmd:"" help:"List images."`
	Rmi            RmiCmd        `cmd:"" help:"Remove one or more images."`
	Tag            TagCmd        `cmd:"" help:"Give an image another name."`
	Image          ImageCmd      `cmd:"" help:"Manage images."`
	Login          LoginCmd      `cmd:"" help:"Log in to a registry."`
	Logout         LogoutCmd     `cmd:"" help:"Log out of a registry."`
	System         SystemCmd     `cmd:"" help:"Manage husk's store."`
	Shell          ShellCmd      `cmd:"" help:"Open an isolated shell over the host, with no image."`
	Unshare        UnshareCmd    `cmd:"" help:"Run a command as root in husk's user namespace (default: a shell)."`
	ContainerVerbs `embed:""`
	Ps             PsCmd        `cmd:"" help:"List containers."`
	Events         EventsCmd    `cmd:"" help:"Show container lifecycle events."`
	Container      ContainerCmd `cmd:"" help:"Manage containers."`
	Volume         VolumeCmd    `cmd:"" help:"Manage volumes."`
	Network        NetworkCmd   `cmd:"" help:"Manage user-defined networks."`
	Bundle         BundleCmd    `cmd:"" help:"Write an OCI bundle (rootfs and config.json) from an image."`
	Oci            OciCmd       `cmd:"" help:"Be an OCI runtime: runc's create, start, state, kill, delete, run on a bundle."`
}

// ExitError carries a process exit code through kong's Run.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }
func (e *ExitError) ExitCode() int { return e.Code }

// Main parses args and runs the chosen command. It returns the exit code of
// a command that ran, or an error to print once.
func Main(ctx context.Context, args []string, b Build) (int, error) {
	g := &Globals{Ctx: ctx, Build: b, Stdout: os.Stdout, Stderr: os.Stderr}
	if AsRuntime(os.Args[0]) {
		// Called as runc (a symlink): runc's command line is husk oci's.
		args = append([]string{"oci"}, args...)
	}
	if len(args) == 0 {
		// Bare husk prints its usage and succeeds, as docker does.
		args = []string{"--help"}
	}
	grammar, globals := grammarFor(args)
	if os.Getenv("COMP_LINE") != "" {
		// Completion needs every verb.
		c := &CLI{}
		grammar, globals = c, &c.GlobalFlags
	}
	exit := -1
	parser, err := kong.New(grammar,
		kong.Name("husk"),
		kong.Description("Rootless, daemonless sandboxes in one file."),
		kong.Vars{"version": fmt.Sprintf("husk version %s, commit %s", b.Version, b.Commit)},
		kong.Exit(func(code int) { exit = code; panic(exitPanic{}) }),
		keepCommas(),
	)
	if err != nil {
		return ExitHusk, err
	}
	var kctx *kong.Context
	untilExit(func() {
		completing(parser)
		kctx, err = parseWords(parser, args)
	})
	if exit >= 0 {
		return exit, nil
	}
	if err != nil {
		// Bad flags and unknown verbs are husk's own failures: 125.
		return ExitHusk, fmt.Errorf("%w (see 'husk --help')", err)
	}
	g.StorageDriver = globals.StorageDriver
	var code int
	untilExit(func() { code, err = exitOf(kctx.Run(g)) })
	if exit >= 0 {
		return exit, nil
	}
	return code, err
}

// exitOf turns a command's error into husk's exit code and what to print.
func exitOf(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err == nil {
			return ee.Code, nil
		}
		return ee.Code, ee.Err
	}
	return ExitHusk, err
}

type exitPanic struct{}

// untilExit runs fn up to kong's Exit (after --help, --version or a
// completion), which records its code instead of ending the process from
// inside kong.
func untilExit(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitPanic); !ok {
				panic(r)
			}
		}
	}()
	fn()
}

// keepCommas makes every flag and argument take its value whole, as Docker
// does: kong splits a repeated flag's value on commas by default, which
// broke -e NO_PROXY=a,b, --tmpfs /run:rw,size=64k and -v src:dst:ro,z.
func keepCommas() kong.Option {
	return kong.PostBuild(func(k *kong.Kong) error {
		return kong.Visit(k.Model, func(n kong.Visitable, next kong.Next) error {
			if v, ok := n.(*kong.Value); ok {
				v.Tag.Sep = -1
			}
			return next(nil)
		})
	})
}
