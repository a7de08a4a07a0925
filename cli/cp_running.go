package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"husk/ctrfs"
	"husk/store/container"
	"husk/userns"
)

// envCpRoot names the descriptor through which the husk that the host
// side re-executed in its user namespace reaches a running container's
// root (ctrfs/live.go says why it is opened on the host).
const envCpRoot = "HUSK_CP_ROOT_FD"

// inheritedRoot is the running container's root this process was handed,
// if it is that re-executed husk.
func inheritedRoot() (string, bool) {
	v := os.Getenv(envCpRoot)
	if v == "" || !userns.Inside() {
		return "", false
	}
	os.Unsetenv(envCpRoot)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return "", false
	}
	return ctrfs.FdRoot(fd), true
}

// intoRunning copies into container name if it runs, and reports whether
// it did (or failed trying); a stopped container is left to the caller.
// On the host it opens the container's root and re-executes this command
// in husk's user namespace with it; as real root it copies here.
func (c *CpCmd) intoRunning(g *Globals, name, src, dst string) (bool, error) {
	if userns.Inside() {
		return false, nil // ctrfs.OpenRoot refuses a running one in a line
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return true, err
	}
	ct, err := cs.Find(name)
	if err != nil {
		return true, err
	}
	if !ct.Live() {
		return false, nil
	}
	root, err := ctrfs.LiveRoot(ct)
	if err != nil {
		return true, err
	}
	defer root.Close()
	if os.Geteuid() == 0 {
		return true, c.in(g, ctrfs.FdRoot(int(root.Fd())), src, dst, c.Archive)
	}
	return true, reenterWith(root)
}

// reenterWith re-executes this command in husk's user namespace, as
// userns.Enter does, with root as its descriptor 3, and exits with its
// code.
func reenterWith(root *os.File) error {
	mapping, err := userns.Detect()
	if err != nil {
		return err
	}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: os.Args, Env: append(os.Environ(), envCpRoot+"=3")}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{root}
	// A husk killed with SIGKILL must not leave its child behind; the
	// terminal's signals reach both, as they share the process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := userns.Start(mapping, cmd, 0); err != nil {
		return err
	}
	root.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	return fmt.Errorf("copying in husk's user namespace: %w", err)
}
