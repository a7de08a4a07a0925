// Package monitor supervises a detached container: one husk process per
// container, outside it, that holds the pty or pipes, writes the log
// (logfile), serves attach (attach), records each start's exit, and
// applies --restart and --rm. It is husk's function "monitor" (reexec):
// Launch starts it, detached, and waits until it runs the container.
package monitor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"husk/monitor/attach"
	"husk/monitor/logfile"
	"husk/reexec"
	"husk/sandbox"
	"husk/start"
	"husk/store/container"
	"husk/userns"

	"golang.org/x/sys/unix"
)

// Logs are rotated at this size, one older file kept (Docker's json-file
// with max-size=10m, max-file=2).
const (
	logMaxSize = 10 << 20
	logKeep    = 1
)

// openLog opens the container's log as its --log-driver and --log-opt
// say: none keeps nothing; json-file rotates at max-size, keeping
// max-file files in all.
func openLog(c *container.Container) (*logfile.Writer, error) {
	l := c.Config.Log
	if l.Driver == sandbox.LogNone {
		return logfile.Discard()
	}
	size, keep := int64(logMaxSize), logKeep
	if l.MaxSize > 0 {
		size = l.MaxSize
	}
	if l.MaxFile > 0 {
		keep = l.MaxFile - 1
	}
	return logfile.Open(c.LogPath(), size, keep)
}

// Call is the function (reexec) that is a container's monitor. Its
// arguments are the container's ID, then "driver=NAME" for a store driver
// chosen by flag, and "wait-attach" to start the container only once a
// client has attached: `ps` shows `husk monitor ID`.
const Call = "monitor"

// exitHusk is husk's own failure, as Docker's 125.
const exitHusk = 125

// The ready pipe: the monitor tells Launch "attach" once its socket
// listens, then "ok" once the process runs, or "error CODE MSG".
const fdReady = 3

func init() { reexec.Register(Call, run) }

func run(_ context.Context, _, errw io.Writer, args []string) int {
	if len(args) < 1 {
		fmt.Fprintf(errw, "husk: %s takes the container's ID: this is husk's own error\n", Call)
		return exitHusk
	}
	id, driver, waitAttach := args[0], "", false
	for _, a := range args[1:] {
		if v, ok := strings.CutPrefix(a, "driver="); ok {
			driver = v
		}
		waitAttach = waitAttach || a == "wait-attach"
	}
	ready := os.NewFile(fdReady, "ready")
	mon, err := newMonitor(id, driver)
	if err != nil {
		fmt.Fprintf(ready, "error %d %s\n", exitHusk, err)
		fmt.Fprintln(errw, "husk: "+err.Error())
		return exitHusk
	}
	defer mon.close()
	fmt.Fprintln(ready, "attach")
	if waitAttach {
		mon.hub.WaitClient(10 * time.Second)
	}
	code := mon.run(ready)
	if mon.c.Config.AutoRemove {
		mon.close()
		// Not ctx: a stop's signal ended the container, and its removal
		// must still happen.
		_, _ = userns.Call(context.Background(), io.Discard, container.CallRemove, driver, mon.c.ID)
	}
	return code
}

type monitor struct {
	driver  string
	cs      *container.Store
	c       *container.Container
	mapping *userns.Mapping
	hub     *attach.Hub
	log     *logfile.Writer
	once    sync.Once
}

func newMonitor(id, driver string) (*monitor, error) {
	cs, c, err := container.OpenRunnable(id)
	if err != nil {
		return nil, err
	}
	mapping, err := c.Config.Mapping()
	if err != nil {
		return nil, err
	}
	dir, err := container.MakeRunDir(c.ID)
	if err != nil {
		return nil, err
	}
	hub, err := attach.Listen(filepath.Join(dir, "attach.sock"))
	if err != nil {
		return nil, err
	}
	log, err := openLog(c)
	if err != nil {
		hub.Close()
		return nil, err
	}
	return &monitor{driver: driver, cs: cs, c: c, mapping: mapping, hub: hub, log: log}, nil
}

func (m *monitor) close() {
	m.once.Do(func() {
		m.hub.Close()
		m.log.Close()
	})
}

// run starts the container, and again as its restart policy says, and
// returns the last exit code. Between starts the container shows as
// restarting, so wait and ps do not take it for ended.
func (m *monitor) run(ready *os.File) int {
	policy, max := m.c.Config.Restart.Name, m.c.Config.Restart.MaximumRetryCount
	for n := 0; ; n++ {
		code, ran, msg := m.start(ready)
		ready = nil // only the first start is reported
		again := false
		_, _ = m.cs.Update(m.c.ID, func(st *container.State) error {
			_ = container.MarkExited(code, msg)(st)
			if again = ran && restart(policy, max, code, n, st.Stopped); again {
				st.Status = container.Restarting
				st.Restarts++
			}
			return nil
		})
		if again {
			time.Sleep(backoff(n))
			again = m.stillWanted()
		}
		if !again {
			m.hub.Exit(code)
			return code
		}
	}
}

