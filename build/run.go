package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"husk/network"
	"husk/profiles"
	"husk/sandbox"
	"husk/seccomp"
	"husk/store"
	"husk/userns"
)

// Process is one RUN step's process: what runs, and over which root.
type Process struct {
	Root   string   // the image's root filesystem, writable; changes become the layer
	Args   []string // the command, its shell already prepended for the shell form
	Env    []string
	Cwd    string
	User   string
	Stdout *os.File // nil: the build's output
	Stderr *os.File
	// Network is the step's network: the build's, or RUN --network's.
	Network Network
	// Mounts are RUN --mount's, over the root.
	Mounts []sandbox.Op
}

// Network is a RUN step's network: Mode is network.Builtin (husk's
// userspace network, as `husk run` gets by default; "" means it too),
// "host" (the host's network namespace) or "none" (loopback only).
// AllowHostLoopback lets the builtin network's host.husk.internal reach
// the host's loopback (--network builtin:allow_host_loopback=true).
type Network struct {
	Mode              string
	AllowHostLoopback bool
}

// Runner runs a RUN step's process to its end and returns its exit code.
// It is the one place a build starts a sandbox, so that the step can move
// onto another executor API without touching the rest of the build.
type Runner interface {
	Run(ctx context.Context, p Process) (int, error)
}

// SandboxRunner runs each step as husk's executor runs a container: new
// pid, mount, uts and ipc namespaces inside husk's user namespace (where
// the build runs, as its root), Docker's capabilities and seccomp profile,
// the root bound from the mounted build layer. The step gets husk's
// builtin network unless its Network says host or none.
type SandboxRunner struct {
	// NoFakeIDs: with the single mapping, let id changes and chowns fail
	// (husk build --security-opt fake-ids=false).
	NoFakeIDs bool
}

// CacheKey is what the runner adds to a RUN step's cache key: a step run
// with real id failures may end otherwise than a faked one.
func (r SandboxRunner) CacheKey() string {
	if r.NoFakeIDs && userns.Mode() == userns.ModeSingle {
		return "no-fake-ids"
	}
	return ""
}

func (r SandboxRunner) Run(ctx context.Context, p Process) (int, error) {
	_, _, runroot, err := store.Paths()
	if err != nil {
		return 125, err
	}
	scratch, err := sandbox.ScratchDir(runroot)
	if err != nil {
		return 125, err
	}
	prof, err := seccomp.Default(profiles.DefaultCaps)
	if err != nil {
		return 125, err
	}
	single := userns.Mode() == userns.ModeSingle
	if single && !r.NoFakeIDs {
		prof = seccomp.FakeIDs(prof, profiles.DefaultCaps)
	}
	bpf, err := seccomp.CachedBPF(prof, filepath.Join(runroot, "seccomp"))
	if err != nil {
		return 125, err
	}
	mode := p.Network.Mode
	if mode == "" {
		mode = network.Builtin
	}
	var nspec *network.Spec
	if mode == network.Builtin {
		cfg, err := network.Config{AllowHostLoopback: p.Network.AllowHostLoopback}.WithDefaults()
		if err != nil {
			return 125, err
		}
		nspec = &network.Spec{Mode: network.Builtin, Config: cfg}
	}
	spec, err := sandbox.ContainerSpec(v1.Config{Env: p.Env, WorkingDir: p.Cwd, User: p.User}, sandbox.RunOptions{
		Cmd: p.Args, ID: sandbox.NewID(), HostNet: mode == "host", Net: nspec, Caps: profiles.DefaultCaps,
		SeccompBPF: bpf, Scratch: scratch, RootOps: sandbox.BindRoot(p.Root), Volumes: p.Mounts,
		NoSetGroups: single, FakeIDs: single && !r.NoFakeIDs,
	})
	if err != nil {
		return 125, err
	}
	// On the host's network the step runs in husk's user namespace, which
	// does not own the host's network namespace, and may not mount a
	// sysfs of its own there: the host's /sys is bound read-only instead.
	// With a network namespace of its own (builtin, none) it gets its own.
	spec.HostSys = mode == "host"
	enc, err := (&sandbox.CSpec{Spec: spec}).Encode()
	if err != nil {
		return 125, err
	}
	o := sandbox.Options{Args: []string{"build-step"}, CInit: enc, NewNet: mode != "host", Stdout: p.Stdout, Stderr: p.Stderr, Ctx: ctx}
	var netErr error
	if nspec != nil {
		h, err := network.NewHost(nspec, nil)
		if err != nil {
			return 125, err
		}
		defer h.Close()
		if err := sandbox.WithNet(&o, h, &netErr); err != nil {
			return 125, err
		}
	}
	code, st, err := sandbox.Launch(nil, o)
	if err == nil && st.Error != "" {
		err = errors.New(st.Error)
	}
	if err == nil && netErr != nil {
		code, err = 125, netErr
	}
	return code, err
}

// mountPoints are what the executor creates in a root that lacks them;
// a step's layer must not keep them (Docker's do not).
// /etc comes after its files, so that it goes only if they were all it held.
var mountPoints = []string{"/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc"}

// missing lists the mount points root lacks before a step.
func missing(root string) []string {
	var out []string
	for _, m := range mountPoints {
		if _, err := os.Lstat(filepath.Join(root, m)); err != nil {
			out = append(out, m)
		}
	}
	return out
}

// removeMountPoints removes those the step left empty (a directory only
// if empty).
func removeMountPoints(root string, made []string) {
	for _, m := range made {
		p := filepath.Join(root, m)
		if fi, err := os.Lstat(p); err == nil && (fi.Size() == 0 || fi.IsDir()) {
			_ = os.Remove(p)
		}
	}
}

// runFailed is a RUN whose command failed: Docker's exit code 1.
type runFailed struct {
	msg string
}

func (e *runFailed) Error() string { return e.msg }

// StepFailed marks the error for the command line's exit code.
func (e *runFailed) StepFailed() bool { return true }

func stepFailed(file string, line int, cmd string, code int) error {
	return &runFailed{msg: fmt.Sprintf("%s:%d: RUN %s: the command returned a non-zero code: %d: fix the command, then build again (earlier steps stay cached)", file, line, cmd, code)}
}
