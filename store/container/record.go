// Package container keeps husk's container records: one directory per
// container under <root>/containers, written atomically, with file locks so
// that any verb may run beside any other. It needs no containers/storage,
// so the verbs that only read or signal stay light.
package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Record is what `create` decides; only the name changes afterwards.
type Record struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image"` // as the user gave it
	ImageID string    `json:"imageID"`
	Created time.Time `json:"created"`
	// Command is the entrypoint and cmd, as ps shows them.
	Command []string `json:"command"`
	// Argv are the arguments of `husk run` that made the container, which
	// its init parses again each time it starts; Dir is where they were
	// given (Cwd), for relative paths.
	Argv          []string `json:"argv"`
	Cwd           string   `json:"cwd"`
	StorageDriver string   `json:"storageDriver,omitempty"`

	Tty         bool     `json:"tty"`
	Interactive bool     `json:"interactive"`
	AutoRemove  bool     `json:"autoRemove"`
	Restart     string   `json:"restart,omitempty"`
	StopSignal  string   `json:"stopSignal,omitempty"`
	Ports       []string `json:"ports,omitempty"`   // -p as given
	Exposed     []string `json:"exposed,omitempty"` // the image's EXPOSE, for -P
}

// State is what changes while the container lives.
type State struct {
	Status string `json:"status"` // created, running, restarting, exited
	// The monitor (or the foreground husk run) and the sandbox's init, each
	// with its start time, so that a reused pid is not mistaken for them.
	MonitorPID   int       `json:"monitorPID,omitempty"`
	MonitorStart uint64    `json:"monitorStart,omitempty"`
	InitPID      int       `json:"initPID,omitempty"`
	InitStart    uint64    `json:"initStart,omitempty"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	ExitCode     int       `json:"exitCode"`
	Restarts     int       `json:"restarts,omitempty"`
	Error        string    `json:"error,omitempty"`
	// Bound are the published ports as this start bound them.
	Bound []string `json:"bound,omitempty"`
	// Stopped: a user stopped it, so no restart policy applies.
	Stopped bool `json:"stopped,omitempty"`
}

const (
	Created    = "created"
	Running    = "running"
	Restarting = "restarting" // between two starts of a restart policy
	Exited     = "exited"
)

// Container is a record and its state as found on disk, with the state
// corrected for a monitor that died without saying so.
type Container struct {
	Record
	State
	dir       string
	abandoned bool
}

// Dir is the container's directory in the store (its log, its overlay
// upper layer).
func (c *Container) Dir() string { return c.dir }

// LogPath is the container's json-file log.
func (c *Container) LogPath() string { return filepath.Join(c.dir, "log.json") }

// Live reports whether the container runs, or waits to run again, under
// a monitor that still lives.
func (c *Container) Live() bool {
	return (c.State.Status == Running || c.State.Status == Restarting) && alive(c.MonitorPID, c.MonitorStart)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path atomically: a reader sees the old file or the
// new one, never half of one.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
