package integration

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// interruption is how husk ended after a Ctrl-C.
type interruption struct {
	code   int           // its exit code (-1: it did not exit by itself)
	stderr string        // all it wrote to stderr
	took   time.Duration // from SIGINT to its exit
}

// interrupt runs husk with args and, once ready accepts a line of its
// stderr and settle has passed, sends SIGINT to its process group, as a
// terminal's Ctrl-C does; then waits for it. Without such a line within
// patience it fails the test when must, else interrupts anyway. A process
// of the group still running after husk exited fails the test (and is
// killed): nothing of an interrupted command may outlive it.
func interrupt(t *testing.T, e *env, args []string, ready func(string) bool, patience time.Duration, must bool, settle time.Duration) interruption {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	var mu sync.Mutex
	var text strings.Builder
	seen := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		once := sync.Once{}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			text.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if ready(sc.Text()) {
				once.Do(func() { close(seen) })
			}
		}
	}()
	stderrText := func() string { mu.Lock(); defer mu.Unlock(); return text.String() }
	select {
	case <-seen:
	case <-time.After(patience):
		if must {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
			_ = cmd.Wait()
			t.Fatalf("husk %s: the awaited line did not come within %v:\n%s", strings.Join(args, " "), patience, stderrText())
		}
		t.Logf("husk %s: no awaited line after %v; interrupting anyway", strings.Join(args, " "), patience)
	}
	time.Sleep(settle)
	t0 := time.Now()
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT to process group %d: %v", pgid, err)
	}
	<-done
	err = cmd.Wait()
	r := interruption{code: -1, took: time.Since(t0), stderr: stderrText()}
	var ee *exec.ExitError
	if err == nil {
		r.code = 0
	} else if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	}
	time.Sleep(400 * time.Millisecond)
	if err := syscall.Kill(-pgid, 0); err == nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		t.Errorf("husk %s: processes of its group were still running after it exited (killed)", strings.Join(args, " "))
	}
	return r
}
