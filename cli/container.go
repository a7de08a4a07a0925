package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"husk/sandbox"
	"husk/store"
	"husk/store/container"
)

// initVerb makes husk a container's init: `husk container-init ID`. The
// init reads everything else from the container's record and config, so
// that its argv (which every local user, and the container itself at
// /proc/1/cmdline, can read) holds nothing of the container's flags.
const initVerb = "container-init"

func initArgs(id string) []string { return []string{initVerb, id} }

func openContainers() (*container.Store, error) {
	root, _, _, err := store.Paths()
	if err != nil {
		return nil, err
	}
	return container.Open(root)
}

// runDir is the container's directory under the run root: its attach
// socket, and the spec that exec reuses.
func runDir(id string) (string, error) {
	_, _, runroot, err := store.Paths()
	if err != nil {
		return "", err
	}
	// Short: a unix socket's path must fit in 108 bytes.
	return filepath.Join(runroot, "c", id[:12]), nil
}

// execBindsPath is the socket where a container's supervisor takes the
// bind listeners of the processes husk exec starts (port_handler=direct).
func execBindsPath(id string) string {
	dir, err := runDir(id)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "binds.sock")
}

// makeRunDir is runDir, made if missing, for what writes there.
func makeRunDir(id string) (string, error) {
	dir, err := runDir(id)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the container's run directory %s: %w", dir, err)
	}
	return dir, nil
}

// ownContainer is, inside a sandbox's init, the container it starts.
type ownContainer struct {
	*container.Container
	cs *container.Store
}

func ownRecord(id string) (*ownContainer, error) {
	cs, err := openContainers()
	if err != nil {
		return nil, err
	}
	c, err := cs.Find(id)
	if err != nil {
		return nil, err
	}
	if err := c.Runnable(); err != nil {
		return nil, err
	}
	return &ownContainer{Container: c, cs: cs}, nil
}

// upperBase makes the directories of the container's own upper layer.
func (o *ownContainer) upperBase() (string, error) {
	for _, sub := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(o.Dir(), sub), 0o755); err != nil {
			return "", fmt.Errorf("creating the container's upper layer in %s: %w", o.Dir(), err)
		}
	}
	return o.Dir(), nil
}

// remember records what only the init learns: the image and command
// (a foreground run resolves them here), and the spec exec reuses.
func (o *ownContainer) remember(imageID string, spec *sandbox.Spec) error {
	if o.cs == nil {
		return nil
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return o.rememberJSON(imageID, spec.Args, b)
}

// rememberJSON is remember with the spec already in JSON.
func (o *ownContainer) rememberJSON(imageID string, args []string, b []byte) error {
	if o.cs == nil {
		return nil
	}
	if o.Config.ImageID == "" || len(o.Command) == 0 {
		if err := o.cs.Describe(o.ID, imageID, args); err != nil {
			return err
		}
	}
	dir, err := makeRunDir(o.ID)
	if err != nil {
		return err
	}
	// Whole or not at all: exec may read it at any moment.
	path := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

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
	cs, err := openContainers()
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
	o.Args = initArgs(fg.c.ID)
	o.Started = func(pid int) { _, _ = fg.cs.Update(fg.c.ID, running(os.Getpid(), pid, fg.ports)) }
	o.Running = func() { fg.ran = true }
	return o
}

// running marks a container running under monitor (this process or a
// detached one) with init as its sandbox's pid, and its bound ports.
func running(monitor, init int, ports []string) func(*container.State) error {
	return func(st *container.State) error {
		st.Bound = ports
		st.Status = container.Running
		st.MonitorPID, st.MonitorStart = monitor, container.StartTime(monitor)
		st.InitPID, st.InitStart = init, container.StartTime(init)
		st.StartedAt, st.FinishedAt = time.Now().UTC(), time.Time{}
		st.ExitCode, st.Error, st.Stopped = 0, "", false
		return nil
	}
}

func exited(code int, msg string) func(*container.State) error {
	return func(st *container.State) error {
		st.Status = container.Exited
		st.ExitCode, st.Error = code, msg
		st.FinishedAt = time.Now().UTC()
		st.InitPID, st.InitStart, st.Bound = 0, 0, nil
		return nil
	}
}

// finish records the exit. A run whose process never started leaves no
// container (nothing half-made stays after bad input), nor does --rm.
func (fg *foreground) finish(g *Globals, code int) {
	switch {
	case fg.ran && fg.c.Config.AutoRemove:
		// Its upper layer was in the sandbox's scratch tmpfs: only the
		// record is left.
		_ = fg.cs.Forget(fg.c.ID)
		removeRunDir(fg.c.ID)
	case fg.ran:
		_, _ = fg.cs.Update(fg.c.ID, exited(code, ""))
	default:
		// Exited first, so that rm does not wait for this husk to end.
		_, _ = fg.cs.Update(fg.c.ID, exited(code, ""))
		forgetAll(g, fg.c.ID)
	}
}

// forgetAll removes a container that never ran, with whatever its init
// made for it (an upper layer, a vfs copy), through husk rm in husk's user
// namespace.
func forgetAll(g *Globals, id string) {
	cmd := newHusk(huskArgs(g.StorageDriver, "rm", "-f", id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	_ = cmd.Run()
}

// huskArgs prefixes husk's global flags (the storage driver, when one was
// chosen) to a verb's arguments, for husk run again by itself.
func huskArgs(driver string, args ...string) []string {
	if driver != "" {
		return append([]string{"--storage-driver", driver}, args...)
	}
	return args
}

func removeRunDir(id string) {
	if dir, err := runDir(id); err == nil {
		os.RemoveAll(dir)
	}
}
