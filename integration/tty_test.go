package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// term is husk started on a real pseudo-terminal, as from a user's
// terminal: husk is the session leader with the pty as its controlling
// terminal, so the kernel sends it SIGWINCH on a resize.
type term struct {
	t      *testing.T
	ptmx   *os.File // the terminal's side: what the user types and sees
	tty    *os.File // husk's side, kept open to read its modes afterwards
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan error
	cancel context.CancelFunc
}

func (e *env) startTerm(rows, cols uint16, args ...string) *term {
	e.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		e.t.Fatalf("opening a pty: %v", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tm := &term{t: e.t, ptmx: ptmx, tty: tty, done: make(chan error, 1), cancel: cancel}
	cmd := exec.CommandContext(ctx, huskBin, args...)
	cmd.Env = append(e.environ(), "TERM=xterm")
	cmd.Dir = e.home
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	tm.cmd = cmd
	e.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cancel()
		ptmx.Close()
		tty.Close()
	})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { tm.done <- cmd.Wait() }()
	return tm
}

func (tm *term) text() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// waitFor waits until the output matches re, and returns the match.
func (tm *term) waitFor(re string, limit time.Duration) []string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(tm.text()); m != nil {
			return m
		}
		select {
		case err := <-tm.done:
			tm.done <- err
			if m := rx.FindStringSubmatch(tm.text()); m != nil {
				return m
			}
			tm.t.Fatalf("husk exited (%v) before printing %q; the terminal shows:\n%s", err, re, tm.text())
		case <-time.After(50 * time.Millisecond):
		}
	}
	tm.t.Fatalf("no %q after %v; the terminal shows:\n%s", re, limit, tm.text())
	return nil
}

// exit waits for husk's exit code.
func (tm *term) exit(limit time.Duration) int {
	tm.t.Helper()
	select {
	case err := <-tm.done:
		var ee *exec.ExitError
		if err == nil {
			return 0
		}
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		tm.t.Fatalf("waiting for husk: %v", err)
	case <-time.After(limit):
		tm.t.Fatalf("husk still running after %v; the terminal shows:\n%s", limit, tm.text())
	}
	return -1
}

// checkRestored: husk put the user's terminal back as it found it.
func (tm *term) checkRestored() {
	tm.t.Helper()
	tio, err := unix.IoctlGetTermios(int(tm.tty.Fd()), unix.TCGETS)
	if err != nil {
		tm.t.Fatal(err)
	}
	if tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != unix.ECHO|unix.ICANON|unix.ISIG {
		tm.t.Errorf("the terminal was left in raw mode (lflag %#x)", tio.Lflag)
	}
}

// -it: a real pty inside (tty prints /dev/pts/N), TERM set, the window size
// follows the terminal's, Ctrl-C interrupts the process (exit 130).
func TestRunTTY(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	script := `tty; echo term=$TERM; echo size=$(busybox stty size); echo ready; ` +
		`i=0; while [ "$(busybox stty size)" = "24 80" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ` +
		`echo resized=$(busybox stty size); exec sleep 100`
	tm := e.startTerm(24, 80, runArgs([]string{"-it"}, ref, "sh", "-c", script)...)
	tm.waitFor(`ready`, time.Minute)
	out := tm.text()
	if !regexp.MustCompile(`(?m)^/dev/pts/\d+\r?$`).MatchString(out) {
		t.Errorf("tty inside: want /dev/pts/N: %q", out)
	}
	if !strings.Contains(out, "term=xterm") {
		t.Errorf("-t: want TERM=xterm inside: %q", out)
	}
	if !strings.Contains(out, "size=24 80") {
		t.Errorf("the initial window size 24x80 did not reach the sandbox: %q", out)
	}
	if err := pty.Setsize(tm.ptmx, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	if m := tm.waitFor(`resized=(\d+ \d+)`, 20*time.Second); m[1] != "40 100" {
		t.Errorf("after a resize to 40x100, stty size inside says %q", m[1])
	}
	time.Sleep(200 * time.Millisecond) // sh has exec'd sleep
	start := time.Now()
	if _, err := tm.ptmx.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	if code := tm.exit(10 * time.Second); code != 130 {
		t.Errorf("Ctrl-C on sleep 100: want exit 130, got %d; the terminal shows:\n%s", code, tm.text())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Ctrl-C took %v to end the sandbox", d)
	}
	tm.checkRestored()
	e.noLeftovers()
}

// -it: what the user types reaches the process; its exit code passes
// through.
func TestRunTTYInput(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	tm := e.startTerm(24, 80, runArgs([]string{"-it"}, ref, "sh", "-c", `echo ready; read line; echo "got:$line"; exit 4`)...)
	tm.waitFor(`ready`, time.Minute)
	if _, err := tm.ptmx.Write([]byte("hello pty\r")); err != nil {
		t.Fatal(err)
	}
	tm.waitFor(`got:hello pty`, 10*time.Second)
	if code := tm.exit(10 * time.Second); code != 4 {
		t.Errorf("want exit 4, got %d", code)
	}
	tm.checkRestored()
}

// `husk shell` on a terminal gets a pty of its own, and Ctrl-C reaches its
// command.
func TestShellTTY(t *testing.T) {
	e := sandboxEnv(t, "")
	tm := e.startTerm(30, 90, "shell", "--", "sh", "-c", "tty; echo size=$(stty size); echo ready; exec sleep 100")
	tm.waitFor(`ready`, time.Minute)
	out := tm.text()
	if !regexp.MustCompile(`(?m)^/dev/pts/\d+\r?$`).MatchString(out) || !strings.Contains(out, "size=30 90") {
		t.Errorf("husk shell on a terminal: want a pty of 30x90: %q", out)
	}
	if _, err := tm.ptmx.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	if code := tm.exit(10 * time.Second); code != 130 {
		t.Errorf("Ctrl-C: want exit 130, got %d; the terminal shows:\n%s", code, tm.text())
	}
	tm.checkRestored()
	e.noLeftovers()
}
