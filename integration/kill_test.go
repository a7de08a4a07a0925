package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The kill -9 battery (issue 19): husk killed with SIGKILL, by its PID, at
// each step of pull, run, run -d and rm. After each kill the store stays
// usable: images and ps -a answer, what was left can be removed, the next
// pull or run succeeds, and nothing of the killed husk is left running or
// mounted. The moments are found without sleeps: a registry that stops
// mid-blob, the test holding the containers lock, a line from the
// container.

// afterKill checks the store after a kill: images and ps -a work, rm -f
// removes every container, a run succeeds, and nothing is left over.
func afterKill(e *env, ref string) {
	e.t.Helper()
	e.ok("images")
	for _, id := range lines(e.out("ps", "-aq")) {
		e.ok("rm", "-f", id)
	}
	if out := e.out("ps", "-aq"); out != "" {
		e.t.Errorf("after rm -f of every container, ps -aq: %q", out)
	}
	if out := e.sbxOut([]string{"--rm"}, ref, "echo", "again"); out != "again" {
		e.t.Errorf("a run after the kill printed %q", out)
	}
	e.noLeftovers()
	for _, arg := range []string{"600", "601"} {
		noStraySleep(e.t, arg)
	}
}

// noStraySleep fails the test for each process `sleep ARG` that is left
// (after the grace noLeftovers gives too), and kills it by its PID: a
// container's workload outliving its removal.
func noStraySleep(t *testing.T, arg string) {
	t.Helper()
	var pids []string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if pids = sleepers(arg); len(pids) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, d := range pids {
		status, _ := os.ReadFile(filepath.Join(d, "status"))
		var info []string
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "State:") || strings.HasPrefix(l, "PPid:") || strings.HasPrefix(l, "NSpid:") {
				info = append(info, strings.Join(strings.Fields(l), " "))
			}
		}
		var pid int
		fmt.Sscan(filepath.Base(d), &pid)
		t.Errorf("a container's sleep %s (pid %d: %s) outlived its removal", arg, pid, strings.Join(info, "; "))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// sleepers are the /proc directories of the processes `sleep ARG` (not
// husk's own, whose command lines end the same).
func sleepers(arg string) []string {
	want := "sleep\x00" + arg + "\x00"
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && strings.HasSuffix(string(cmdline), want) && !strings.Contains(string(cmdline), "husk") {
			out = append(out, d)
		}
	}
	return out
}

// startHusk starts husk ARGS; the caller kills it.
func (e *env) startHusk(args ...string) (*exec.Cmd, func()) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := e.command(ctx, args...)
	if err := cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	return cmd, cancel
}

// kill9 kills husk by its PID alone and reaps it.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", cmd.Process.Pid, err)
	}
	_ = cmd.Wait()
}

// holdingRegistry proxies the plain registry and stops the first GET of the
// blob hold after half of it: mid is closed then, and the response waits
// until the client goes.
func holdingRegistry(t *testing.T, hold string) (addr string, mid chan struct{}, release func()) {
	t.Helper()
	u, _ := url.Parse(plain.URL())
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = plain.Transport()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mid = make(chan struct{})
	var once sync.Once
	var holding sync.Mutex
	held := true
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		holding.Lock()
		h := held
		holding.Unlock()
		if h && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+hold) {
			once.Do(func() { w = &halfWriter{ResponseWriter: w, ctx: r.Context(), mid: mid} })
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), mid, func() {
		holding.Lock()
		held = false
		holding.Unlock()
	}
}

// halfWriter passes the first half of a body on, then says so and waits
// for the client to go.
type halfWriter struct {
	http.ResponseWriter
	ctx     context.Context
	mid     chan struct{}
	written int64
}

func (h *halfWriter) Write(p []byte) (int, error) {
	half := h.Header().Get("Content-Length")
	var total int64
	fmt.Sscan(half, &total)
	if h.written+int64(len(p)) < total/2 {
		h.written += int64(len(p))
		return h.ResponseWriter.Write(p)
	}
	n, _ := h.ResponseWriter.Write(p[:total/2-h.written])
	h.written += int64(n)
	h.ResponseWriter.(http.Flusher).Flush()
	close(h.mid)
	<-h.ctx.Done()
	return n, h.ctx.Err()
}

