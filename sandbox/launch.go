package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"husk/network"
	"husk/pdeath"
	"husk/sandbox/abi"
	"husk/userns"
)

// The sandbox's inherited descriptors, set by Launch.
const (
	fdStatus  = abi.FdStatus  // this side reads what the sandbox asks for after it ends
	fdConsole = abi.FdConsole // with -t: a unix socket; the pty's master comes back on it
)

// EnvSandbox marks husk re-executed as a sandbox's PID 1.
const EnvSandbox = abi.EnvSandbox

// Options are the host side's choices for a launch.
type Options struct {
	// NewNet gives the sandbox its own (empty) network namespace.
	NewNet bool
	// Stdin is the process's standard input (nil: /dev/null, as without -i).
	Stdin *os.File
	// Terminal: the process gets a pty, which this side relays.
	Terminal bool

	// Args are husk's arguments for the sandbox: a container's init is
	// named by the container alone (nil: this process's own arguments).
	Args []string
	// The rest serve a container's monitor; zero values mean this
	// process's own stdio.
	Env    []string // added to this process's environment
	Stdout *os.File
	Stderr *os.File
	// Console takes the pty's master instead of relaying it to this
	// process's terminal.
	Console func(master *os.File)
	// Started is called with the sandbox's pid once it exists; Running
	// once the user's process has started in it.
	Started func(pid int)
	Running func()
	// NetConn is the init's end of the network socket (see network.Spec).
	NetConn *os.File
	// CInit, when set, is a complete spec (CSpec.Encode) for the C init,
	// which then runs in place of husk's Go side.
	CInit []byte
	// Cgroup, when set, is the container's own cgroup, made for this
	// launch with its limits and removed after it.
	Cgroup *CgroupPlan
	// The rest serve an OCI create (Create): the sandbox outlives this
	// process, a terminal's master goes to ConsoleSocket (a connection to
	// the caller's console socket), and Cloneflags adds namespaces.
	Detached      bool
	ConsoleSocket *os.File
	Cloneflags    uintptr
	// Ctx, when set, is the caller's: done (Ctrl-C, SIGTERM) before the
	// sandbox starts, nothing starts. A signal that came while the caller
	// prepared the launch was the context's alone, never relayed.
	Ctx context.Context
}

// ErrInterrupted is a launch the caller's context ended before the
// sandbox started: Ctrl-C's exit code goes with it.
var ErrInterrupted = errors.New("interrupted before the sandbox started")

// Status is what the sandbox said of itself before it ended.
type Status struct {
	Error string // why it failed, when it did
}

// Launch runs this same husk command again as PID 1 of new user, mount,
// pid, uts, ipc (and network) namespaces, mapped as mapping says: one
// re-execution on the start path. It relays the terminal and signals, and
// returns the sandbox's exit code. The sandbox prints its own errors.
func Launch(mapping *userns.Mapping, o Options) (int, Status, error) {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	var st Status
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 125, st, fmt.Errorf("creating the status pipe: %w", err)
	}
	defer statusR.Close()
	var con *console
	if o.Terminal {
		if con, err = newConsole(o.Stdin != nil); err != nil {
			statusW.Close()
			return 125, st, err
		}
		defer con.close()
	}
	cmd, err := sandboxCommand(o, statusW, con)
	if err != nil {
		statusW.Close()
		return 125, st, err
	}
	if o.Cgroup != nil {
		remove, err := o.Cgroup.place(cmd)
		if err != nil {
			statusW.Close()
			closeSpec(cmd)
			return 125, st, err
		}
		defer remove()
	}
	// Signals arriving while the sandbox starts are held, then relayed.
	sigs := make(chan os.Signal, 64)
	notifyRelayable(sigs)
	defer signal.Stop(sigs)
	// From here on a signal is relayed; one before it ended the context.
	if o.Ctx != nil && o.Ctx.Err() != nil {
		statusW.Close()
		closeSpec(cmd)
		return 128 + int(unix.SIGINT), st, ErrInterrupted
	}
	err = start(mapping, cmd, o.NewNet, o.Cloneflags)
	statusW.Close()
	closeSpec(cmd)
	if err != nil {
		return 125, st, err
	}
	if o.Started != nil {
		o.Started(cmd.Process.Pid)
	}
	status := make(chan Status, 1)
	go func() { status <- readStatus(statusR, o.Running) }()
	if con != nil {
		con.remote.Close() // the sandbox holds it now; its end means EOF here
		if o.Console != nil {
			go con.handOver(o.Console)
		} else {
			go con.relay()
		}
	}
	code := waitCmd(cmd, sigs, con)
	return code, <-status, nil
}

// Adopt follows a sandbox that started before this process's Go runtime
// did (executor.Prelaunched): its init is pid, its status pipe status. It
// relays signals like Launch and returns the same.
func Adopt(pid int, status *os.File, o Options) (int, Status, error) {
	defer status.Close()
	sigs := held
	if sigs == nil {
		sigs = make(chan os.Signal, 64)
		notifyRelayable(sigs)
	}
	defer signal.Stop(sigs)
	p, err := os.FindProcess(pid)
	if err != nil {
		return 125, Status{}, fmt.Errorf("following the sandbox %d: %w", pid, err)
	}
	st := make(chan Status, 1)
	go func() { st <- readStatus(status, o.Running) }()
	code := wait(p, p.Wait, sigs, nil)
	return code, <-st, nil
}

