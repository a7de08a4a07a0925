package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"

	"husk/sandbox/abi"
	"husk/userns"
)

// Create starts a sandbox that outlives this process, as an OCI create
// does: o.CInit's spec names a start FIFO (CSpec.StartFIFO), o.Detached
// is set, and the init builds the root, then waits on the FIFO for husk
// oci start. Create returns the init once it says it is created, or the
// error the init printed (PrintedError).
func Create(mapping *userns.Mapping, o Options) (*Created, error) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the status pipe: %w", err)
	}
	defer statusR.Close()
	o.Detached = true
	cmd, err := sandboxCommand(o, statusW, nil)
	if err != nil {
		statusW.Close()
		return nil, err
	}
	err = start(mapping, cmd, o.NewNet, o.Cloneflags)
	statusW.Close()
	closeSpec(cmd)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(statusR)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case abi.StatusCreated:
			return &Created{Pid: cmd.Process.Pid, cmd: cmd}, nil
		case abi.StatusError:
			_ = cmd.Wait()
			return nil, &PrintedError{Msg: v}
		}
	}
	_ = cmd.Wait()
	return nil, fmt.Errorf("the container's init ended before it was created (%s): this is husk's own error", cmd.ProcessState)
}

// Created is a created sandbox's init, this process's child until it
// exits: then whoever inherits it reaps it (a subreaper such as conmon,
// or PID 1).
type Created struct {
	Pid int
	cmd *exec.Cmd
}

// Wait relays signals to the init until it ends, and returns its code
// (the process's): husk oci run in the foreground.
func (c *Created) Wait() int {
	sigs := make(chan os.Signal, 64)
	notifyRelayable(sigs)
	defer signal.Stop(sigs)
	return waitCmd(c.cmd, sigs, nil)
}

// PrintedError is a sandbox's failure that its init printed already.
type PrintedError struct{ Msg string }

func (e *PrintedError) Error() string { return e.Msg }
