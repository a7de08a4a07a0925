package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"husk/sandbox"
	"husk/sandbox/abi"
	"husk/store"
	"husk/store/container"
)

// envContainer names, for a sandbox's init, the container it starts;
// envParsedRun carries the run command as its husk parsed it, so that the
// init, on the start path, need not parse the command line again.
const (
	envContainer = abi.EnvContainer
	envParsedRun = "HUSK_SANDBOX_RUN"
)

type parsedRunEnv struct {
	StorageDriver string `json:"storageDriver,omitempty"`
	Run           RunCmd `json:"run"`
}

// parsedRunVar is the variable that hands c to the sandbox's init.
func parsedRunVar(g *Globals, c *RunCmd) string {
	b, err := json.Marshal(parsedRunEnv{StorageDriver: g.StorageDriver, Run: *c})
	if err != nil {
		return ""
	}
	return envParsedRun + "=" + string(b)
}

// parsedRun is, in a sandbox's init, the run command its husk parsed.
func parsedRun(g *Globals) (*RunCmd, bool) {
	v := os.Getenv(envParsedRun)
	if v == "" || !sandbox.InSandbox() {
		return nil, false
	}
	var p parsedRunEnv
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return nil, false
	}
	g.StorageDriver = p.StorageDriver
	return &p.Run, true
}

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

func ownRecord() (*ownContainer, error) {
	id := os.Getenv(envContainer)
	if id == "" {
		return &ownContainer{Container: &container.Container{Record: container.Record{ID: sandbox.NewID()}}}, nil
	}
	cs, err := openContainers()
	if err != nil {
		return nil, err
	}
	c, err := cs.Find(id)
	if err != nil {
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
	if o.ImageID == "" {
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

func newForeground(g *Globals, f *ContainerFlags, image string, ports []string) (*foreground, error) {
	return newForegroundID(g, f, image, ports, "")
}

// newForegroundID is newForeground for a container whose ID is chosen
// (a prelaunched one's), or a new ID when id is empty.
func newForegroundID(g *Globals, f *ContainerFlags, image string, ports []string, id string) (*foreground, error) {
	cs, err := openContainers()
	if err != nil {
		return nil, err
	}
	dir, _ := os.Getwd()
	c, err := cs.Create(&container.Record{
		ID: id, Name: f.Name, Image: image, Argv: verbArgs("run"), Cwd: dir,
		StorageDriver: g.StorageDriver, Tty: f.TTY, Interactive: f.Interactive,
		AutoRemove: f.Rm, Restart: "no", Ports: f.Publish,
	})
	if err != nil {
		return nil, err
	}
	return &foreground{cs: cs, c: c, ports: ports}, nil
}

func (fg *foreground) options(g *Globals, rc *RunCmd, o sandbox.Options) sandbox.Options {
	o.Env = append(o.Env, envContainer+"="+fg.c.ID)
	if v := parsedRunVar(g, rc); v != "" {
		o.Env = append(o.Env, v)
	}
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
	case fg.ran && fg.c.AutoRemove:
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