func start(mapping *userns.Mapping, cmd *exec.Cmd, newNet bool, extra uintptr) error {
	flags := uintptr(unix.CLONE_NEWPID|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC) | extra
	if newNet {
		flags |= unix.CLONE_NEWNET
	}
	if os.Geteuid() == 0 && mapping == nil {
		// Real root needs no user namespace.
		cmd.Env = append(cmd.Env, abi.EnvUserns+"=root")
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | flags
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting the sandbox: %w", err)
		}
		return nil
	}
	if mapping.Mode == userns.ModeKeepID {
		// keep-id: the sandbox runs as the user's own uid, not 0, so
		// execve would take its capabilities; ambient ones survive it.
		cmd.SysProcAttr.AmbientCaps = userns.AllCaps()
	}
	return userns.Start(mapping, cmd, flags)
}

// sandboxCommand is husk with the same arguments, marked as a sandbox. It
// runs in its own session, so a terminal's signals reach only this side,
// which relays them once.
func sandboxCommand(o Options, statusW *os.File, con *console) (*exec.Cmd, error) {
	cmd := exec.Command("/proc/self/exe", o.Args...)
	cmd.Args[0] = "husk"
	if o.Args == nil {
		// husk shell's sandbox: the user's own command line again.
		cmd.Args = os.Args
	}
	cmd.Env = append(append(os.Environ(), o.Env...), EnvSandbox+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if o.Stdout != nil {
		cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	}
	if o.Stdin != nil && con == nil {
		cmd.Stdin = o.Stdin
	}
	cmd.ExtraFiles = []*os.File{statusW} // fdStatus
	if con != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, con.remote) // fdConsole
	} else if o.ConsoleSocket != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, o.ConsoleSocket)
	}
	if o.NetConn != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, o.NetConn)
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", envNet, 2+len(cmd.ExtraFiles)))
	}
	if o.CInit != nil {
		spec, err := specFile(o.CInit)
		if err != nil {
			return nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, spec)
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", EnvCInit, 2+len(cmd.ExtraFiles)))
	}
	// The sandbox dies with this side: it never outlives husk.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if o.Detached {
		cmd.SysProcAttr.Pdeathsig = 0
	}
	return cmd, nil
}

// closeSpec closes this side's copy of the C init's spec.
func closeSpec(cmd *exec.Cmd) {
	for _, f := range cmd.ExtraFiles {
		if f != nil && f.Name() == "husk-spec" {
			f.Close()
		}
	}
}

// specFile holds the C init's spec in memory, read from its start: no
// pipe to keep fed while the child starts.
func specFile(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("husk-spec", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating the sandbox's spec: %w", err)
	}
	f := os.NewFile(uintptr(fd), "husk-spec")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the sandbox's spec: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the sandbox's spec: %w", err)
	}
	return f, nil
}

func waitCmd(cmd *exec.Cmd, sigs chan os.Signal, con *console) int {
	reap := func() (*os.ProcessState, error) { err := cmd.Wait(); return cmd.ProcessState, err }
	return wait(cmd.Process, reap, sigs, con)
}

// wait relays signals to the sandbox p until reap has reaped it, and
// returns its code.
func wait(p *os.Process, reap func() (*os.ProcessState, error), sigs chan os.Signal, con *console) int {
	done := make(chan *os.ProcessState, 1)
	go func() { ps, _ := reap(); done <- ps }()
	for {
		select {
		case ps := <-done:
			if con != nil {
				con.drain()
			}
			return ExitCode(ps)
		case sig := <-sigs:
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGWINCH:
				if con != nil {
					con.resize()
				}
			default:
				_ = p.Signal(sig)
			}
		}
	}
}

// readStatus reads what the sandbox says until it ends: "running" as soon
// as the user's process has started, the rest for afterwards.
func readStatus(r *os.File, running func()) Status {
	var st Status
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case abi.StatusError:
			st.Error = v
		case abi.StatusRunning:
			if running != nil {
				running()
			}
		}
	}
	return st
}

// ExitCode is the code a shell reports for a finished process: its own,
// or 128+N after signal N; 125 when it never ran.
func ExitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 125
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// WithNet adds the network's host side to a launch: the init's socket, and
// the start once the sandbox exists. A failed start is kept in *errp, and
// the init, whose socket then closes, gives up too.
func WithNet(o *Options, h *network.Host, errp *error) error {
	if h == nil {
		return nil
	}
	sock, err := h.InitSocket()
	if err != nil {
		return err
	}
	o.NetConn = sock
	started := o.Started
	o.Started = func(pid int) {
		if started != nil {
			started(pid)
		}
		if err := h.Start(pid); err != nil {
			*errp = err
			h.Abort()
		}
	}
	return nil
}