// A pull killed while a layer's blob is half read, for each layer of the
// image (the ones below it may be stored by then), leaves no image, and
// the next pull of the image completes.
func TestKillPullMidBlob(t *testing.T) {
	layers, err := images.Layers.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		d, _ := l.Digest()
		t.Run(fmt.Sprintf("layer%d", i+1), func(t *testing.T) {
			addr, mid, release := holdingRegistry(t, d.String())
			ref := addr + "/layers:latest"
			e := sandboxEnv(t, "")
			cmd, cancel := e.startHusk("pull", ref)
			defer cancel()
			select {
			case <-mid:
			case <-time.After(time.Minute):
				t.Fatal("the pull never reached the middle of the blob")
			}
			kill9(t, cmd)
			if ids := e.imageIDs(); len(ids) != 0 {
				t.Errorf("after the killed pull, want no image; images -q: %q", ids)
			}
			release()
			e.pull(ref)
			wantOnlyImage(t, e, images.Layers)
			checkLayersImage(t, e, ref)
			e.pull(plain.Ref("busybox:latest"))
			afterKill(e, plain.Ref("busybox:latest"))
		})
	}
}

// holdContainersLock takes the lock that create and remove take on the
// set of containers, and returns its inode (to find a waiter in
// /proc/locks) and its release.
func holdContainersLock(t *testing.T, root string) (uint64, func()) {
	t.Helper()
	path := filepath.Join(root, "containers", ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino, func() { f.Close() }
}

// waitForLockWaiter returns once some process waits for the flock on inode
// ino (a "->" line of /proc/locks).
func waitForLockWaiter(t *testing.T, ino uint64) {
	t.Helper()
	want := fmt.Sprintf(":%d ", ino)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "->") && strings.Contains(l, "FLOCK") && strings.Contains(l, want) {
				return
			}
		}
	}
	t.Fatal("nothing waited for the containers lock within a minute")
}

// killEnv is a sandboxEnv with its store in HOME/root (so the test knows
// where the containers lock is) and busybox pulled.
func killEnv(t *testing.T) (*env, string, string) {
	e := sandboxEnv(t, "")
	root := filepath.Join(e.home, "root")
	e.vars["HUSK_ROOT"] = root
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	e.ok("ps", "-a") // makes the containers directory
	return e, ref, root
}

// run and run -d killed before the container's record is written: the
// kill comes while they wait for the containers lock that the test holds.
func TestKillRunBeforeRecord(t *testing.T) {
	e, ref, root := killEnv(t)
	for _, args := range [][]string{{"run", "--rm", ref, "true"}, {"run", "-d", ref, "sleep", "600"}, {"run", "--name", "k", ref, "true"}} {
		ino, unlock := holdContainersLock(t, root)
		cmd, cancel := e.startHusk(args...)
		waitForLockWaiter(t, ino)
		kill9(t, cmd)
		unlock()
		cancel()
		afterKill(e, ref)
	}
}

// run killed once its container is running: the foreground run, with and
// without --rm (the container said "ready"), and run -d's monitor with the
// container's init (every process of this husk, by PID).
func TestKillRunAfterRecord(t *testing.T) {
	e, ref, _ := killEnv(t)
	for _, flags := range [][]string{{"--name", "fg"}, {"--rm", "--name", "fgrm"}} {
		args := append(append([]string{"run"}, flags...), ref, "sh", "-c", "echo ready; exec sleep 601")
		cmd := exec.Command(huskBin, args...)
		cmd.Env, cmd.Dir = e.environ(), e.home
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "ready\n" {
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("run %v: the container said %q, %v", flags, l, err)
		}
		kill9(t, cmd)
		e.ok("ps", "-a")
		afterKill(e, ref)
	}

	id := e.detached(nil, ref, "sleep", "600")
	if !strings.Contains(e.out("ps", "-q", "--no-trunc"), id) {
		t.Fatalf("run -d %s: not listed", id)
	}
	for _, pid := range markedProcesses(e.vars[markVar]) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	e.ok("ps", "-a")
	afterKill(e, ref)
}

// rm -f killed while it waits for the containers lock, after it stopped
// the container: a second rm -f removes it.
func TestKillRm(t *testing.T) {
	e, ref, root := killEnv(t)
	id := e.detached(nil, ref, "sleep", "600")
	ino, unlock := holdContainersLock(t, root)
	cmd, cancel := e.startHusk("rm", "-f", id)
	defer cancel()
	waitForLockWaiter(t, ino)
	kill9(t, cmd)
	unlock()
	e.ok("ps", "-a")
	afterKill(e, ref)
}

// waitOutput runs husk ARGS until its stdout holds want.
func (e *env) waitOutput(want string, args ...string) {
	e.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(e.run(args...).stdout, want) {
			return
		}
	}
	e.t.Fatalf("husk %s: no %q within a minute", strings.Join(args, " "), want)
}

