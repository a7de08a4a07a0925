package integration

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C in the middle of a RUN step: SIGINT to the process group, as a
// terminal sends it. The build stops at once with 130, the step's command
// does not outlive it, no image is named, and the next build works, the
// steps before the interrupted one taken from the cache.
func TestBuildInterrupted(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo before > /b\nRUN echo step-started; sleep 617\nRUN echo after > /a\n"})
	e.pull(base)
	before := e.imageIDs()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "build", "--progress", "plain", "-t", "intr", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	started := make(chan struct{})
	var text strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			text.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "step-started") && !strings.Contains(sc.Text(), "RUN") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		t.Fatalf("the step did not start within 60 s:\n%s", text.String())
	}
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT to process group %d: %v", pgid, err)
	}
	<-done
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("interrupted build: want exit 130, got %v; stderr:\n%s", err, text.String())
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the build took %v to stop after SIGINT", d)
	}
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(-pgid, 0); err == nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		t.Errorf("processes of the interrupted build were still running (killed)")
	}
	if pids := sleepers("617"); len(pids) > 0 {
		t.Errorf("the interrupted step's command outlived the build: pids %v", pids)
	}
	if after := e.imageIDs(); !slices.Equal(before, after) {
		t.Errorf("an interrupted build left an image: %q, was %q", after, before)
	}

	e.writeFile("ctx/Dockerfile", []byte("FROM "+base+"\nRUN echo before > /b\nRUN echo step-done\nRUN echo after > /a\n"), 0o644)
	r := e.ok("build", "--progress", "plain", "-t", "intr", dir)
	if !strings.Contains(r.stderr, "CACHED") {
		t.Errorf("the rebuild after Ctrl-C: want the step before the interrupted one cached: %s", r)
	}
	if out := e.ok("run", "--rm", "intr", "cat", "/b", "/a").stdout; out != "before\nafter\n" {
		t.Errorf("the image built after Ctrl-C: %q", out)
	}
}
