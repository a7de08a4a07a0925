package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// An image that a running sandbox uses cannot be removed, even with -f; once
// the sandbox has ended it can.
func TestRmiRefusesImageOfRunningContainer(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)

	run := e.startSleeper(ref)

	for _, flags := range [][]string{nil, {"-f"}} {
		r := e.run(append(append([]string{"rmi"}, flags...), ref)...)
		e.wantError(r, "running container")
		if ids := e.imageIDs(); len(ids) != 1 {
			t.Fatalf("rmi %v of an image in use: want it kept, images -q: %q", flags, ids)
		}
	}

	_ = run.Cancel()
	_ = run.Wait()
	e.ok("rmi", ref)
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after the sandbox ended, rmi left %q", ids)
	}
}

// lockedBuffer collects a running process's output for polling.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds, or fails the test after limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within %s", limit)
}

// A vfs sandbox runs on a copy of its image. When husk is killed with
// SIGKILL before it removes the copy, the copy must not keep the image:
// the next rmi sweeps it away.
func TestRmiAfterKilledVFSRun(t *testing.T) {
	e, ref := busyboxEnv(t, "vfs")
	run := e.startSleeper(ref)
	// Only husk itself: its sandbox goes with it (parent-death signal),
	// but nothing removes the copy.
	if err := run.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = run.Wait()
	waitFor(t, 30*time.Second, func() bool { return len(markedProcesses(e.vars[markVar])) == 0 })
	e.ok("rmi", ref)
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after rmi: images -q %q", ids)
	}
	e.noLeftovers()
}

// startSleeper starts `husk run --rm REF` with a minute-long sleep and
// returns once the sandbox's process runs. It is ended by its process
// group's ID (see command), never by name, at the end of the test.
func (e *env) startSleeper(ref string) *exec.Cmd {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	run := e.command(ctx, "run", "--rm", ref, "sh", "-c", "echo started; exec sleep 60")
	out := &lockedBuffer{}
	run.Stdout, run.Stderr = out, out
	if err := run.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = run.Cancel(); _ = run.Wait(); cancel() })
	waitFor(e.t, 30*time.Second, func() bool { return strings.Contains(out.String(), "started") })
	return run
}

// vfsCopies counts the store's vfs containers: the copies sandboxes run on.
func vfsCopies(t *testing.T, e *env) int {
	t.Helper()
	graphroot := infoString(t, infoJSON(t, e), infoKeys.Graphroot)
	b, err := os.ReadFile(filepath.Join(graphroot, "vfs-containers", "containers.json"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var cs []json.RawMessage
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatalf("reading %s: %v", graphroot, err)
	}
	return len(cs)
}

// On vfs every start is planned on the host too: a --rm run's copy is
// made for it and removed after it, and a kept container's copy keeps its
// files across starts until rm.
func TestVFSCopiesOfEachStart(t *testing.T) {
	e, ref := busyboxEnv(t, "vfs")
	for i := 0; i < 2; i++ {
		if out := e.ok("run", "--rm", ref, "sh", "-c", "echo x > /made; cat /made").stdout; strings.TrimSpace(out) != "x" {
			t.Fatalf("run --rm on vfs: %q", out)
		}
	}
	if n := vfsCopies(t, e); n != 0 {
		t.Errorf("after two run --rm: %d vfs copies are left in the store", n)
	}
	e.ok("create", "--name", "keep", ref, "sh", "-c", "cat /made 2>/dev/null; date >> /made")
	e.ok("start", "-a", "keep")
	if out := e.ok("start", "-a", "keep").stdout; out == "" {
		t.Errorf("the second start of a vfs container did not find the file the first wrote")
	}
	if n := vfsCopies(t, e); n != 1 {
		t.Errorf("a created vfs container: %d copies in the store, want its own one", n)
	}
	e.ok("rm", "keep")
	if n := vfsCopies(t, e); n != 0 {
		t.Errorf("after rm: %d vfs copies are left in the store", n)
	}
	e.noLeftovers()
}
