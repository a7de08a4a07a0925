package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"husk/reexec"
	"husk/store/container"
)

// Started is a monitor just launched, its attach socket listening, and its
// ready pipe.
type Started struct {
	ready *bufio.Reader
	pipe  *os.File
}

// ExitError is the monitor's failure to start the container, with the
// exit code for the verb that launched it.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Launch starts the container's monitor, detached from this process and
// its terminal, and waits until its attach socket listens. With
// waitAttach, the monitor starts the container once a client attached.
func Launch(ct *container.Container, waitAttach bool) (*Started, error) {
	if err := ct.Runnable(); err != nil {
		return nil, err
	}
	dir, err := container.MakeRunDir(ct.ID)
	if err != nil {
		return nil, err
	}
	args := []string{ct.ID}
	if ct.StorageDriver != "" {
		args = append(args, "driver="+ct.StorageDriver)
	}
	if waitAttach {
		args = append(args, "wait-attach")
	}
	cmd, err := reexec.Command(Call, args...)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the monitor's ready pipe: %w", err)
	}
	// The monitor's own failures, for whoever debugs it.
	errLog, err := os.OpenFile(filepath.Join(dir, "monitor.err"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("creating the monitor's error file: %w", err)
	}
	defer errLog.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, errLog
	cmd.ExtraFiles = []*os.File{w} // fdReady
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("starting the container's monitor: %w", err)
	}
	// Not waited for: it outlives this command, and init reaps it.
	_ = cmd.Process.Release()
	ms := &Started{ready: bufio.NewReader(r), pipe: r}
	if word, code, msg := readReady(ms.ready); word != "attach" {
		r.Close()
		return nil, &ExitError{Code: code, Err: errors.New(msg)}
	}
	return ms, nil
}

// Running waits for the monitor's word that the container's process runs.
func (ms *Started) Running() error {
	defer ms.pipe.Close()
	if word, code, msg := readReady(ms.ready); word != "ok" {
		if code == 0 {
			code = exitHusk
		}
		return &ExitError{Code: code, Err: errors.New(msg)}
	}
	return nil
}

// Start starts a created or exited container in the background.
func Start(ct *container.Container) error {
	ms, err := Launch(ct, false)
	if err != nil {
		return err
	}
	return ms.Running()
}
