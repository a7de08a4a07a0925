// Package container keeps husk's container records: one directory per
// container under <root>/containers, written atomically, with file locks so
// that any verb may run beside any other. It needs no containers/storage,
// so the verbs that only read or signal stay light.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"husk/sandbox"
)

// Record is a container's books: what names it and what it runs, as ps
// shows it. Only the name changes afterwards (and the image and command
// once, when a run's init first resolves them). What the container is made
// of is its config (sandbox.Config), a document of its own beside it.
type Record struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Command is the entrypoint and cmd, as ps shows them.
	Command       []string `json:"command"`
	StorageDriver string   `json:"storageDriver,omitempty"`
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
	// Paused: husk pause froze its processes (PausedBy says how), until
	// unpause or the end of this start.
	Paused   bool   `json:"paused,omitempty"`
	PausedBy string `json:"pausedBy,omitempty"`
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
	// Config is never nil: a record an earlier husk wrote, with no config,
	// has an empty one (Version 0) and configErr says what to do.
	Config    *sandbox.Config
	configErr error
	dir       string
	abandoned bool
}

// Runnable is nil when the container's config can be started and exec'd
// into; else the one line that says to re-create the container.
func (c *Container) Runnable() error {
	return c.configErr
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

// errEarlier is a record an earlier husk wrote: it kept the command line,
// which that husk parsed again at each start, and no config.
var errEarlier = errors.New("created by an earlier husk, which kept its command line instead of a config")

// readConfig reads the container's config beside its record. A record
// without one stays listed, with what ps and rm need of it, and refuses
// to start.
func (c *Container) readConfig() {
	b, err := os.ReadFile(filepath.Join(c.dir, "config.json"))
	if err == nil {
		c.Config, c.configErr = sandbox.DecodeConfig(b)
		if c.configErr == nil {
			return
		}
	}
	var earlier struct {
		Image      string `json:"image"`
		ImageID    string `json:"imageID"`
		AutoRemove bool   `json:"autoRemove"`
	}
	_ = readJSON(filepath.Join(c.dir, "record.json"), &earlier)
	c.Config = &sandbox.Config{Image: earlier.Image, ImageID: earlier.ImageID, AutoRemove: earlier.AutoRemove}
	if c.configErr == nil {
		c.configErr = fmt.Errorf("container %s was %w: remove it (husk rm %s) and create it again", c.Name, errEarlier, c.Name)
	}
}
