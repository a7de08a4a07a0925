package container

import (
	"fmt"
	"os"
	"path/filepath"

	"husk/store"
)

// OpenDefault opens the records of the store husk uses (store.Paths).
func OpenDefault() (*Store, error) {
	root, _, _, err := store.Paths()
	if err != nil {
		return nil, err
	}
	return Open(root)
}

// OpenRunnable opens the records and finds container id, refusing a
// record an earlier husk wrote: what a start of it reads first.
func OpenRunnable(id string) (*Store, *Container, error) {
	cs, err := OpenDefault()
	if err != nil {
		return nil, nil, err
	}
	c, err := cs.Find(id)
	if err == nil {
		err = c.Runnable()
	}
	if err != nil {
		return nil, nil, err
	}
	return cs, c, nil
}

// RunDir is the container's directory under the run root: its attach
// socket, the spec that exec reuses, the monitor's error file.
func RunDir(id string) (string, error) {
	_, _, runroot, err := store.Paths()
	if err != nil {
		return "", err
	}
	// Short: a unix socket's path must fit in 108 bytes.
	return filepath.Join(runroot, "c", id[:12]), nil
}

// ExecBindsPath is the socket where a container's supervisor takes the
// bind listeners of the processes husk exec starts (port_handler=direct).
func ExecBindsPath(id string) string {
	dir, err := RunDir(id)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "binds.sock")
}

// MakeRunDir is RunDir, made if missing, for what writes there.
func MakeRunDir(id string) (string, error) {
	dir, err := RunDir(id)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the container's run directory %s: %w", dir, err)
	}
	return dir, nil
}

// RemoveRunDir removes the container's run directory.
func RemoveRunDir(id string) {
	if dir, err := RunDir(id); err == nil {
		os.RemoveAll(dir)
	}
}
