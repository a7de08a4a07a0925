package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The process's own exit code, and 128+N after signal N.
func TestRunExitCodes(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	for _, c := range []struct {
		cmd  []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"false"}, 1},
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"sh", "-c", "exit 255"}, 255},
		{[]string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{[]string{"sh", "-c", "kill -SEGV $$"}, 128 + 11},
		{[]string{"sh", "-c", "kill -USR1 $$"}, 128 + 10},
	} {
		r := e.sbx(nil, ref, c.cmd...)
		if r.code != c.code {
			t.Errorf("%q: want exit %d: %s", c.cmd, c.code, r)
		}
		if c.code != 0 && len(errorLines(r.stderr)) != 0 {
			t.Errorf("%q: the process's own failure is not husk's: want no \"husk:\" line: %s", c.cmd, r)
		}
	}
	e.noLeftovers()
}

// started is a husk run in the background that printed "ready".
type started struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	mu     sync.Mutex
	out    bytes.Buffer
	errb   bytes.Buffer
	done   chan error
}

// startReady starts husk ARGS and waits until its stdout has a line
// "ready" (the sandbox's process is up).
func (e *env) startReady(args ...string) *started {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s := &started{cancel: cancel, done: make(chan error, 1)}
	s.cmd = e.command(ctx, args...)
	s.cmd.Stderr = &lockedWriter{&s.mu, &s.errb}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		cancel()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if sc.Text() == "ready" && !once {
				once = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.done <- s.cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.done <- err
		e.t.Fatalf("husk %s exited before it was ready: %v\n%s", strings.Join(args, " "), err, s.text())
	case <-time.After(time.Minute):
		e.t.Fatalf("husk %s: not ready after a minute\n%s", strings.Join(args, " "), s.text())
	}
	return s
}

// wait returns the exit code, or fails when husk takes longer than limit.
func (s *started) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Errorf("husk itself died of %v; want it to exit with the sandbox's code", ws.Signal())
			}
			return ee.ExitCode()
		}
		t.Fatalf("waiting for husk: %v", err)
	case <-time.After(limit):
		t.Fatalf("husk still running %v after the signal\n%s", limit, s.text())
	}
	return -1
}

func (s *started) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "--- stdout:\n" + s.out.String() + "--- stderr:\n" + s.errb.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Signals sent to husk reach the sandbox's process, and husk exits with its
// code: SIGTERM to husk's pid or its process group kills `sleep` (143), a
// trapped signal runs the process's handler, SIGINT gives 130.
func TestRunSignals(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	cases := []struct {
		name   string
		script string
		sig    syscall.Signal
		group  bool
		code   int
		out    string
	}{
		{"TERM to pid", "echo ready; exec sleep 100", syscall.SIGTERM, false, 143, ""},
		{"TERM to group", "echo ready; exec sleep 100", syscall.SIGTERM, true, 143, ""},
		{"INT to group", "echo ready; exec sleep 100", syscall.SIGINT, true, 130, ""},
		{"HUP to pid", "echo ready; exec sleep 100", syscall.SIGHUP, false, 129, ""},
		{"trapped TERM", `trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done`, syscall.SIGTERM, false, 7, "got-term"},
		{"trapped USR1", `trap 'echo got-usr1; exit 8' USR1; echo ready; while :; do sleep 0.1; done`, syscall.SIGUSR1, false, 8, "got-usr1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.startReady(runArgs(nil, ref, "sh", "-c", c.script)...)
			pid := s.cmd.Process.Pid
			if c.group {
				pid = -pid
			}
			start := time.Now()
			if err := syscall.Kill(pid, c.sig); err != nil {
				t.Fatal(err)
			}
			code := s.wait(t, 10*time.Second)
			if code != c.code {
				t.Errorf("after %v: want exit %d, got %d\n%s", c.sig, c.code, code, s.text())
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("after %v: husk took %v to exit", c.sig, d)
			}
			if c.out != "" && !strings.Contains(s.text(), c.out) {
				t.Errorf("the process's handler did not run: %s", s.text())
			}
			e.noLeftovers()
		})
	}
}

