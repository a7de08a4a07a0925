package start

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"husk/network"
	"husk/sandbox"
	"husk/store"
	"husk/store/container"
	"husk/userns"
)

// Foreground is a container that its `husk run --rm` (without -t)
// supervises itself, for start speed: it has a record from start to end,
// so ps, exec, stop and kill reach it. Every other run is under a monitor.
type Foreground struct {
	driver string
	cs     *container.Store
	c      *container.Container
	ports  []string
	ran    bool // the user's process started
}

// NewForeground writes the record of a foreground run with config cfg,
// under the ID id (a prelaunched one's), or a new ID when id is empty.
func NewForeground(driver string, cfg *sandbox.Config, name string, ports []string, id string) (*Foreground, error) {
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, err
	}
	// The run supervises its container itself, with no restart policy.
	cfg.Restart = sandbox.RestartPolicy{Name: "no"}
	c, err := cs.CreateHeld(&container.Record{ID: id, Name: name, StorageDriver: driver}, cfg)
	if err != nil {
		return nil, err
	}
	return &Foreground{driver: driver, cs: cs, c: c, ports: ports}, nil
}

// ID is the container's.
func (fg *Foreground) ID() string { return fg.c.ID }

func (fg *Foreground) options(o sandbox.Options) sandbox.Options {
	o.Args = InitArgs(fg.c.ID)
	o.Started = func(pid int) { _, _ = fg.cs.Update(fg.c.ID, container.MarkRunning(os.Getpid(), pid, fg.ports)) }
	o.Running = func() { fg.ran = true }
	return o
}

// Finish records the exit. A run whose process never started leaves no
// container (nothing half-made stays after bad input), nor does --rm.
func (fg *Foreground) Finish(ctx context.Context, code int) {
	switch {
	case fg.ran && fg.c.Config.AutoRemove:
		// Its upper layer was in the sandbox's scratch tmpfs: only the
		// record is left, and its anonymous volumes.
		if hasVolumes(fg.c) {
			_, _ = userns.Call(ctx, io.Discard, container.CallRemoveVolumes, fg.c.ID)
		}
		_ = fg.cs.Forget(fg.c.ID)
		container.RemoveRunDir(fg.c.ID)
	case fg.ran:
		_, _ = fg.cs.Update(fg.c.ID, container.MarkExited(code, ""))
	default:
		// Exited first, so that rm does not wait for this husk to end.
		_, _ = fg.cs.Update(fg.c.ID, container.MarkExited(code, ""))
		container.Discard(ctx, fg.driver, fg.c.ID)
	}
}

// Supervised is the launch of a foreground run's sandbox by this process.
type Supervised struct {
	Driver, Image string
	Mapping       *userns.Mapping
	Net           *network.Host
	// Pull pulls the image when the sandbox found it missing, as `docker
	// run` does; an error with an exit code keeps it.
	Pull func() error
	// Launch, when set, writes down the first launch for the prelaunch.
	Launch *Prelaunchable
}

// Run launches the sandbox of fg, pulling a missing image first, and
// returns the container's exit code; an error is husk's own (code 125, or
// the pull's).
func (s *Supervised) Run(ctx context.Context, fg *Foreground) (int, error) {
	hl, err := s.hostSpec(ctx, fg)
	if err != nil {
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode(), err
		}
		return exitHusk, err
	}
	defer hl.Done(ctx)
	o := fg.options(fg.c.Config.LaunchOptions(fg.c.ID))
	var netErr error
	if err := sandbox.WithNet(&o, s.Net, &netErr); err != nil {
		return exitHusk, err
	}
	o.CInit = hl.CSpec
	if hl.Reusable() {
		s.Launch.write(s.Mapping, o, fg.c.ID, fg.c.Config.Network.Networks, hl)
	}
	o.Ctx = ctx
	code, _, err := sandbox.Launch(s.Mapping, o)
	if errors.Is(err, sandbox.ErrInterrupted) {
		return code, err
	}
	if err == nil {
		err = netErr
	}
	if err != nil {
		return exitHusk, err
	}
	return code, nil
}

// hostSpec plans the start, pulling the image first when it is missing,
// on the host's network, as `docker run` does.
func (s *Supervised) hostSpec(ctx context.Context, fg *Foreground) (*HostLaunch, error) {
	rec := NewRecord(fg.cs, fg.c)
	hl, err := HostSpec(ctx, s.Driver, s.Mapping, rec)
	if !errors.Is(err, ErrNoSuchImage) {
		return hl, err
	}
	if _, perr := store.ParseReference(s.Image); perr != nil {
		return nil, perr
	}
	if err := s.Pull(); err != nil {
		return nil, err
	}
	hl, err = HostSpec(ctx, s.Driver, s.Mapping, rec)
	if errors.Is(err, ErrNoSuchImage) {
		return nil, fmt.Errorf("run %s: the image is still missing after pulling it: see 'husk images'", s.Image)
	}
	return hl, err
}