// stop killed while it waits for a container that ignores SIGTERM: the
// container is still there to stop or remove.
func TestKillStop(t *testing.T) {
	e, ref, _ := killEnv(t)
	id := e.detached(nil, ref, "sh", "-c", `trap "echo term" TERM; echo ready; while :; do sleep 1; done`)
	e.waitOutput("ready", "logs", id)
	cmd, cancel := e.startHusk("stop", "-t", "600", id)
	defer cancel()
	e.waitOutput("term", "logs", id)
	kill9(t, cmd)
	e.ok("ps", "-a")
	e.ok("stop", "-t", "1", id)
	afterKill(e, ref)
}

// build killed while a RUN step runs: no image, no leftover step
// container or process, and the next build succeeds.
func TestKillBuildMidRun(t *testing.T) {
	e, ref, _ := killEnv(t)
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + ref + "\nRUN echo step-ready; sleep 602\n"})
	cmd := exec.Command(huskBin, "build", "-t", "killed", dir)
	cmd.Env, cmd.Dir = e.environ(), e.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var said []string
	ready := false
	for !ready && sc.Scan() {
		said = append(said, sc.Text())
		ready = strings.Contains(sc.Text(), "step-ready")
	}
	if !ready {
		kill9(t, cmd)
		t.Fatalf("the build never reached its RUN step: %q", said)
	}
	kill9(t, cmd)
	noStraySleep(t, "602")
	e.noLeftovers()
	if strings.Contains(e.out("images"), "killed") {
		t.Errorf("the killed build left its image")
	}
	e.writeFile("ctx/Dockerfile", []byte("FROM "+ref+"\nRUN echo built > /built\n"), 0o644)
	e.ok("build", "-t", "killed", dir)
	if got := e.sbxOut([]string{"--rm"}, "killed", "cat", "/built"); got != "built" {
		t.Errorf("the rebuilt image: %q", got)
	}
	afterKill(e, ref)
}

// procState is the state letter of process pid (R, S, T ...), "" once it
// is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

// commit killed while it reads a running container's files, with the
// container's processes stopped for it: they run again, no image is left,
// and the next commit completes. The moment is the container's sleep
// stopped by the commit; its 100 MB of random bytes keep the commit busy.
func TestKillCommit(t *testing.T) {
	e, ref, root := killEnv(t)
	id := e.detached(nil, ref, "sh", "-c", "head -c 100000000 /dev/urandom > /big; echo ready; exec sleep 600")
	e.waitOutput("ready", "logs", id)
	var sleep int
	if !eventually(10*time.Second, func() bool {
		if d := sleepers("600"); len(d) == 1 {
			fmt.Sscan(filepath.Base(d[0]), &sleep)
		}
		return sleep > 0
	}) {
		t.Fatal("the container's sleep 600 was not found")
	}
	before := len(e.imageIDs())
	cmd, cancel := e.startHusk("commit", id, "killed-commit")
	defer cancel()
	if !eventually(time.Minute, func() bool { return procState(sleep) == "T" }) {
		kill9(t, cmd)
		t.Fatalf("commit never stopped the container's processes (sleep is %q)", procState(sleep))
	}
	kill9(t, cmd)
	if !eventually(5*time.Second, func() bool { return procState(sleep) == "S" }) {
		t.Errorf("after commit was killed, the container's sleep is still %q: it was left stopped", procState(sleep))
	}
	if n := len(e.imageIDs()); n != before || strings.Contains(e.out("images"), "killed-commit") {
		t.Errorf("the killed commit left an image: %s", e.out("images"))
	}
	// Its work directory is removed by the next husk that makes one, once
	// past its few seconds of grace.
	work := func() []string {
		a, _ := filepath.Glob(filepath.Join(root, "husk-tmp", "commit-*"))
		b, _ := filepath.Glob(filepath.Join(root, "*", "husk-tmp", "commit-*"))
		return append(a, b...)
	}
	if len(work()) != 1 {
		t.Errorf("want the killed commit's work directory: %q", work())
	}
	time.Sleep(6 * time.Second)
	e.ok("commit", id, "committed")
	if left := work(); len(left) != 0 {
		t.Errorf("the killed commit's work directory outlived the next commit: %q", left)
	}
	if got := e.sbxOut([]string{"--rm"}, "committed", "sh", "-c", "wc -c < /big"); got != "100000000" {
		t.Errorf("the commit after the kill: /big has %q bytes", got)
	}
	if procState(sleep) != "S" {
		t.Errorf("after the second commit, the container's sleep is %q", procState(sleep))
	}
	// A container the user paused stays paused through a commit.
	e.ok("pause", id)
	e.ok("commit", id, "committed-paused")
	if got := e.out("inspect", "--format", "{{.State.Status}} {{.State.Paused}}", id); got != "paused true" {
		t.Errorf("commit of a paused container: it is %q after, want still paused", got)
	}
	e.ok("unpause", id)
	afterKill(e, ref)
}