// SIGKILL to a foreground run's process group (husk cannot relay it):
// as with docker and podman, the container goes on under its monitor, its
// output still logged, until it is removed. A `run --rm` without -t is
// supervised by that husk itself (for its start speed, see the README):
// it ends with husk and nothing of it is left.
func TestRunKilledGoesOn(t *testing.T) {
	for _, s := range strategies {
		t.Run(s, func(t *testing.T) {
			e, ref := busyboxEnv(t, s)
			st := e.startReady(runArgs([]string{"--name", "goes-on"}, ref, "sh", "-c", "echo ready; sleep 1; echo later; exec sleep 100")...)
			if err := syscall.Kill(-st.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case <-st.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("husk run still running after SIGKILL")
			}
			if got := e.psStatus("goes-on"); !strings.HasPrefix(got, "goes-on|Up") {
				t.Errorf("after SIGKILL of its husk run: want the container running, got %q", got)
			}
			if !eventually(10*time.Second, func() bool { return e.out("logs", "goes-on") == "ready\nlater" }) {
				t.Errorf("the logs of a container whose husk run was killed: %q", e.out("logs", "goes-on"))
			}
			e.out("rm", "-f", "goes-on")
			e.noLeftovers()

			st = e.startReady(runArgs([]string{"--rm"}, ref, "sh", "-c", "echo ready; exec sleep 100")...)
			if err := syscall.Kill(-st.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case <-st.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("husk run --rm still running after SIGKILL")
			}
			e.noLeftovers()
		})
	}
}

// PID 1 is husk's init: it reaps orphaned zombies, and when the main
// process exits the sandbox ends with it, background processes included.
func TestRunInitReaps(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	// The subshell exits at once; its sleep is orphaned to PID 1 and must
	// be reaped when it ends.
	out := e.shOut(ref, `(sleep 0.2 &); (sleep 0.2 &); sleep 1.5; for f in /proc/[0-9]*/stat; do cat $f; done`)
	for _, l := range lines(out) {
		if isZombieStat(l) {
			t.Errorf("an orphan was left a zombie (the init does not reap): %s", l)
		}
	}
	start := time.Now()
	r := e.sbx(nil, ref, "sh", "-c", "sleep 100 & exit 5")
	if r.code != 5 {
		t.Errorf("main process exits 5 with a child in the background: %s", r)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("husk waited %v for the background process; the sandbox must end with its main process", d)
	}
	e.noLeftovers()
}

// SIGKILL to a `run --rm` while it pulls its image (its blobs held by the
// registry): the record it made before the pull goes with it, as a
// started one's does; ps -a lists nothing.
func TestRunRmKilledBeforeStart(t *testing.T) {
	e := sandboxEnv(t, "")
	p := newProxy(t, plain, 2*time.Minute) // each blob held: the pull never ends
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "run", "--rm", p.Ref("busybox:latest"), "true")
	var outMu sync.Mutex
	var out bytes.Buffer
	w := &lockedWriter{&outMu, &out}
	said := func() string { outMu.Lock(); defer outMu.Unlock(); return out.String() }
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	// Once it pulls: the store's probes, which a kill would leave for the
	// next husk to sweep, are over.
	pulling := func() bool {
		return strings.Contains(said(), "Unable to find image") && e.out("ps", "-a", "--format", "{{.Status}}") == "Created"
	}
	if !eventually(30*time.Second, pulling) {
		t.Fatalf("want the run's record listed as created while it pulls: ps -a says %q; husk said %q", e.out("ps", "-a"), said())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("husk run --rm still running after SIGKILL")
	}
	if ids := e.out("ps", "-a", "-q"); ids != "" {
		t.Errorf("after SIGKILL of a run --rm that never started its container, want no record: %s", e.out("ps", "-a"))
	}
	e.noLeftovers()
}
