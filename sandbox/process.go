package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"husk/seccomp"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execError carries Docker's exit code for a process that could not start:
// 127 when the command is not found, 126 when it cannot be run.
type execError struct {
	code int
	err  error
}

func (e *execError) Error() string { return e.err.Error() }
func (e *execError) Unwrap() error { return e.err }

// startProcess starts the user's process as the init's child. The
// privileges are dropped on one locked OS thread, which then forks: the
// child inherits exactly that thread's capabilities, no_new_privs and
// seccomp filter, while the init's other threads keep what they need to
// forward signals. The locked thread is discarded afterwards.
func startProcess(s *Spec, cred *syscall.Credential, stdio []*os.File) (int, error) {
	path, err := lookPath(s.Args[0], s.Env)
	if err != nil {
		return 0, err
	}
	// Nothing but stdio reaches the user's process: not the status pipe to
	// the host side, not a descriptor husk's caller left open (runc after
	// CVE-2024-21626).
	if err := closeOnExecFrom(3); err != nil {
		return 0, err
	}
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine.
		runtime.LockOSThread()
		pid, err := dropAndFork(s, path, cred, stdio)
		done <- result{pid, err}
	}()
	r := <-done
	return r.pid, r.err
}

func dropAndFork(s *Spec, path string, cred *syscall.Credential, stdio []*os.File) (int, error) {
	if err := dropPrivileges(s, cred); err != nil {
		return 0, err
	}
	attr := &os.ProcAttr{
		Dir:   s.Cwd,
		Env:   s.Env,
		Files: stdio,
		Sys: &syscall.SysProcAttr{
			Setsid:  true,
			Setctty: s.Terminal,
		},
	}
	p, err := os.StartProcess(path, s.Args, attr)
	if err != nil {
		return 0, startError(s.Args[0], err)
	}
	pid := p.Pid
	p.Release() // the init reaps with wait4 itself
	return pid, nil
}

// dropPrivileges leaves the calling (locked) thread with the spec's
// no_new_privs, seccomp filter, ids and capabilities.
func dropPrivileges(s *Spec, cred *syscall.Credential) error {
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
	}
	// Seccomp as close to exec as possible: last with no_new_privs; without
	// it the kernel asks for CAP_SYS_ADMIN, so before the capabilities go
	// (runc's order).
	if !s.NoNewPrivs {
		if err := loadSeccomp(s.SeccompBPF); err != nil {
			return err
		}
	}
	// runc's order: the bounding set, then the ids (setgroups needs
	// CAP_SETGID), then what is left of the capabilities. A switch to a
	// uid other than 0 clears them, as Docker's non-root users have none.
	if err := dropBounding(s.Caps); err != nil {
		return err
	}
	if err := switchIDs(cred); err != nil {
		return err
	}
	if err := limitCaps(s.Caps); err != nil {
		return err
	}
	if s.NoNewPrivs {
		return loadSeccomp(s.SeccompBPF)
	}
	return nil
}

func startError(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &execError{127, fmt.Errorf("running %q: no such file or directory in the image", name)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR):
		return &execError{126, fmt.Errorf("running %q: %v", name, errors.Unwrap(err))}
	}
	return fmt.Errorf("running %q: %w", name, err)
}

// lookPath finds name in the sandbox's own PATH (not husk's), after the
// pivot, as the image's shell would.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", &execError{127, fmt.Errorf("running %q: executable file not found in $PATH", name)}
}

// switchIDs sets the groups, gid and uid of the calling thread only (raw
// syscalls: Go's own Setuid would change every thread of the init).
func switchIDs(cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if !cred.NoSetGroups {
		if err := setgroups(cred.Groups); err != nil {
			return fmt.Errorf("setting the groups %v: %w", cred.Groups, err)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(cred.Gid), uintptr(cred.Gid), uintptr(cred.Gid)); e != 0 {
		return fmt.Errorf("setting gid %d: %w", cred.Gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(cred.Uid), uintptr(cred.Uid), uintptr(cred.Uid)); e != 0 {
		return fmt.Errorf("setting uid %d: %w", cred.Uid, e)
	}
	return nil
}

func setgroups(groups []uint32) error {
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
		return e
	}
	return nil
}

// closeOnExecFrom marks every descriptor from first up close-on-exec.
func closeOnExecFrom(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11: one by one.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("closing inherited descriptors: %w", err)
	}
	for _, e := range entries {
		var fd int
		if _, serr := fmt.Sscan(e.Name(), &fd); serr == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

func loadSeccomp(bpf []byte) error {
	if len(bpf) == 0 {
		return nil // unconfined
	}
	if err := seccomp.LoadBPF(bpf); err != nil {
		return fmt.Errorf("%w: use --security-opt seccomp=unconfined where seccomp is not allowed", err)
	}
	return nil
}
