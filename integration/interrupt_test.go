package integration

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
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

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "pull", ref)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	firstLine := make(chan string, 1)
	var mu sync.Mutex
	var errText string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			errText += sc.Text() + "\n"
			mu.Unlock()
			select {
			case firstLine <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-firstLine:
		t.Logf("first progress line: %q", l)
		time.Sleep(300 * time.Millisecond)
	case <-time.After(2 * time.Second):
		t.Logf("no progress line after 2 s; interrupting anyway")
	}
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT to process group %d: %v", pgid, err)
	}
	err = cmd.Wait()
	mu.Lock()
	text := errText
	mu.Unlock()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("interrupted pull: want exit 130, got %v; stderr:\n%s", err, text)
	}
	// Nothing of that pull may outlive it.
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(-pgid, 0); err == nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		t.Errorf("processes of the interrupted pull were still running (killed)")
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
