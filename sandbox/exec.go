package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"husk/sandbox/nsenter"
)

// envExec marks husk re-executed into a running container's namespaces
// (by nsenter's constructor) to become an exec'd process.
const envExec = "HUSK_EXEC"

// fdExecSpec carries the spec to the exec side: after it joins the
// container's mount namespace, the host's files are out of its reach.
const fdExecSpec = 3

// envExecBinds names the exec side's descriptor for its bind listener,
// where the container's published ports go to the servers that bind them
// (port_handler=direct).
const envExecBinds = "HUSK_EXEC_BINDS"

// InExec reports whether this process is husk inside a container's
// namespaces, there to become the exec'd process.
func InExec() bool { return os.Getenv(envExec) == "1" && nsenter.Joined() }

// Exec runs s's process in the namespaces of the container whose init is
// pid, relaying the terminal and signals as Launch does, and returns its
// exit code. binds, when not empty, is the socket where the container's
// supervisor takes the process's bind listener (port_handler=direct).
//
// The process joining the container is named by the container alone: what
// it runs comes on a pipe, since argv is readable by every local user and
// by the container.
func Exec(pid int, id string, s *Spec, o Options, binds string) (int, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return 125, fmt.Errorf("creating the exec spec pipe: %w", err)
	}
	var con *console
	if o.Terminal {
		if con, err = newConsole(o.Stdin != nil); err != nil {
			specR.Close()
			specW.Close()
			return 125, err
		}
		defer con.close()
	}
	cmd := nsenter.Command(pid, "/proc/self/exe", "exec-process", id)
	cmd.Args[0] = "husk"
	cmd.Env = append(cmd.Env, envExec+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if o.Stdin != nil && con == nil {
		cmd.Stdin = o.Stdin
	}
	cmd.ExtraFiles = []*os.File{specR} // fdExecSpec
	if con != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, con.remote) // fdConsole
		cmd.Env = append(cmd.Env, envConsole+"=1")
	}
	relay, err := relayBinds(cmd, binds)
	if err != nil {
		specR.Close()
		specW.Close()
		return 125, err
	}
	// Its own session: a terminal's signals reach only this side, which
	// relays them once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 64)
	notifyRelayable(sigs)
	defer signal.Stop(sigs)
	err = cmd.Start()
	specR.Close()
	if err != nil {
		specW.Close()
		relay(false)
		return 125, fmt.Errorf("joining the container: %w", err)
	}
	relay(true)
	go func() {
		_ = json.NewEncoder(specW).Encode(s)
		specW.Close()
	}()
	if con != nil {
		con.remote.Close()
		go con.relay()
	}
	return waitCmd(cmd, sigs, con), nil
}

// BecomeExec is the exec side, inside the container: it resolves the
// user, drops privileges as the init does for its process, and execs.
// It never returns.
func BecomeExec() {
	var s Spec
	f := os.NewFile(fdExecSpec, "exec-spec")
	if err := json.NewDecoder(f).Decode(&s); err != nil {
		die(fmt.Errorf("reading the exec spec: %w", err))
	}
	f.Close()
	code, err := execProcess(&s)
	fmt.Fprintln(os.Stderr, "husk: "+err.Error())
	os.Exit(code)
}

func execProcess(s *Spec) (int, error) {
	cred, err := resolveUser(s)
	if err != nil {
		return 125, err
	}
	var tty *os.File
	if s.Terminal {
		if tty, err = openConsole(cred); err != nil {
			return 125, err
		}
	}
	path, err := lookPath(s.Args[0], s.Env)
	if err != nil {
		return 127, err
	}
	if err := closeOnExecFrom(3); err != nil {
		return 125, err
	}
	// The ids and capabilities are this thread's; execve keeps them.
	runtime.LockOSThread()
	if err := sendBinds(); err != nil {
		return 125, err
	}
	if err := dropPrivileges(s, cred); err != nil {
		return 125, err
	}
	// A change of uid clears the parent-death signal: nsenter's parent
	// must still take this process with it.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if tty != nil {
		if err := takeTerminal(tty); err != nil {
			return 125, err
		}
	}
	if err := unix.Chdir(s.Cwd); err != nil {
		return 125, fmt.Errorf("changing to the working directory %s: %w", s.Cwd, err)
	}
	err = unix.Exec(path, s.Args, s.Env)
	var ee *execError
	if err = startError(s.Args[0], err); errors.As(err, &ee) {
		return ee.code, err
	}
	return 125, err
}

// takeTerminal makes tty this process's controlling terminal and stdio.
func takeTerminal(tty *os.File) error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("starting a session for the terminal: %w", err)
	}
	if err := unix.IoctlSetInt(int(tty.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("taking the terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup2(int(tty.Fd()), fd); err != nil {
			return fmt.Errorf("connecting the terminal: %w", err)
		}
	}
	return nil
}
