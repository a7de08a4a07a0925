package sandbox

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"

	"husk/network"
	"husk/seccomp"
)

// With port_handler=direct, a server that husk exec starts gets the
// published ports as the container's own servers do: the exec side
// installs the C init's bind filter (seccomp.ListenBinds) and sends its
// listener here, and this side passes it on to the container's supervisor
// (network.ServeExecBinds). Without that, a server started by exec could
// not bind a published port that a server of the container had taken.

// relayBinds readies cmd to send its bind listener on to the supervisor's
// socket at path. Where nothing listens there (no port_handler=direct, or
// a container started by an older husk), the process is not watched:
// every bind of a watched process waits for the supervisor's answer. Call
// the function it returns with whether cmd started.
func relayBinds(cmd *exec.Cmd, path string) (func(started bool), error) {
	noop := func(bool) {}
	if path == "" {
		return noop, nil
	}
	sup, err := net.Dial("unix", path)
	if err != nil {
		return noop, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		sup.Close()
		return nil, fmt.Errorf("creating the socket for the exec'd process's binds: %w", err)
	}
	here, there := os.NewFile(uintptr(fds[0]), "binds"), os.NewFile(uintptr(fds[1]), "binds-exec")
	cmd.ExtraFiles = append(cmd.ExtraFiles, there)
	cmd.Env = append(cmd.Env, envExecBinds+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	return func(started bool) {
		there.Close()
		if !started {
			here.Close()
			sup.Close()
			return
		}
		go func() {
			defer sup.Close()
			defer here.Close()
			hc, err := net.FileConn(here)
			if err != nil {
				return
			}
			defer hc.Close()
			f, err := network.RecvFile(hc.(*net.UnixConn))
			if err != nil {
				return
			}
			defer f.Close()
			network.SendFile(sup.(*net.UnixConn), f)
		}()
	}, nil
}

// sendBinds, on the exec side, installs the bind filter on this locked
// thread and sends its listener to the host side, when asked to.
func sendBinds() error {
	v := os.Getenv(envExecBinds)
	if v == "" {
		return nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%s=%q is not a descriptor", envExecBinds, v)
	}
	conn := os.NewFile(uintptr(fd), "binds")
	defer conn.Close()
	l, err := seccomp.ListenBinds()
	if err != nil || l == nil {
		return err
	}
	defer l.Close()
	c, err := net.FileConn(conn)
	if err != nil {
		return fmt.Errorf("sending the bind listener: %w", err)
	}
	defer c.Close()
	if err := network.SendFile(c.(*net.UnixConn), l); err != nil {
		return fmt.Errorf("sending the bind listener: %w", err)
	}
	return nil
}
