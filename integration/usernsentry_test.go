package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// heldLoad is a `husk load` reading a stdin the test holds open.
type heldLoad struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	stderr bytes.Buffer
	ctx    context.Context
	cancel func()
}

// startLoad starts bin load; it waits until the husk the user started has
// a child, the command's process in husk's user namespace, whose pid it
// returns with the number of threads of the one started (1: no Go
// runtime, the entry waits in C).
func (e *env) startLoad(bin string) (h *heldLoad, threads, child int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	h = &heldLoad{ctx: ctx, cancel: cancel}
	h.cmd = e.command(ctx, "load")
	h.cmd.Path = bin
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		e.t.Fatal(err)
	}
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	if err := h.cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	threads, child = commandOf(e.t, h.cmd.Process.Pid, "load")
	return h, threads, child
}

// commandOf waits until husk (pid) runs its command verb in the user
// namespace, and says how: with one thread and a child, the entry (no Go
// runtime here, it waits in C; child is the command's process); with a Go
// runtime and a child running verb, the usual path (child 0).
func commandOf(t *testing.T, pid int, verb string) (threads, child int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		_, rest, _ := strings.Cut(string(status), "\nThreads:\t")
		threads, _ = strconv.Atoi(strings.Fields(rest + " 0")[0])
		// A single thread's children are all the process's.
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(kids)); len(f) > 0 && threads == 1 {
			child, _ = strconv.Atoi(f[0])
			return threads, child
		}
		if threads > 1 && strings.Contains(readCmdlines(pid), verb) {
			return threads, 0
		}
	}
	t.Fatalf("husk %s (pid %d) never started its command", verb, pid)
	return
}

// readCmdlines is the command lines of pid's children, of any thread.
func readCmdlines(pid int) string {
	var out strings.Builder
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, k := range strings.Fields(string(kids)) {
			b, _ := os.ReadFile("/proc/" + k + "/cmdline")
			out.Write(b)
		}
	}
	return out.String()
}

// waitStoreOpen waits until pid has a file of husk's store open: its
// command runs, its signals are its own.
func waitStoreOpen(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatalf("reading the fds of the load's process: %v", err)
		}
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.Contains(l, "/storage/") {
				return
			}
		}
	}
	t.Fatalf("the load's process %d never opened the store", pid)
}

// finish feeds the archive at path, closes stdin and waits.
func (h *heldLoad) finish(t *testing.T, path string) result {
	t.Helper()
	defer h.cancel()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.stdin.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	h.stdin.Close()
	return finish(h.ctx, t, h.cmd.Wait(), []string{"load"}, &h.stdout, &h.stderr)
}

// After any command that enters husk's user namespace, save, load and push
// (and pull, images, history, rmi and tag: TestUsernsEntryVerbs)
// enter it before the Go runtime starts, as husk wrote it down (one Go
// runtime where there were two): the husk the user started waits in C,
// its child runs the command in the namespace under the user's mapping.
// For the user it is the same command: stdin, output, exit code, a signal
// sent to husk. The written-down entry follows the files it came from:
// another husk binary takes the usual path once, and writes it again.
func TestUsernsEntry(t *testing.T) {
	e := newEnv(t)
	ref, archive := e.savedBusybox()

	h, threads, child := e.startLoad(huskBin)
	if threads != 1 || child == 0 {
		t.Fatalf("husk load: %d threads, child %d: the usual path, not the entry", threads, child)
	}
	uidMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", child))
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(uidMap)); len(f) < 3 || f[0] != "0" || f[1] != strconv.Itoa(me.UID) || (me.Subuid && len(f) < 6) {
		t.Errorf("the load's uid_map: %q, want 0 %d ... (subuid %v)", uidMap, me.UID, me.Subuid)
	}
	if r := h.finish(t, archive); r.code != 0 || r.stdout != "Loaded image: "+ref+"\n" {
		t.Fatalf("load through the entry: %s", r)
	}

	// SIGTERM to the husk the user started reaches the load, which ends
	// as it does on the usual path, keeping nothing.
	before := e.imageIDs()
	h, _, child = e.startLoad(huskBin)
	waitStoreOpen(t, child)
	if err := syscall.Kill(h.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A load notices the signal when its read of stdin returns: the end
	// of stdin then, well after the signal, is no archive cut short but
	// an interrupted load (were the signal lost, it would be the former).
	time.Sleep(500 * time.Millisecond)
	if r := h.finish(t, ""); r.code != 130 || !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("load sent SIGTERM: %s; want exit 130 and 'interrupted'", r)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", child)); err == nil {
		t.Errorf("the load's process %d outlived husk", child)
	}
	if got := e.imageIDs(); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("images after the interrupted load: %v, before %v", got, before)
	}

	// Another binary voids the entry (husk itself is among its files).
	other := filepath.Join(e.home, "husk-copy")
	b, err := os.ReadFile(huskBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true} {
		h, threads, _ := e.startLoad(other)
		if entered := threads == 1; entered != want {
			t.Errorf("run %d of another husk binary: %d threads; want the entry %v", i+1, threads, want)
		}
		if r := h.finish(t, archive); r.code != 0 || !strings.Contains(r.stdout, "Loaded image") {
			t.Errorf("run %d of another husk binary: %s", i+1, r)
		}
	}
}

