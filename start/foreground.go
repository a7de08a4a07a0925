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
	c, err := cs.Create(&container.Record{ID: id, Name: name, StorageDriver: driver}, cfg)
	if err != nil {
		return nil, err
	}
	return &Foreground{driver: driver, cs: cs, c: c, ports: ports}, nil
}

// ID is the container's.
func (fg *Foreground) ID() string { return fg.c.ID }

func (fg *Foreground) options(o sandbox.Options) sandbox.Options {
	args, env := InitCommand(fg.c.ID)
	o.Args, o.Env = args, append(o.Env, env...)
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
		// record is left.
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
	Plan          *userns.Plan
	Net           *network.Host
	// Pull pulls the image when the sandbox found it missing, as `docker
	// run` does; an error with an exit code keeps it.
	Pull func() error
	// Launch, when set, writes down the first launch for the prelaunch.
	Launch *Prelaunchable
}

// Run launches the sandbox of fg, pulling a missing image on the way, and
// returns the container's exit code; an error is husk's own (code 125, or
// the pull's).
func (s *Supervised) Run(ctx context.Context, fg *Foreground) (int, error) {
	for pulled := false; ; pulled = true {
		o := fg.options(fg.c.Config.LaunchOptions())
		if s.Plan != nil {
			o.Env = append(o.Env, EnvPlanKey+"="+PlanKey(s.Driver, s.Image, s.Plan))
		}
		var hl *HostLaunch
		if !pulled {
			var err error
			if hl, err = HostSpec(s.Driver, s.Plan, NewRecord(fg.cs, fg.c)); err != nil {
				return exitHusk, err
			}
		}
		var netErr error
		if err := sandbox.WithNet(&o, s.Net, &netErr); err != nil {
			return exitHusk, err
		}
		if hl != nil {
			o.CInit = hl.CSpec
			s.Launch.write(s.Plan, o, fg.c.ID, hl)
		}
		code, st, err := sandbox.Launch(s.Plan, o)
		if err == nil {
			err = netErr
		}
		if err != nil {
			return exitHusk, err
		}
		if st.Cleanup != "" {
			_, _ = userns.Call(ctx, io.Discard, store.CallRemoveCopy, s.Driver, st.Cleanup)
		}
		if st.Pull != "" && pulled {
			return exitHusk, fmt.Errorf("run %s: the image is still missing after pulling it: see 'husk images'", s.Image)
		}
		if st.Pull == "" {
			return code, nil
		}
		// Missing: pull on the host's network, then launch again.
		if err := s.Pull(); err != nil {
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				return ec.ExitCode(), err
			}
			return exitHusk, err
		}
	}
}
