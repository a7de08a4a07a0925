package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"husk/network"
	"husk/reexec"
	"husk/sandbox"
	"husk/store"
	"husk/store/container"
)

// A running container's second and later user-defined networks (network
// connect while it runs, or the networks after the first at a start) are
// each held by a small process of their own, the member: it makes the
// container's TAP device for the network (sandbox.AttachTap), joins the
// network's switch with it, and stays until the container's init ends or
// network disconnect ends it. The first network is the init's own device,
// which the monitor holds.

// MemberCall is the member's function name (reexec).
const MemberCall = "network-member"

func init() { reexec.Register(MemberCall, runMember) }

// ErrFirstNetwork is a disconnect of the network a running container
// started on: its device is the init's, which stays until it ends.
var ErrFirstNetwork = errors.New("is the network the container started on")

// AttachNetwork joins running container ct to network name (in its
// config already) and returns once it is on it.
func AttachNetwork(ct *container.Container, name string) error {
	dir, err := container.MakeRunDir(ct.ID)
	if err != nil {
		return err
	}
	cmd, err := reexec.Command(MemberCall, ct.ID, name)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	errLog, err := os.OpenFile(filepath.Join(dir, "net-"+name+".err"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	defer errLog.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, errLog
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("connecting %s to network %s: %w", ct.Name, name, err)
	}
	// It outlives a CLI command (then init reaps it); a monitor reaps its own.
	go func() { _ = cmd.Wait() }()
	line, _ := bufio.NewReader(r).ReadString('\n')
	if line != "ok\n" {
		msg := strings.TrimSpace(strings.TrimPrefix(line, "error "))
		if msg == "" {
			msg = "its process ended: see " + errLog.Name()
		}
		return fmt.Errorf("connecting %s to network %s: %s", ct.Name, name, msg)
	}
	return nil
}

// DetachNetwork ends the member that holds running container ct on
// network name, and waits until its device is gone.
func DetachNetwork(ct *container.Container, name string) error {
	dir, err := container.RunDir(ct.ID)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(memberPidFile(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network %s %w: stop the container first (husk stop %s)", name, ErrFirstNetwork, ct.Name)
	}
	if err != nil {
		return err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// A zombie's cmdline is empty: it counts as gone.
	alive := func() bool {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return pid > 0 && strings.HasPrefix(string(cmdline), "husk\x00"+MemberCall+"\x00"+ct.ID+"\x00")
	}
	if !alive() {
		return nil
	}
	// SIGKILL: a member started by a monitor may have SIGTERM blocked, as
	// the monitor's launch has. Nothing of it needs an orderly end: its
	// descriptors close with it (the switch drops the port, the device
	// goes), and its pid file is removed here.
	_ = unix.Kill(pid, unix.SIGKILL)
	defer os.Remove(memberPidFile(dir, name))
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !alive() {
			return nil
		}
	}
	return fmt.Errorf("disconnecting %s from network %s: its process %d did not end", ct.Name, name, pid)
}

func memberPidFile(dir, name string) string { return filepath.Join(dir, "net-"+name+".pid") }

// runMember is the member process: `husk network-member ID NETWORK`.
func runMember(ctx context.Context, _, errw io.Writer, args []string) int {
	ready := os.NewFile(3, "ready")
	if len(args) != 2 {
		fmt.Fprintf(ready, "error want ID NETWORK, got %q: this is husk's own error\n", args)
		return 125
	}
	if err := member(ctx, args[0], args[1], ready); err != nil {
		fmt.Fprintf(ready, "error %v\n", err)
		fmt.Fprintln(errw, "husk:", err)
		return 125
	}
	return 0
}

func member(ctx context.Context, id, name string, ready *os.File) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(id)
	if err != nil {
		return err
	}
	var a *network.Attachment
	for i := range ct.Config.Network.Networks {
		if ct.Config.Network.Networks[i].Network == name {
			a = &ct.Config.Network.Networks[i]
		}
	}
	if a == nil || !ct.Live() {
		return fmt.Errorf("container %s is not running on network %s", ct.Name, name)
	}
	// The init's pidfd first: a pid reused later is never taken for it.
	pidfd, err := unix.PidfdOpen(ct.InitPID, 0)
	if err != nil {
		return fmt.Errorf("the container's init %d: %w", ct.InitPID, err)
	}
	defer unix.Close(pidfd)
	spec, err := runSpec(id)
	if err != nil {
		return err
	}
	cfg, err := a.Config().WithDefaults()
	if err != nil {
		return err
	}
	tap, err := sandbox.AttachTap(ct.InitPID, spec, cfg)
	if err != nil {
		return err
	}
	defer tap.Close()
	root, _, run, err := store.Paths()
	if err != nil {
		return err
	}
	conn, err := network.Join(tap, network.Member{Attachment: *a, Socket: network.SwitchSocket(run, root, a.ID)})
	if err != nil {
		return err
	}
	defer conn.Close()
	dir, err := container.RunDir(id)
	if err != nil {
		return err
	}
	pidFile := memberPidFile(dir, name)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return err
	}
	defer os.Remove(pidFile)
	fmt.Fprintln(ready, "ok")
	ready.Close()
	ended := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				close(ended)
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-ctx.Done():
	}
	return nil
}

// runSpec is the spec the container's init recorded (spec.json), which
// exec starts its processes from.
func runSpec(id string) (*sandbox.Spec, error) {
	dir, err := container.RunDir(id)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "spec.json")
	b, err := os.ReadFile(path)
	for end := time.Now().Add(5 * time.Second); errors.Is(err, os.ErrNotExist) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the container's spec %s: %w: restart the container", path, err)
	}
	var s sandbox.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading the container's spec %s: %w", path, err)
	}
	return &s, nil
}

// attachNetworks joins a container that just started to its networks
// after the first (whose device the init made), before its start is
// reported: a start returns with the container on all of them.
func (m *monitor) attachNetworks() {
	nets := m.c.Config.Network.Networks
	for i := 1; i < len(nets); i++ {
		if err := AttachNetwork(m.c, nets[i].Network); err != nil {
			fmt.Fprintln(os.Stderr, "husk:", err) // the monitor's error file
		}
	}
}