// pull, images, history, rmi and tag, their `husk image` forms, image
// inspect, image prune and system df go into the namespace the same way:
// each is
// held at its first line of output (its stdout a full pipe) while the test
// looks at its processes, then gives the output the usual path gives.
func TestUsernsEntryVerbs(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	other, another := plain.Ref("busybox-entry:1"), plain.Ref("busybox-entry:2")
	e.ok("tag", ref, other)
	e.ok("tag", ref, another)
	id := strings.TrimPrefix(e.imageID(ref), "sha256:")
	for _, c := range []struct {
		args []string
		want func(string) bool
	}{
		{[]string{"pull", "-q", ref}, func(out string) bool { return out == ref+"\n" }},
		{[]string{"images", "--format", "{{.Repository}}:{{.Tag}}"}, func(out string) bool { return strings.Contains(out, other+"\n") }},
		{[]string{"history", "-q", other}, func(out string) bool { return strings.HasPrefix(out, id[:12]+"\n") }},
		{[]string{"rmi", other}, func(out string) bool { return out == "Untagged: "+other+"\n" }},
		// The same commands under `husk image`.
		{[]string{"image", "ls", "--format", "{{.Repository}}:{{.Tag}}"}, func(out string) bool {
			return strings.Contains(out, another+"\n") && !strings.Contains(out, other+"\n")
		}},
		{[]string{"image", "history", "-q", another}, func(out string) bool { return strings.HasPrefix(out, id[:12]+"\n") }},
		{[]string{"image", "rm", another}, func(out string) bool { return out == "Untagged: "+another+"\n" }},
		// And the image and system verbs that have no short form here.
		{[]string{"image", "inspect", "-f", "{{.Id}}", ref}, func(out string) bool { return out == "sha256:"+id+"\n" }},
		{[]string{"system", "df", "--format", "{{.Type}} {{.TotalCount}}"}, func(out string) bool {
			return out == "Images 1\nContainers 0\nLocal Volumes 0\nBuild Cache 0\n"
		}},
		{[]string{"image", "prune", "-a", "-f"}, func(out string) bool {
			return strings.HasPrefix(out, "Deleted Images:\nuntagged: "+ref+"\ndeleted: sha256:"+id+"\n")
		}},
	} {
		threads, child, r := e.heldAtOutput(c.args...)
		if threads != 1 || child == 0 {
			t.Errorf("husk %s: %d threads, child %d: the usual path, not the entry", strings.Join(c.args, " "), threads, child)
		}
		if r.code != 0 || !c.want(r.stdout) {
			t.Errorf("husk %s through the entry: %s", strings.Join(c.args, " "), r)
		}
	}
	for _, name := range []string{other, another, ref} {
		if got := e.run("image", "inspect", name); got.code == 0 {
			t.Errorf("%s is still there after its rmi or prune: %s", name, got)
		}
	}
}

// heldAtOutput runs husk args with its stdout a pipe that is full: the
// command blocks at its first write, and commandOf sees how it runs; then
// the test reads the pipe and returns what the command wrote after the
// filler.
func (e *env) heldAtOutput(args ...string) (threads, child int, r result) {
	e.t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		e.t.Fatal(err)
	}
	defer pr.Close()
	size, err := unix.FcntlInt(pw.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	filler := bytes.Repeat([]byte{'#'}, size)
	if _, err := pw.Write(filler); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	pw.Close()
	threads, child = commandOf(e.t, cmd.Process.Pid, args[0])
	out, _ := io.ReadAll(pr)
	stdout := bytes.NewBuffer(bytes.TrimPrefix(out, filler))
	return threads, child, finish(ctx, e.t, cmd.Wait(), args, stdout, &stderr)
}
