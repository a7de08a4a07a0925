package container

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"husk/reexec"
)

// callGuard is the guard HoldStopped starts.
const callGuard = "continue-guard"

func init() { reexec.Register(callGuard, guardMain) }

// HoldStopped stops the container's processes (SIGSTOP) so that its files
// hold still while commit reads them, and returns what continues them.
// The stop is commit's alone: the record does not say paused, so a guard
// of husk's own continues the processes once this husk ends, however it
// ends: a commit killed with SIGKILL (issue 19's kill -9 battery) left the
// container stopped for good. The guard is told each process before it is
// stopped, through a pipe whose end, closed by the kernel with this
// process, is its signal.
func HoldStopped(ct *Container) (resume func(), err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd, err := reexec.Command(callGuard)
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stderr = pr, os.Stderr
	// Its own process group: a ^C meant for husk does not end it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	pr.Close()
	if err != nil {
		pw.Close()
		return nil, fmt.Errorf("starting the guard that continues container %s: %w", ct.Name, err)
	}
	resume = func() {
		pw.Close()
		_ = cmd.Wait()
	}
	if err := stopTree(ct.InitPID, func(pid int) error {
		_, err := fmt.Fprintln(pw, pid)
		return err
	}); err != nil {
		resume()
		return nil, fmt.Errorf("stopping the processes of container %s: %w", ct.Name, err)
	}
	return resume, nil
}

// guardMain reads process IDs from stdin until its end, then continues
// each of them.
func guardMain(_ context.Context, _, errw io.Writer, _ []string) int {
	signal.Ignore(unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	var pids []int
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if pid, err := strconv.Atoi(sc.Text()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, unix.SIGCONT); err != nil && err != unix.ESRCH {
			fmt.Fprintf(errw, "husk: continuing process %d after the commit: %v: send it SIGCONT (kill -CONT %d)\n", pid, err, pid)
		}
	}
	return 0
}
