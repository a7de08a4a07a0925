package userns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"husk/pdeath"
	"husk/sandbox/abi"
)

// envSync names the fd on which the direct child waits for the parent's
// msgMapped before it runs (subuid mode). ChildInit removes it, so that
// commands the child starts never see it.
const (
	envSync   = abi.EnvUsernsSync
	msgMapped = abi.UsernsMapped
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// start re-executes husk with args in a new user and mount namespace and
// returns once the child runs under its ID map.
func start(mapping *Mapping, args []string, io stdio) (*exec.Cmd, error) {
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: append([]string{os.Args[0]}, args...)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.in, io.out, io.err
	cmd.Env = os.Environ()
	return cmd, startCmd(mapping, cmd)
}

// startCmd starts cmd, a husk, in a new user and mount namespace.
func startCmd(mapping *Mapping, cmd *exec.Cmd) error {
	// A husk parent killed with SIGKILL must not leave its child behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return Start(mapping, cmd, 0)
}

// Start starts cmd, a re-execution of husk whose main calls ChildInit
// first, in a new user and mount namespace (plus the namespaces in flags,
// e.g. CLONE_NEWPID) mapped as mapping says, and returns once the child runs
// under its map. cmd.SysProcAttr is kept and extended; cmd.Env (nil: this
// process's) gets HUSK_USERNS=<mode>.
//
// Single mode lets the kernel write `0 uid 1` before the child's execve
// (setgroups denied, as an unprivileged writer must). Subuid mode cannot:
// only newuidmap may write the ranges, and only after the clone. A child
// that execs before its uid is mapped gets no capabilities from execve, so
// the child is given every capability as ambient: they survive the execve
// and make it root in its namespace once mapped, with no second exec on
// the start path. The child waits in ChildInit until the maps are written.
// (A sandbox init that drops capabilities must clear the ambient set.)
func Start(mapping *Mapping, cmd *exec.Cmd, flags uintptr) error {
	// Preflight before any clone: a kernel switch names itself better than
	// the EPERM of the clone it causes.
	if errs := Preflight(); len(errs) > 0 {
		return errs[0]
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, envMarker+"="+mapping.Mode, envReexec+"=1")
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | flags
	if mapping.Mode != ModeSubuid {
		cmd.SysProcAttr.UidMappings = sysMap(mapping.UIDMap)
		cmd.SysProcAttr.GidMappings = sysMap(mapping.GIDMap)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		if err := cmd.Start(); err != nil {
			return cloneError(err)
		}
		return nil
	}
	return startMapped(cmd, mapping)
}

// startMapped is Start's subuid half: clone, newuidmap/newgidmap, release.
func startMapped(cmd *exec.Cmd, mapping *Mapping) error {
	r, w, err := os.Pipe()
	if err != nil {
		return newError("creating the namespace handshake pipe", "", err, "")
	}
	defer w.Close()
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	cmd.Env = append(cmd.Env, envSync+"="+strconv.Itoa(fd))
	cmd.SysProcAttr.AmbientCaps = AllCaps()
	err = cmd.Start()
	r.Close()
	if err != nil {
		return cloneError(err)
	}
	if err := writeMaps(mapping, cmd.Process.Pid); err != nil {
		// The child reads EOF, not msgMapped, and exits without a word:
		// the user sees this error once, from here.
		w.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	if _, err := w.Write([]byte{msgMapped}); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return newError("releasing the namespace child", strconv.Itoa(cmd.Process.Pid), err, "")
	}
	return nil
}

// writeMaps runs newuidmap and newgidmap on pid, side by side (each is a
// setuid exec of a few milliseconds on the start path).
func writeMaps(mapping *Mapping, pid int) error {
	var wg sync.WaitGroup
	var errU, errG error
	wg.Add(2)
	go func() {
		defer wg.Done()
		errU = runMapHelper(mapping.NewUIDMap, "uids", pid, mapping.UIDMap, mapping.User)
	}()
	go func() {
		defer wg.Done()
		errG = runMapHelper(mapping.NewGIDMap, "gids", pid, mapping.GIDMap, mapping.User)
	}()
	wg.Wait()
	if errU != nil {
		return errU
	}
	return errG
}

// runMapHelper runs `newuidmap PID 0 UID 1 1 START COUNT ...`. Its
// complaint becomes one line with the fix.
func runMapHelper(bin, what string, pid int, m []IDMap, user string) error {
	args := []string{strconv.Itoa(pid)}
	for _, l := range m {
		args = append(args, strconv.Itoa(l.ContainerID), strconv.Itoa(l.HostID), strconv.Itoa(l.Size))
	}
	var stderr bytes.Buffer
	c := exec.Command(bin, args...)
	c.Stderr = &stderr
	err := c.Run()
	if err == nil {
		return nil
	}
	if msg := lastLine(stderr.Bytes()); msg != "" {
		err = errors.New(msg)
	}
	if user == "" {
		user = "USER"
	}
	fix := fmt.Sprintf("check the ranges of %s in /etc/subuid and /etc/subgid; to add a range: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", user, user)
	if errors.Is(err, unix.EPERM) || strings.Contains(err.Error(), "not permitted") {
		if pf := Preflight(); len(pf) > 0 {
			fix = FixOf(pf[0])
		}
	}
	return newError("mapping "+what+" with", bin, err, fix)
}

// lastLine is the last non-empty line of a helper's stderr.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func sysMap(m []IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, l := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: l.ContainerID, HostID: l.HostID, Size: l.Size}
	}
	return out
}

// AllCaps lists every capability the kernel knows (0..cap_last_cap).
func AllCaps() []uintptr {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	caps := make([]uintptr, 0, last+1)
	for c := 0; c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps
}

// exitCode is the code husk exits with for the child's end: its own code,
// or 128+N after signal N, as a shell reports it.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 125
}

// Output runs husk with args inside the namespace (directly when already
// inside, or as real root) and returns its stdout. A failure carries the
// last line the child wrote to stderr. `husk info` uses it to probe.
func Output(ctx context.Context, args ...string) ([]byte, error) {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	var out, errb bytes.Buffer
	var cmd *exec.Cmd
	if Inside() || os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "/proc/self/exe", args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			return nil, newError("running", "husk "+strings.Join(args, " "), err, "")
		}
	} else {
		mapping, err := Detect()
		if err != nil {
			return nil, err
		}
		if cmd, err = start(mapping, args, stdio{nil, &out, &errb}); err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
		defer stop()
	}
	if err := cmd.Wait(); err != nil {
		if msg := lastLine(errb.Bytes()); msg != "" {
			err = errors.New(strings.TrimPrefix(msg, "husk: "))
		}
		return out.Bytes(), err
	}
	return out.Bytes(), nil
}
