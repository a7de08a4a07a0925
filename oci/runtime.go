package oci

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/sandbox"
	"husk/userns"
)

// CreateOptions are runc create's: the bundle, the file the init's pid
// goes to, and the socket a terminal's master is sent on.
type CreateOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
}

// Create builds container id from its bundle and leaves its init waiting
// for Start. The container's stdio is this process's.
func Create(root, id string, o CreateOptions) (*sandbox.Created, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	spec, err := readSpec(bundle)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory %s: %w: give a writable --root", root, err)
	}
	if err := os.Mkdir(dir(root, id), 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %s exists already (in %s): delete it first (husk oci delete %s) or give another ID", id, root, id)
		}
		return nil, fmt.Errorf("creating container %s's state directory: %w", id, err)
	}
	c, err := launch(root, id, bundle, spec, o)
	if err != nil {
		os.RemoveAll(dir(root, id))
		return nil, err
	}
	return c, nil
}

func launch(root, id, bundle string, spec *specs.Spec, o CreateOptions) (*sandbox.Created, error) {
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, fmt.Errorf("the bundle's config.json has no root.path: name the root filesystem's directory (rootfs)")
	}
	rootfs := rootfsOf(bundle)
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("the bundle's root %s is not a directory: unpack the root filesystem there (husk bundle IMAGE DIR)", rootfs)
	}
	mapping, err := mappingFor()
	if err != nil {
		return nil, err
	}
	scratch, err := sandbox.ScratchDir(root)
	if err != nil {
		return nil, err
	}
	single := (mapping != nil && mapping.Mode == userns.ModeSingle) || (mapping == nil && setgroupsDenied())
	s, err := sandbox.FromOCI(spec, rootfs, scratch, id, single, mapping == nil)
	if err != nil {
		return nil, err
	}
	if err := unix.Mkfifo(fifo(root, id), 0o600); err != nil {
		return nil, fmt.Errorf("creating container %s's start FIFO: %w", id, err)
	}
	enc, err := (&sandbox.CSpec{Spec: s.Spec, StartFIFO: fifo(root, id), NetNS: s.NetNS}).Encode()
	if err != nil {
		return nil, err
	}
	lo := sandbox.Options{NewNet: s.NewNet, Cloneflags: s.Cloneflags, CInit: enc, Args: []string{"oci", "init", id}, Stdin: os.Stdin}
	if s.Terminal {
		if lo.ConsoleSocket, err = dialConsole(o.ConsoleSocket); err != nil {
			return nil, err
		}
		defer lo.ConsoleSocket.Close()
	}
	c, err := sandbox.Create(mapping, lo)
	if err != nil {
		return nil, err
	}
	_, started, _ := procStat(c.Pid)
	r := &Record{ID: id, Pid: c.Pid, Bundle: bundle, Created: time.Now().UTC(), StartTime: started, Owner: owner(), Annotations: spec.Annotations}
	if err := r.save(root); err != nil {
		_ = unix.Kill(c.Pid, unix.SIGKILL)
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.Pid); err != nil {
			_ = unix.Kill(c.Pid, unix.SIGKILL)
			return nil, err
		}
	}
	return c, nil
}

// mappingFor is husk's user namespace for the container: none for root
// (real root, or root in a runtime caller's namespace, such as rootless
// podman's), else husk's usual mapping.
func mappingFor() (*userns.Mapping, error) {
	if os.Geteuid() == 0 {
		return nil, nil
	}
	return userns.Detect()
}

// setgroupsDenied: root in a caller's user namespace of one uid (rootless
// podman without /etc/subuid ranges), where setgroups(2) is denied.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

func owner() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return strconv.Itoa(os.Getuid())
}

// dialConsole connects to runc's --console-socket, where the init sends
// the terminal's master.
func dialConsole(path string) (*os.File, error) {
	if path == "" {
		return nil, fmt.Errorf("process.terminal is true: give --console-socket, a unix socket that takes the terminal's master, or set it false")
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to the console socket %s: %w", path, err)
	}
	defer conn.Close()
	return conn.(*net.UnixConn).File()
}

func writePidFile(path string, pid int) error {
	tmp := path + ".husk-tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("writing the pid file %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// Start lets a created container's init run its process.
func Start(root, id string) error {
	r, err := load(root, id)
	if err != nil {
		return err
	}
	if st := r.status(root); st != specs.StateCreated {
		return fmt.Errorf("container %s is %s, not created: only a created container starts (husk oci run makes and starts one)", id, st)
	}
	f, err := os.OpenFile(fifo(root, id), os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("starting container %s: its init is not waiting (%w): delete it and create it again", id, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte{0}); err != nil {
		return fmt.Errorf("starting container %s: %w", id, err)
	}
	return os.Remove(fifo(root, id))
}

// Status is container id's state as runc prints it.
func Status(root, id string) (State, error) {
	r, err := load(root, id)
	if err != nil {
		return State{}, err
	}
	return r.stateOf(root), nil
}

// List is every container's state under root.
func List(root string) ([]State, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []State
	for _, e := range ents {
		if r, err := load(root, e.Name()); err == nil {
			out = append(out, r.stateOf(root))
		}
	}
	return out, nil
}

// Run creates and starts container id; in the foreground (not detach) it
// waits for the process, passing signals on, removes the container's
// state and returns the process's code.
func Run(root, id string, o CreateOptions, detach bool) (int, error) {
	c, err := Create(root, id, o)
	if err != nil {
		return 125, err
	}
	if err := Start(root, id); err != nil {
		_ = Delete(root, id, true)
		return 125, err
	}
	if detach {
		return 0, nil
	}
	code := c.Wait()
	return code, Delete(root, id, true)
}
