package integration

import (
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

// Ctrl-C in the middle of a pull: SIGINT to the process group, as a
// terminal sends it. husk exits 130, lists no partial image, and the next
// pull completes.
func TestPullInterrupted(t *testing.T) {
	e := newEnv(t)
	// Each blob waits 3 s in the proxy: the pull is surely under way.
	p := newProxy(t, plain, 3*time.Second)
	ref := p.Ref("layers:latest")

	r := interrupt(t, e, []string{"pull", ref}, func(string) bool { return true }, 2*time.Second, false, 300*time.Millisecond)
	if r.code != 130 {
		t.Errorf("interrupted pull: want exit 130, got %d; stderr:\n%s", r.code, r.stderr)
	}
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after the interrupted pull, want no image; husk images -q: %q", ids)
	}

	p.SetDelay(0)
	e.pull(ref)
	wantOnlyImage(t, e, images.Layers)
	checkLayersImage(t, e, ref)
}

// Two pulls of the same image at once both succeed, and leave one image.
func TestPullConcurrent(t *testing.T) {
	e := newEnv(t)
	// A short hold on each blob makes the two pulls overlap.
	p := newProxy(t, plain, time.Second)
	ref := p.Ref("layers:latest")
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run("pull", ref)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.code != 0 {
			t.Errorf("concurrent pull: %s", r)
		}
	}
	wantOnlyImage(t, e, images.Layers)
	checkLayersImage(t, e, ref)
}

// The first Ctrl-C lets a command finish cleanly; the next ends husk even
// at a prompt, which does not watch for the first. Both are sent to the
// process group with no terminal in front, as timeout(1) or a CI runner
// sends them: husk's child in the user namespace gets each one directly
// and again through its parent's relay. The copy that comes with the
// first is not taken for the next (TestLoadInterruptedStdin: were it, the
// load would end without a word); the next, a second later, is.
func TestSecondInterruptEnds(t *testing.T) {
	e := newEnv(t)
	e.ok("images") // the user namespace's entry is written down: the prompt is the child's
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "image", "prune")
	// Started as a shell in a terminal starts it, SIGINT at its default
	// action: where this test runs with SIGINT ignored (under a background
	// job of a non-interactive shell), husk inherits that, and the next
	// Ctrl-C after the first is rightly ignored.
	envBin, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Path, cmd.Args = envBin, append([]string{"env", "--default-signal=INT", huskBin}, cmd.Args[1:]...)
	stdin, err := cmd.StdinPipe() // never answered
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	asked := make(chan struct{})
	go func() {
		var seen bytes.Buffer
		buf := make([]byte, 512)
		for {
			n, err := stderr.Read(buf)
			seen.Write(buf[:n])
			if bytes.Contains(seen.Bytes(), []byte("[y/N]")) {
				close(asked)
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { <-asked; done <- cmd.Wait() }()
	select {
	case <-asked:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("image prune did not ask within a minute")
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the first Ctrl-C at the prompt ended husk (%v): want it still asking", err)
	case <-time.After(time.Second):
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 && !strings.Contains(ee.String(), "interrupt") {
			t.Errorf("after the second Ctrl-C: %v; want husk ended by it", err)
		}
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("husk still runs 10 s after the second Ctrl-C")
	}
}
