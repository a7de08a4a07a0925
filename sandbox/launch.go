package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"husk/userns"
)

// Options are the host side's choices that are not part of the Spec.
type Options struct {
	// NewNet gives the sandbox its own (empty) network namespace.
	NewNet bool
	// Stdin is the process's standard input (nil: /dev/null, as without -i).
	Stdin *os.File
	// UIDMap and GIDMap, when set, give the sandbox a user namespace of its
	// own inside husk's, mapped so (keep-id: the user's own uid inside).
	UIDMap, GIDMap []userns.IDMap
}

// Run starts the sandbox's init in new mount, pid, uts, ipc (and network)
// namespaces, hands it the spec, relays the terminal and signals, and
// returns the exit code of the sandbox's process. It runs inside husk's
// user namespace, where the store is, so no ID mapping happens here. The
// init prints its own errors; an error returned here is this side's.
func Run(s *Spec, o Options) (int, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return 125, fmt.Errorf("creating the spec pipe: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	var con *console
	if s.Terminal {
		if con, err = newConsole(o.Stdin != nil); err != nil {
			return 125, err
		}
		defer con.close()
	}
	cmd := initCommand(o, specR, con)
	cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	if o.NewNet {
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWNET
	}
	if len(o.UIDMap) > 0 {
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = sysIDMap(o.UIDMap)
		cmd.SysProcAttr.GidMappings = sysIDMap(o.GIDMap)
		// The init runs as the user's own uid there, not 0, so execve would
		// take its capabilities: ambient ones survive it.
		cmd.SysProcAttr.AmbientCaps = allCaps()
	}
	// Signals arriving while the init starts are held, then relayed.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 125, fmt.Errorf("starting the sandbox's init: %w", err)
	}
	specR.Close()
	if con != nil {
		con.remote.Close() // the init holds it now; its exit means EOF here
		go con.relay()
	}
	if err := json.NewEncoder(specW).Encode(s); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 125, fmt.Errorf("sending the spec to the sandbox: %w", err)
	}
	specW.Close()
	return wait(cmd, sigs, con), nil
}

// initCommand is husk re-executed as the sandbox's init. It runs in its own
// session, so a terminal's signals reach only this side, which relays them.
func initCommand(o Options, specR *os.File, con *console) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"husk-init"}
	cmd.Env = append(os.Environ(), EnvInit+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if o.Stdin != nil {
		cmd.Stdin = o.Stdin
	}
	cmd.ExtraFiles = []*os.File{specR} // fdSpec
	if con != nil {
		cmd.Stdin = nil                                     // the process reads the pty; this side copies stdin there
		cmd.ExtraFiles = append(cmd.ExtraFiles, con.remote) // fdConsole
	}
	// The init dies with this side: a sandbox never outlives husk.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// wait relays signals to the init until it exits, and returns its code.
func wait(cmd *exec.Cmd, sigs chan os.Signal, con *console) int {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			if con != nil {
				con.drain()
			}
			return codeOf(cmd, err)
		case sig := <-sigs:
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGWINCH:
				if con != nil {
					con.resize()
				}
			default:
				_ = cmd.Process.Signal(sig)
			}
		}
	}
}

func allCaps() []uintptr {
	caps, _ := capability.ListSupported()
	out := make([]uintptr, len(caps))
	for i, c := range caps {
		out[i] = uintptr(c)
	}
	return out
}

func sysIDMap(m []userns.IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, l := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: l.ContainerID, HostID: l.HostID, Size: l.Size}
	}
	return out
}

func codeOf(cmd *exec.Cmd, err error) int {
	if err == nil {
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return 125
}
