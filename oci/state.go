// Package oci is husk as an OCI runtime: runc's create, start, state,
// kill, delete and run on a bundle, with husk's one executor (the bundle's
// config.json becomes its spec through sandbox.FromOCI), and `husk bundle`,
// which writes a bundle from an image. A created container's init waits on
// a FIFO in its state directory until start, as runc's does; the state is
// a file per container under the root (--root), nothing runs beside it.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/store"
)

// Record is what husk keeps of a container: runc's state, less the
// status, which is read from the init's process each time, and the init's
// start time, which tells it from a later process with the same pid.
type Record struct {
	ID        string    `json:"id"`
	Pid       int       `json:"pid"`
	Bundle    string    `json:"bundle"`
	Created   time.Time `json:"created"`
	StartTime string    `json:"startTime"`
	Owner     string    `json:"owner"`

	Annotations map[string]string `json:"annotations,omitempty"`
}

// State is runc's `state` output.
type State struct {
	OCIVersion  string               `json:"ociVersion"`
	ID          string               `json:"id"`
	Status      specs.ContainerState `json:"status"`
	Pid         int                  `json:"pid"`
	Bundle      string               `json:"bundle"`
	Rootfs      string               `json:"rootfs"`
	Created     time.Time            `json:"created"`
	Owner       string               `json:"owner"`
	Annotations map[string]string    `json:"annotations,omitempty"`
}

// DefaultRoot is where state lives without --root: $XDG_RUNTIME_DIR/husk-oci,
// else husk's private run directory's oci/.
func DefaultRoot() (string, error) {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		if st, err := os.Stat(x); err == nil && st.IsDir() && unix.Access(x, unix.W_OK|unix.X_OK) == nil {
			return filepath.Join(x, "husk-oci"), nil
		}
	}
	run, err := store.RunDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(run, "oci"), nil
}

var errNoContainer = errors.New("does not exist")

// Compiled on first use, not at every start of husk.
var validID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]*$`) })

func checkID(id string) error {
	if !validID().MatchString(id) || len(id) > 1024 {
		return fmt.Errorf("invalid container ID %q: use letters, digits, _ . + -, starting with a letter or digit", id)
	}
	return nil
}

func dir(root, id string) string   { return filepath.Join(root, id) }
func fifo(root, id string) string  { return filepath.Join(root, id, "exec.fifo") }
func state(root, id string) string { return filepath.Join(root, id, "state.json") }

// load reads container id's record; a missing one is runc's "does not exist".
func load(root, id string) (*Record, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(state(root, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s %w (in %s): give its ID as create named it, and the same --root", id, errNoContainer, root)
	}
	if err != nil {
		return nil, fmt.Errorf("reading container %s's state: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading container %s's state %s: %w: delete it with husk oci delete --force %s", id, state(root, id), err, id)
	}
	return &r, nil
}

// save writes the record whole under a temporary name, then renames it.
func (r *Record) save(root string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := state(root, r.ID) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing container %s's state: %w", r.ID, err)
	}
	return os.Rename(tmp, state(root, r.ID))
}

// status is runc's: created while the init waits on its FIFO, running
// while it lives after start, stopped once it has ended (or is a zombie).
func (r *Record) status(root string) specs.ContainerState {
	if !r.alive() {
		return specs.StateStopped
	}
	if _, err := os.Stat(fifo(root, r.ID)); err == nil {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// alive: the init's pid is still the init (same start time) and not a
// zombie.
func (r *Record) alive() bool {
	st, when, ok := procStat(r.Pid)
	return ok && when == r.StartTime && st != "Z" && st != "X"
}

// procStat is a process's state letter and start time from /proc.
func procStat(pid int) (string, string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", false
	}
	// The command name may hold spaces and parentheses: fields follow the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true
}

func (r *Record) stateOf(root string) State {
	return State{OCIVersion: specs.Version, ID: r.ID, Status: r.status(root), Pid: r.Pid, Bundle: r.Bundle,
		Rootfs: rootfsOf(r.Bundle), Created: r.Created, Owner: r.Owner, Annotations: r.Annotations}
}

func rootfsOf(bundle string) string {
	o, err := readSpec(bundle)
	if err != nil || o.Root == nil {
		return ""
	}
	if filepath.IsAbs(o.Root.Path) {
		return o.Root.Path
	}
	return filepath.Join(bundle, o.Root.Path)
}

// readSpec reads the bundle's config.json.
func readSpec(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading the bundle's %s: %w: give the bundle's directory with --bundle (husk bundle IMAGE DIR writes one)", p, err)
	}
	var o specs.Spec
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("reading the bundle's %s: %w", p, err)
	}
	return &o, nil
}
