package cli

import (
	"io"
	"os"

	"husk/sandbox"
	"husk/start"
	"husk/store/container"
	"husk/userns"
)

// foreground is a container that `husk run` without -d supervises itself:
// it has a record from start to end, so ps, exec, stop and kill reach it.
type foreground struct {
	cs    *container.Store
	c     *container.Container
	ports []string
	ran   bool // the user's process started
}

// newForeground writes the record of a foreground run with config cfg,
// under the ID id (a prelaunched one's), or a new ID when id is empty.
func newForeground(g *Globals, cfg *sandbox.Config, name string, ports []string, id string) (*foreground, error) {
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, err
	}
	// The run supervises its container itself, with no restart policy; a
	// later start of it is a plain one.
	cfg.Restart = sandbox.RestartPolicy{Name: "no"}
	c, err := cs.Create(&container.Record{ID: id, Name: name, StorageDriver: g.StorageDriver}, cfg)
	if err != nil {
		return nil, err
	}
	return &foreground{cs: cs, c: c, ports: ports}, nil
}

func (fg *foreground) options(o sandbox.Options) sandbox.Options {
	o.Args = start.InitArgs(fg.c.ID)
	o.Started = func(pid int) { _, _ = fg.cs.Update(fg.c.ID, container.MarkRunning(os.Getpid(), pid, fg.ports)) }
	o.Running = func() { fg.ran = true }
	return o
}

// finish records the exit. A run whose process never started leaves no
// container (nothing half-made stays after bad input), nor does --rm.
func (fg *foreground) finish(g *Globals, code int) {
	switch {
	case fg.ran && fg.c.Config.AutoRemove:
		// Its upper layer was in the sandbox's scratch tmpfs: only the
		// record is left, and its anonymous volumes.
		if hasVolumes(fg.c) {
			_, _ = userns.Call(g.Ctx, io.Discard, container.CallRemoveVolumes, fg.c.ID)
		}
		_ = fg.cs.Forget(fg.c.ID)
		container.RemoveRunDir(fg.c.ID)
	case fg.ran:
		_, _ = fg.cs.Update(fg.c.ID, container.MarkExited(code, ""))
	default:
		// Exited first, so that rm does not wait for this husk to end.
		_, _ = fg.cs.Update(fg.c.ID, container.MarkExited(code, ""))
		forgetAll(g, fg.c.ID)
	}
}

// forgetAll removes a container that never ran, with whatever its init
// made for it (an upper layer, a vfs copy), in husk's user namespace.
func forgetAll(g *Globals, id string) {
	_, _ = userns.Call(g.Ctx, io.Discard, container.CallRemove, g.StorageDriver, id)
}
