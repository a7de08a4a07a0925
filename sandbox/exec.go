package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"husk/pdeath"
	"husk/sandbox/nsenter"
)

// Exec runs s's process in the namespaces of the container whose init is
// pid, relaying the terminal and signals as Launch does, and returns its
// exit code. binds, when not empty, is the socket where the container's
// supervisor takes the process's bind listener (port_handler=direct).
//
// The process joining the container is named by the container alone:
// what it runs, its environment included, goes on a descriptor, since
// argv is readable by every local user and by the container. Inside the
// container it is the C exec entry alone (package nsenter), with the C
// init's functions, until its execve.
func Exec(pid int, id string, s *Spec, o Options, binds string) (int, error) {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	conn, err := dialBinds(binds)
	if err != nil {
		return 125, err
	}
	spec, err := s.EncodeExec(conn != nil)
	if err != nil {
		conn.abandon()
		return 125, err
	}
	cmd, err := nsenter.Command(pid, spec)
	if err != nil {
		conn.abandon()
		return 125, err
	}
	cmd.Args = []string{"husk", "exec-process", id}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	var con *console
	if o.Terminal {
		if con, err = newConsole(o.Stdin != nil); err != nil {
			closeFiles(cmd)
			conn.abandon()
			return 125, err
		}
		defer con.close()
	}
	if o.Stdin != nil && con == nil {
		cmd.Stdin = o.Stdin
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, nil, nil) // abi.FdConsole, abi.FdExecBinds
	if con != nil {
		cmd.ExtraFiles[1] = con.remote
	}
	if conn != nil {
		cmd.ExtraFiles[2] = conn.there
	}
	// Its own session: a terminal's signals reach only this side, which
	// relays them once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 64)
	notifyRelayable(sigs)
	defer signal.Stop(sigs)
	err = cmd.Start()
	closeFiles(cmd)
	if err != nil {
		conn.abandon()
		return 125, fmt.Errorf("joining the container: %w", err)
	}
	conn.relay()
	if con != nil {
		go con.relay()
	}
	return waitCmd(cmd, sigs, con), nil
}

// closeFiles closes this side's copies of the descriptors cmd was given.
func closeFiles(cmd *exec.Cmd) {
	for _, f := range cmd.ExtraFiles {
		if f != nil {
			f.Close()
		}
	}
}

// ExecDetached starts s's process in the container whose init is pid and
// returns once it is started (exec -d): no streams, and no parent-death
// signal, so the joining process and its command outlive this husk.
func ExecDetached(pid int, id string, s *Spec) error {
	spec, err := s.EncodeExec(false)
	if err != nil {
		return err
	}
	cmd, err := nsenter.Command(pid, spec)
	if err != nil {
		return err
	}
	cmd.Args = []string{"husk", "exec-process", id}
	cmd.ExtraFiles = append(cmd.ExtraFiles, nil, nil) // abi.FdConsole, abi.FdExecBinds
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	closeFiles(cmd)
	if err != nil {
		return fmt.Errorf("joining the container: %w", err)
	}
	return cmd.Process.Release()
}
