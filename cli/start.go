package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"husk/sandbox/attach"
	"husk/store/container"
)

// StartCmd is `husk start`.
type StartCmd struct {
	Attach      bool     `short:"a" help:"Attach to the container's output and wait for it to exit."`
	Interactive bool     `short:"i" help:"Attach the container's standard input."`
	DetachKeys  string   `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from the container."`
	Containers  []string `arg:"" name:"container" help:"Container names or IDs."`
}

func (c *StartCmd) Run(g *Globals) error {
	cs, err := openContainers()
	if err != nil {
		return err
	}
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	if c.Attach && len(c.Containers) > 1 {
		return fmt.Errorf("start -a: attach to one container at a time")
	}
	for _, q := range c.Containers {
		ct, err := cs.Find(q)
		if err != nil {
			return fmt.Errorf("start %s: %w", q, err)
		}
		if ct.Live() {
			fmt.Fprintln(g.Stdout, q) // Docker: starting a running container is fine
			continue
		}
		if c.Attach {
			return startAttached(g, ct, c.Interactive, keys)
		}
		if err := startMonitor(g, ct, false); err != nil {
			return fmt.Errorf("start %s: %w", q, err)
		}
		fmt.Fprintln(g.Stdout, q)
	}
	return nil
}

// monitorStart is a monitor just launched, and its ready pipe.
type monitorStart struct {
	ready *bufio.Reader
	pipe  *os.File
}

// launchMonitor starts the container's monitor, detached from this
// process and its terminal, and waits until its attach socket listens.
func launchMonitor(g *Globals, ct *container.Container, waitAttach bool) (*monitorStart, error) {
	if err := ct.Runnable(); err != nil {
		return nil, err
	}
	dir, err := makeRunDir(ct.ID)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the monitor's ready pipe: %w", err)
	}
	args := huskArgs(ct.StorageDriver, "monitor")
	if waitAttach {
		args = append(args, "--wait-attach")
	}
	cmd := newHusk(append(args, ct.ID)...)
	cmd.Stdin, cmd.Stdout = nil, nil
	// The monitor's own failures, for whoever debugs it.
	errLog, err := os.OpenFile(filepath.Join(dir, "monitor.err"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("creating the monitor's error file: %w", err)
	}
	defer errLog.Close()
	cmd.Stderr = errLog
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
	ms := &monitorStart{ready: bufio.NewReader(r), pipe: r}
	if word, code, msg := readReady(ms.ready); word != "attach" {
		r.Close()
		return nil, &ExitError{Code: code, Err: errors.New(msg)}
	}
	return ms, nil
}

// started waits for the monitor's word that the process runs.
func (ms *monitorStart) started() error {
	defer ms.pipe.Close()
	if word, code, msg := readReady(ms.ready); word != "ok" {
		if code == 0 {
			code = ExitHusk
		}
		return &ExitError{Code: code, Err: errors.New(msg)}
	}
	return nil
}

// startMonitor starts a created or exited container in the background.
func startMonitor(g *Globals, ct *container.Container, waitAttach bool) error {
	ms, err := launchMonitor(g, ct, waitAttach)
	if err != nil {
		return err
	}
	return ms.started()
}

// startAttached is `start -a`: attach first, so no output is missed, then
// let the monitor start the process, and relay until it exits.
func startAttached(g *Globals, ct *container.Container, stdin bool, keys []byte) error {
	ms, err := launchMonitor(g, ct, true)
	if err != nil {
		return err
	}
	conn, err := dialAttach(ct)
	if err != nil {
		return err
	}
	if err := ms.started(); err != nil {
		conn.Close()
		return err
	}
	return relay(conn, ct, stdin, keys)
}