// stillWanted reports whether no stop came during the backoff, else marks
// the container exited.
func (m *monitor) stillWanted() bool {
	want := true
	_, _ = m.cs.Update(m.c.ID, func(st *container.State) error {
		if st.Stopped {
			st.Status, want = container.Exited, false
		}
		return nil
	})
	return want
}

func restart(policy string, max, code, n int, stopped bool) bool {
	switch {
	case stopped || policy == "no":
		return false
	case policy == "on-failure":
		return code != 0 && (max == 0 || n < max)
	}
	return true // always, unless-stopped
}

// backoff doubles from 100 ms up to 10 s between restarts, as Docker's.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 7)
	return min(d, 10*time.Second)
}

// start launches the sandbox once and waits for it. ran says whether the
// user's process started at all; msg is the sandbox's error when it did not.
func (m *monitor) start(ready *os.File) (code int, ran bool, msg string) {
	// The ports are bound for each start and freed when it ends.
	nh, err := m.c.Config.NetHost()
	if err != nil {
		m.report(ready, exitHusk, err.Error())
		return exitHusk, false, err.Error()
	}
	defer nh.Close()
	if nh != nil {
		nh.ExecBinds = container.ExecBindsPath(m.c.ID)
	}
	ios, err := m.streams()
	if err != nil {
		m.report(ready, exitHusk, err.Error())
		return exitHusk, false, err.Error()
	}
	hl, err := start.HostSpec(context.Background(), m.driver, m.mapping, start.NewRecord(m.cs, m.c))
	if errors.Is(err, start.ErrNoSuchImage) {
		err = fmt.Errorf("%w: pull it again, or remove the container", err)
	}
	if err != nil {
		ios.closeChildEnds()
		ios.closeNear()
		m.report(ready, exitHusk, err.Error())
		return exitHusk, false, err.Error()
	}
	defer hl.Done(context.Background())
	o := m.c.Config.LaunchOptions(m.c.ID)
	o.Stdin, o.Stdout, o.Stderr = ios.stdin, ios.stdout, ios.stderr
	o.Args, o.CInit = start.InitArgs(m.c.ID), hl.CSpec
	o.Console = ios.console
	o.Started = func(pid int) {
		ios.closeChildEnds()
		ct, err := m.cs.Update(m.c.ID, container.MarkRunning(os.Getpid(), pid, nh.Ports()))
		if err == nil && ct.Stopped {
			// Stopped while it restarted: this start ends at once.
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	o.Running = func() {
		if !ran && m.c.Config.Join != "" {
			go m.watchMembers()
		}
		ran = true
		m.attachNetworks()
		m.report(ready, 0, "")
		sandbox.TrimWhileIdle()
	}
	var netErr error
	if err := sandbox.WithNet(&o, nh, &netErr); err != nil {
		m.report(ready, exitHusk, err.Error())
		return exitHusk, false, err.Error()
	}
	code, st, err := sandbox.Launch(m.mapping, o)
	if err == nil {
		err = netErr
	}
	ios.closeChildEnds()
	ios.wait()
	ios.closeNear()
	if err != nil {
		st.Error = err.Error()
	}
	if !ran {
		if st.Error == "" {
			st.Error = fmt.Sprintf("the container exited with code %d before its process started", code)
		}
		m.report(ready, code, st.Error)
	}
	return code, ran, st.Error
}

func (m *monitor) report(ready *os.File, code int, msg string) {
	if ready == nil {
		return
	}
	if msg == "" {
		fmt.Fprintln(ready, "ok")
	} else {
		fmt.Fprintf(ready, "error %d %s\n", code, msg)
	}
	ready.Close()
}

// readReady reads one line of the monitor's ready pipe: "" for ok.
func readReady(r *bufio.Reader) (word string, code int, msg string) {
	line, err := r.ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	if err != nil && line == "" {
		return "error", exitHusk, "the container's monitor ended before it started the container: see 'husk logs'"
	}
	word, rest, _ := strings.Cut(line, " ")
	if word != "error" {
		return word, 0, ""
	}
	c, msg, _ := strings.Cut(rest, " ")
	code, _ = strconv.Atoi(c)
	return word, code, msg
}

// watchMembers ends a joined container (run --join) once none of its
// tasks' processes lives: the last task to leave stops it itself, and this
// is for a last task killed with -9. The check holds the join lock, so a
// task that is joining is counted.
func (m *monitor) watchMembers() {
	for {
		time.Sleep(time.Second)
		unlock, err := m.cs.JoinLock()
		if err != nil {
			continue
		}
		if container.LiveMembers(m.c.ID) == 0 {
			ct, err := m.cs.Find(m.c.ID)
			if err == nil {
				_ = m.cs.Kill(ct, unix.SIGKILL)
			}
			unlock()
			return
		}
		unlock()
	}
}
