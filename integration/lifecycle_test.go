package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var fullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// detached starts `husk run -d FLAGS... IMAGE CMD...` and returns its ID.
func (e *env) detached(flags []string, ref string, cmd ...string) string {
	e.t.Helper()
	r := e.run(append(append(append([]string{"run", "-d"}, flags...), ref), cmd...)...)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !fullID.MatchString(id) {
		e.t.Fatalf("run -d: want exit 0 and a 64-digit ID: %s", r)
	}
	return id
}

// out runs husk, wants exit 0, and returns stdout without trailing newlines.
func (e *env) out(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("want exit 0: %s", r)
	}
	return strings.TrimRight(strings.ReplaceAll(r.stdout, "\r", ""), "\n")
}

// inspect is the first object `husk inspect` prints.
func (e *env) inspect(name string) ctInspect {
	e.t.Helper()
	var v []ctInspect
	if err := json.Unmarshal([]byte(e.out("inspect", name)), &v); err != nil || len(v) != 1 {
		e.t.Fatalf("inspect %s: %v %v", name, err, v)
	}
	return v[0]
}

type ctInspect struct {
	Id    string
	Name  string
	State struct {
		Status   string
		Running  bool
		Pid      int
		ExitCode int
	}
	RestartCount int
}

// eventually polls cond every 50 ms for up to limit.
func eventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// psLine is the `ps -a` line of a container, by name.
func (e *env) psStatus(name string) string {
	e.t.Helper()
	return e.out("ps", "-a", "--filter", "name="+name, "--format", "{{.Names}}|{{.Status}}")
}

func TestCreateStartWaitLogs(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	id := strings.TrimSpace(e.out("create", "--name", "job", ref, "sh", "-c", "echo out; echo err >&2; exit 3"))
	if !fullID.MatchString(id) {
		t.Fatalf("create: want a 64-digit ID, got %q", id)
	}
	if st := e.psStatus("job"); st != "job|Created" {
		t.Errorf("ps -a after create: want job|Created, got %q", st)
	}
	if out := e.out("ps"); strings.Contains(out, "job") {
		t.Errorf("ps without -a must not list a created container: %q", out)
	}
	if out := e.out("start", "job"); out != "job" {
		t.Errorf("start: want the name back, got %q", out)
	}
	if code := e.out("wait", "job"); code != "3" {
		t.Errorf("wait: want 3, got %q", code)
	}
	if st := e.psStatus("job"); !strings.HasPrefix(st, "job|Exited (3) ") {
		t.Errorf("ps -a: want Exited (3), got %q", st)
	}
	r := e.run("logs", "job")
	if r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("logs: want out on stdout and err on stderr: %s", r)
	}
	// The log is Docker's json-file format.
	raw := e.inspectLog(id)
	if !strings.Contains(raw, `"log":"out\n","stream":"stdout","time":"`) {
		t.Errorf("the log is not Docker's json-file format: %q", raw)
	}
	// start -a: output relayed and the exit code returned.
	r = e.run("start", "-a", "job")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("start -a: want out, err and exit 3: %s", r)
	}
	e.out("rm", "job")
	e.noLeftovers()
}

// inspectLog reads the container's log file, whose path inspect gives.
func (e *env) inspectLog(id string) string {
	e.t.Helper()
	path := e.out("inspect", "--format", "{{.LogPath}}", id)
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("reading the log %s: %v", path, err)
	}
	return string(b)
}

func TestRunDetachedPsStop(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	id := e.detached([]string{"--name", "sleeper"}, ref, "sleep", "1000")
	ps := e.out("ps")
	if !strings.Contains(ps, "CONTAINER ID") || !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "sleeper") || !strings.Contains(ps, "Up ") || !strings.Contains(ps, `"sleep 1000"`) {
		t.Errorf("ps: want Docker's columns and the running container: %q", ps)
	}
	for _, col := range []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"} {
		if !strings.Contains(lines(ps)[0], col) {
			t.Errorf("ps header lacks %s: %q", col, lines(ps)[0])
		}
	}
	if in := e.inspect("sleeper"); !in.State.Running || in.State.Pid <= 0 || in.Name != "/sleeper" || in.Id != id {
		t.Errorf("inspect: want running with a pid: %+v", in)
	}
	// busybox sleep does not handle SIGTERM but is not PID 1: it ends at
	// once, not after the 10-second timeout.
	start := time.Now()
	if out := e.out("stop", "sleeper"); out != "sleeper" {
		t.Errorf("stop: want the name back, got %q", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: SIGTERM did not end sleep, SIGKILL after the timeout did", d)
	}
	if st := e.psStatus("sleeper"); !strings.HasPrefix(st, "sleeper|Exited (143) ") {
		t.Errorf("after stop: want Exited (143), got %q", st)
	}
	e.out("rm", "sleeper")
	e.noLeftovers()
}

func TestStopTimeoutKills(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "stubborn"}, ref, "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
	start := time.Now()
	e.out("stop", "-t", "1", "stubborn")
	if d := time.Since(start); d < time.Second {
		t.Errorf("stop -t 1 of a process ignoring SIGTERM returned after %v, before its timeout", d)
	}
	if st := e.psStatus("stubborn"); !strings.HasPrefix(st, "stubborn|Exited (137) ") {
		t.Errorf("after the timeout: want Exited (137), got %q", st)
	}
	e.out("rm", "stubborn")
	e.noLeftovers()
}

func TestKillSignal(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "trapper"}, ref, "sh", "-c", "trap 'echo got USR1' USR1; echo ready; while true; do sleep 0.1; done")
	if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "trapper"), "ready") }) {
		t.Fatal("the container never printed ready")
	}
	// After a second the init has handed over to its C loop, which must
	// relay signals and the exit code as well.
	time.Sleep(1500 * time.Millisecond)
	if init := e.inspect("trapper").State.Pid; !singleThreaded(init) {
		t.Errorf("after a second the init should be the C reaper, one thread; its command line is %q", procCmdline(init))
	}
	e.out("kill", "-s", "USR1", "trapper")
	if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "trapper"), "got USR1") }) {
		t.Errorf("kill -s USR1 did not reach the process: %q", e.out("logs", "trapper"))
	}
	e.out("kill", "trapper")
	if code := e.out("wait", "trapper"); code != "137" {
		t.Errorf("after kill: want 137, got %q", code)
	}
	r := e.run("kill", "trapper")
	e.wantError(r, "trapper", "not running")
	e.out("rm", "trapper")
	e.noLeftovers()
}

func TestExec(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		id := e.detached([]string{"--name", "box", "-e", "FROM_RUN=1"}, ref, "sleep", "1000")
		if out := e.out("exec", "box", "cat", "/etc/hostname"); out != id[:12] {
			t.Errorf("exec: want the container's hostname %s, got %q", id[:12], out)
		}
		if out := e.out("exec", "box", "sh", "-c", "echo $FROM_RUN"); out != "1" {
			t.Errorf("exec: want the container's environment, got %q", out)
		}
		// The single mapping has uid 0 alone.
		uid := map[bool]string{true: "1000", false: "0"}[me.Subuid]
		if out := e.out("exec", "-e", "FOO=bar", "-w", "/tmp", "-u", uid, "box", "sh", "-c", "echo $FOO $(pwd) $(id -u)"); out != "bar /tmp "+uid {
			t.Errorf("exec -e -w -u: got %q", out)
		}
		// In the container's pid namespace, beside its process.
		if out := e.out("exec", "box", "ps", "-o", "comm"); !strings.Contains(out, "sleep") {
			t.Errorf("exec ps: want the container's sleep, got %q", out)
		}
		if out := e.out("exec", "box", "grep", "Seccomp:", "/proc/self/status"); !strings.HasSuffix(out, "2") {
			t.Errorf("exec: want seccomp filtering, got %q", out)
		}
		if r := e.runInput("piped\n", "exec", "-i", "box", "cat"); r.code != 0 || r.stdout != "piped\n" {
			t.Errorf("exec -i: want stdin passed: %s", r)
		}
		if r := e.run("exec", "box", "sh", "-c", "exit 7"); r.code != 7 {
			t.Errorf("exec: want the exit code 7: %s", r)
		}
		if r := e.run("exec", "box", "no-such-command"); r.code != 127 {
			t.Errorf("exec of a missing command: want 127: %s", r)
		}
		// The container's files survive a restart, with every strategy.
		e.out("exec", "box", "sh", "-c", "echo kept > /root/file")
		e.out("restart", "-t", "1", "box")
		if out := e.out("exec", "box", "cat", "/root/file"); out != "kept" {
			t.Errorf("after restart: want the container's file, got %q", out)
		}
		e.out("stop", "-t", "1", "box")
		e.wantError(e.run("exec", "box", "true"), "box", "not running")
		// A stopped container still needs its image.
		e.wantError(e.run("rmi", ref), "box", "husk rm")
		e.out("rm", "box")
		e.ok("rmi", ref)
		e.noLeftovers()
	})
}

func TestPsFlags(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	a := e.detached([]string{"--name", "alpha"}, ref, "sleep", "1000")
	b := strings.TrimSpace(e.out("create", "--name", "beta", ref, "true"))
	if out := e.out("ps", "-q"); out != a[:12] {
		t.Errorf("ps -q: want only the running one, got %q", out)
	}
	if out := e.out("ps", "-aq", "--no-trunc"); !strings.Contains(out, a) || !strings.Contains(out, b) || len(lines(out)) != 2 {
		t.Errorf("ps -aq --no-trunc: want both full IDs, got %q", out)
	}
	if out := e.out("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}"); out != "beta" {
		t.Errorf("--filter status=created: got %q", out)
	}
	if out := e.out("ps", "--format", "json"); !strings.Contains(out, `"Names":"alpha"`) {
		t.Errorf("--format json: got %q", out)
	}
	e.wantError(e.run("ps", "--filter", "bogus=1"), "bogus")
	e.out("rm", "-f", "alpha", "beta")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("after rm -f: want no containers, got %q", out)
	}
	e.noLeftovers()
}

func TestRenameAndNames(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.out("create", "--name", "first", ref, "true")
	r := e.run("create", "--name", "first", ref, "true")
	e.wantError(r, "first", "already in use")
	if n := len(lines(e.out("ps", "-aq"))); n != 1 {
		t.Errorf("a refused create must write nothing: %d containers", n)
	}
	e.out("create", "--name", "second", ref, "true")
	e.wantError(e.run("rename", "first", "second"), "second", "already in use")
	e.out("rename", "first", "renamed")
	if out := e.out("ps", "-a", "--format", "{{.Names}}"); !strings.Contains(out, "renamed") || strings.Contains(out, "first") {
		t.Errorf("after rename: got %q", out)
	}
	// Generated names for containers without one.
	id := strings.TrimSpace(e.out("create", ref, "true"))
	if name := e.out("inspect", "--format", "{{.Name}}", id); !regexp.MustCompile(`^/[a-z]+_[a-z]+\d*$`).MatchString(name) {
		t.Errorf("a generated name: got %q", name)
	}
	e.out("container", "prune", "-f")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("container prune: want none left, got %q", out)
	}
}

func TestBadContainerInput(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	for _, verb := range [][]string{{"start"}, {"stop"}, {"rm"}, {"logs"}, {"exec", "nosuch", "true"}, {"attach"}, {"kill"}, {"inspect"}, {"wait"}, {"top"}} {
		args := verb
		if len(verb) == 1 {
			args = append(verb, "nosuch")
		}
		r := e.run(args...)
		e.wantError(r, "nosuch")
	}
	e.detached([]string{"--name", "busy"}, ref, "sleep", "1000")
	r := e.run("rm", "busy")
	e.wantError(r, "busy", "running", "rm -f")
	if !strings.HasPrefix(e.psStatus("busy"), "busy|Up ") {
		t.Errorf("a refused rm must leave the container running")
	}
	e.out("create", "--name", "idle", ref, "true")
	e.wantError(e.run("attach", "idle"), "idle", "not running")
	e.wantError(e.run("exec", "idle", "true"), "idle", "not running")
	e.wantError(e.run("create", "--restart", "sometimes", ref, "true"), "restart")
	// An ambiguous ID prefix: make containers until two IDs share a first digit.
	seen := map[byte]bool{}
	var dup byte
	for i := 0; i < 40 && dup == 0; i++ {
		id := strings.TrimSpace(e.out("create", ref, "true"))
		if seen[id[0]] {
			dup = id[0]
		}
		seen[id[0]] = true
	}
	e.wantError(e.run("rm", string(dup)), "ambiguous")
	e.out("rm", "-f", "busy")
	e.noLeftovers()
}

func TestRestartPolicyAndRestart(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "flaky", "--restart", "on-failure:2"}, ref, "sh", "-c", "echo try; exit 3")
	// wait sees through the restarts to the last exit.
	if code := e.out("wait", "flaky"); code != "3" {
		t.Errorf("wait: want 3, got %q", code)
	}
	if in := e.inspect("flaky"); in.State.Running || in.State.Status != "exited" || in.RestartCount != 2 {
		t.Errorf("on-failure:2: want two restarts then exited: %+v", in)
	}
	if n := strings.Count(e.out("logs", "flaky"), "try"); n != 3 {
		t.Errorf("on-failure:2: want 3 runs in the log, got %d", n)
	}
	// restart keeps the container's own files (its upper layer).
	e.detached([]string{"--name", "keeper"}, ref, "sleep", "1000")
	e.out("exec", "keeper", "sh", "-c", "echo kept > /root/file")
	before := e.inspect("keeper").State.Pid
	e.out("restart", "-t", "1", "keeper")
	in := e.inspect("keeper")
	if !in.State.Running || in.State.Pid == before {
		t.Errorf("restart: want running with a new init: %+v (before pid %d)", in, before)
	}
	if out := e.out("exec", "keeper", "cat", "/root/file"); out != "kept" {
		t.Errorf("restart: the container's files must survive: %q", out)
	}
	e.out("rm", "-f", "keeper", "flaky")
	e.noLeftovers()
}

func TestRunDetachedRm(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--rm", "--name", "gone"}, ref, "sh", "-c", "sleep 0.2")
	if !eventually(15*time.Second, func() bool { return e.out("ps", "-aq", "--filter", "name=gone") == "" }) {
		t.Errorf("run -d --rm: the container is still listed: %q", e.psStatus("gone"))
	}
	e.noLeftovers()
}

func TestTop(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "topped"}, ref, "sleep", "1000")
	out := e.out("top", "topped")
	if !strings.Contains(lines(out)[0], "PID") || !strings.Contains(out, "sleep 1000") || len(lines(out)) != 2 {
		t.Errorf("top: want the header and the sleep only: %q", out)
	}
	e.out("rm", "-f", "topped")
}

// After kill -9 of the monitor, or of everything with the run directory
// emptied (a reboot), ps -a shows the container exited; start runs it
// again, rm removes it, and nothing is left.
func TestRecovery(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.vars["XDG_RUNTIME_DIR"] = t.TempDir()
	e.detached([]string{"--name", "victim"}, ref, "sleep", "1000")
	monitor := monitorOf(t, e, "victim")
	syscall.Kill(monitor, syscall.SIGKILL)
	if !eventually(10*time.Second, func() bool { return strings.HasPrefix(e.psStatus("victim"), "victim|Exited") }) {
		t.Errorf("after kill -9 of the monitor: want Exited, got %q", e.psStatus("victim"))
	}
	e.noLeftovers()
	e.out("start", "victim")
	if !strings.HasPrefix(e.psStatus("victim"), "victim|Up") {
		t.Errorf("start after a monitor crash: got %q", e.psStatus("victim"))
	}
	// Everything killed, the run directory emptied.
	init := e.inspect("victim").State.Pid
	syscall.Kill(monitorOf(t, e, "victim"), syscall.SIGKILL)
	syscall.Kill(init, syscall.SIGKILL)
	entries, _ := os.ReadDir(e.vars["XDG_RUNTIME_DIR"])
	for _, en := range entries {
		os.RemoveAll(e.vars["XDG_RUNTIME_DIR"] + "/" + en.Name())
	}
	if !eventually(10*time.Second, func() bool { return strings.HasPrefix(e.psStatus("victim"), "victim|Exited") }) {
		t.Errorf("after a reboot: want Exited, got %q", e.psStatus("victim"))
	}
	e.out("start", "victim")
	e.out("rm", "-f", "victim")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("rm after recovery: got %q", out)
	}
	e.noLeftovers()
}

// monitorOf finds the pid of a container's monitor: the process whose
// command line is `husk monitor ID`.
func monitorOf(t *testing.T, e *env, name string) int {
	t.Helper()
	id := e.out("inspect", "--format", "{{.Id}}", name)
	for _, pid := range markedProcesses(e.vars[markVar]) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(b), "monitor\x00"+id) || strings.Contains(string(b), "monitor\x00--wait-attach\x00"+id) {
			return pid
		}
	}
	t.Fatalf("no monitor process for %s", name)
	return 0
}

// Ten run -d and ten rm -f at once: every verb takes its locks.
func TestConcurrentRunRm(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	for i := 0; i < 10; i++ {
		e.detached([]string{"--name", "old" + strconv.Itoa(i)}, ref, "sleep", "1000")
	}
	errs := make(chan string, 20)
	for i := 0; i < 10; i++ {
		go func(i int) {
			r := e.run("run", "-d", "--name", "new"+strconv.Itoa(i), ref, "sleep", "1000")
			errs <- fmt.Sprintf("%d %s", r.code, r.stderr)
		}(i)
		go func(i int) {
			r := e.run("rm", "-f", "old"+strconv.Itoa(i))
			errs <- fmt.Sprintf("%d %s", r.code, r.stderr)
		}(i)
	}
	for i := 0; i < 20; i++ {
		if r := <-errs; !strings.HasPrefix(r, "0 ") {
			t.Errorf("a concurrent run -d or rm -f failed: %s", r)
		}
	}
	names := e.out("ps", "-a", "--format", "{{.Names}}|{{.State}}")
	if len(lines(names)) != 10 || strings.Contains(names, "old") || strings.Count(names, "|running") != 10 {
		t.Errorf("want exactly the ten new containers running: %q", names)
	}
	e.out(append([]string{"rm", "-f"}, strings.Fields(e.out("ps", "-aq"))...)...)
	e.noLeftovers()
}

func TestLogsFlags(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "talker"}, ref, "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; touch /tmp/in; tail -f /tmp/in")
	if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "talker"), "line5") }) {
		t.Fatalf("no output in the log: %q", e.out("logs", "talker"))
	}
	if out := e.out("logs", "--tail", "2", "talker"); out != "line4\nline5" {
		t.Errorf("--tail 2: got %q", out)
	}
	out := e.out("logs", "-t", "--tail", "1", "talker")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line5$`).MatchString(out) {
		t.Errorf("-t: want an RFC 3339 timestamp before the line, got %q", out)
	}
	if out := e.out("logs", "--since", "2030-01-01T00:00:00Z", "talker"); out != "" {
		t.Errorf("--since a future time: want nothing, got %q", out)
	}
	if out := e.out("logs", "--since", "10m", "talker"); !strings.Contains(out, "line1") {
		t.Errorf("--since 10m: want every line, got %q", out)
	}
	// -f follows new lines and ends when the container stops.
	done := make(chan result, 1)
	go func() { done <- e.run("logs", "-f", "--tail", "0", "talker") }()
	time.Sleep(500 * time.Millisecond)
	// Lines a while apart, so that the last comes well after logs -f
	// started even on a loaded machine; busybox's tail -f polls each second.
	e.out("exec", "talker", "sh", "-c", "for i in 1 2 3; do echo late$i >> /tmp/in; sleep 1; done")
	if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "talker"), "late3") }) {
		t.Fatalf("the later lines never reached the log: %q", e.out("logs", "talker"))
	}
	e.out("stop", "talker")
	select {
	case r := <-done:
		if r.code != 0 || !strings.HasSuffix(r.stdout, "late3\n") || strings.Contains(r.stdout, "line") {
			t.Errorf("logs -f --tail 0: want only the later lines: %s", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("logs -f did not end when the container stopped")
	}
	e.out("rm", "talker")
}

func TestAttachTTYDetachKeys(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"-it", "--name", "console"}, ref, "sh")
	tm := e.startTerm(24, 80, "attach", "console")
	time.Sleep(300 * time.Millisecond)
	tm.ptmx.Write([]byte("echo $((6*7)); stty size\r"))
	tm.waitFor(`42`, 10*time.Second)
	tm.waitFor(`24 80`, 10*time.Second)
	// Ctrl-P Ctrl-Q leaves the container running.
	tm.ptmx.Write([]byte{0x10, 0x11})
	if code := tm.exit(10 * time.Second); code != 0 {
		t.Errorf("detach: want exit 0, got %d", code)
	}
	if !strings.HasPrefix(e.psStatus("console"), "console|Up") {
		t.Fatalf("after detaching: want the container running, got %q", e.psStatus("console"))
	}
	// Custom keys; then exit ends attach with the shell's code.
	tm = e.startTerm(24, 80, "attach", "--detach-keys", "ctrl-a,x", "console")
	time.Sleep(300 * time.Millisecond)
	tm.ptmx.Write([]byte("exit 5\r"))
	if code := tm.exit(10 * time.Second); code != 5 {
		t.Errorf("attach: want the container's exit code 5, got %d", code)
	}
	e.out("rm", "console")
	e.noLeftovers()
}

func TestAttachPipes(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"-i", "--name", "reader"}, ref, "sh", "-c", "read x; echo got $x; echo oops >&2; exit 4")
	r := e.runInput("hello\n", "attach", "reader")
	if r.code != 4 || r.stdout != "got hello\n" || r.stderr != "oops\n" {
		t.Errorf("attach with pipes: want the reply, stderr apart and exit 4: %s", r)
	}
	e.out("rm", "reader")
}

// A foreground run is a container too while it runs: ps lists it and exec
// reaches it; without --rm it stays listed afterwards.
func TestForegroundRunIsAContainer(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	done := make(chan result, 1)
	go func() { done <- e.run("run", "--name", "fg", ref, "sleep", "1000") }()
	if !eventually(10*time.Second, func() bool { return strings.HasPrefix(e.psStatus("fg"), "fg|Up") }) {
		t.Fatalf("a foreground run is not listed as running: %q", e.psStatus("fg"))
	}
	if out := e.out("exec", "fg", "echo", "inside"); out != "inside" {
		t.Errorf("exec into a foreground run: got %q", out)
	}
	e.out("stop", "fg")
	if r := <-done; r.code != 143 {
		t.Errorf("the foreground run after stop: want 143: %s", r)
	}
	if st := e.psStatus("fg"); !strings.HasPrefix(st, "fg|Exited (143)") {
		t.Errorf("after a foreground run: want it listed as exited, got %q", st)
	}
	e.wantError(e.run("run", "--name", "fg", ref, "true"), "fg", "already in use")
	e.out("rm", "fg")
	e.sbxOut([]string{"--rm", "--name", "fg"}, ref, "true")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("run --rm: want nothing listed afterwards, got %q", out)
	}
	e.noLeftovers()
}

func TestRunDetachedFaults(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	r := e.run("run", "-d", "--name", "nocmd", ref, "no-such-command")
	if r.code != 127 || len(errorLines(r.stderr)) != 1 || !strings.Contains(r.stderr, "no-such-command") {
		t.Errorf("run -d of a missing command: want 127 and one line naming it: %s", r)
	}
	// Nothing half-made: no container record, for -d or not.
	r = e.run("run", "--name", "nocmd2", ref, "no-such-command")
	if r.code != 127 {
		t.Errorf("run of a missing command: want 127: %s", r)
	}
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("a run that could not start must leave no container: %q", out)
	}
	r = e.run("run", "-d", "-v", "/no/such/dir:/x", ref, "true")
	e.wantError(r, "/no/such/dir")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("a refused run -d must leave no container: %q", out)
	}
	e.noLeftovers()
}

func TestExecTTY(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "shellbox"}, ref, "sleep", "1000")
	tm := e.startTerm(30, 100, "exec", "-it", "shellbox", "sh")
	time.Sleep(300 * time.Millisecond)
	tm.ptmx.Write([]byte("stty size; tty; exit 6\r"))
	tm.waitFor(`30 100`, 10*time.Second)
	tm.waitFor(`/dev/pts/\d+`, 10*time.Second)
	if code := tm.exit(10 * time.Second); code != 6 {
		t.Errorf("exec -it: want the shell's exit code 6, got %d", code)
	}
	tm.checkRestored()
	e.out("rm", "-f", "shellbox")
	e.noLeftovers()
}

// --restart always runs the process again until a stop.
func TestRestartAlways(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "phoenix", "--restart", "always"}, ref, "sh", "-c", "sleep 0.2")
	if !eventually(20*time.Second, func() bool { return e.inspect("phoenix").RestartCount >= 2 }) {
		t.Errorf("--restart always: want restarts, got %+v", e.inspect("phoenix"))
	}
	e.out("stop", "-t", "1", "phoenix")
	if in := e.inspect("phoenix"); in.State.Status != "exited" {
		t.Errorf("after stop: want exited and no further restart, got %+v", in)
	}
	n := e.inspect("phoenix").RestartCount
	time.Sleep(time.Second)
	if in := e.inspect("phoenix"); in.RestartCount != n || in.State.Status != "exited" {
		t.Errorf("a stopped container was restarted: %+v", in)
	}
	e.out("rm", "phoenix")
	e.noLeftovers()
}

func procCmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// singleThreaded: the C init has one thread; a Go runtime has several.
func singleThreaded(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return strings.Contains(string(b), "\nThreads:\t1\n")
}

// The exit code of a process that outlives the init's hand-over.
func TestExitCodeAfterHandOver(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "late"}, ref, "sh", "-c", "sleep 2; exit 9")
	if code := e.out("wait", "late"); code != "9" {
		t.Errorf("want 9 after the hand-over, got %q", code)
	}
	r := e.sbx(nil, ref, "sh", "-c", "sleep 1.5; kill -TERM $$")
	if r.code != 143 {
		t.Errorf("a foreground run killed by its signal after the hand-over: want 143: %s", r)
	}
	e.out("rm", "late")
	e.noLeftovers()
}

// start -a -i: the created container's input comes from this terminal's
// (here, a pipe's) standard input.
func TestStartAttachInput(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.out("create", "-i", "--name", "reader", ref, "sh", "-c", "read x; echo got $x")
	r := e.runInput("typed\n", "start", "-a", "-i", "reader")
	if r.code != 0 || r.stdout != "got typed\n" {
		t.Errorf("start -a -i: %s", r)
	}
	e.out("rm", "-v", "reader")
	e.noLeftovers()
}

// The log is rotated at 10 MB, one older file kept, and read across both.
func TestLogRotation(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	id := e.detached([]string{"--name", "chatty"}, ref, "sh", "-c",
		"i=0; while [ $i -lt 160000 ]; do echo \"line $i ........................................\"; i=$((i+1)); done")
	if code := e.out("wait", "chatty"); code != "0" {
		t.Fatalf("wait: %s", code)
	}
	path := e.out("inspect", "--format", "{{.LogPath}}", id)
	cur, err1 := os.Stat(path)
	old, err2 := os.Stat(path + ".1")
	if err1 != nil || err2 != nil || old.Size() < 10<<20 || old.Size() > 11<<20 || cur.Size() >= 10<<20 {
		t.Errorf("want the log rotated at 10 MB: %v %v", old, cur)
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Errorf("want one older file kept, found %s.2", path)
	}
	if out := e.out("logs", "--tail", "1", "chatty"); !strings.HasPrefix(out, "line 159999 ") {
		t.Errorf("logs --tail 1 after rotation: %q", out)
	}
	e.out("rm", "chatty")
}

// stop sends the image's STOPSIGNAL.
func TestStopSignalOfImage(t *testing.T) {
	e := sandboxEnv(t, "")
	img, err := mutate.Config(images.Busybox, v1.Config{StopSignal: "SIGUSR1", Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := plain.Ref("stopsignal:" + randomHex(4))
	if err := plain.Push(strings.TrimPrefix(ref, plain.Addr+"/"), img); err != nil {
		t.Fatal(err)
	}
	e.pull(ref)
	e.detached([]string{"--name", "usr1"}, ref, "sh", "-c", "trap 'echo stopped by USR1; exit 0' USR1; echo ready; while true; do sleep 0.1; done")
	if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "usr1"), "ready") }) {
		t.Fatal("the container never printed ready")
	}
	e.out("stop", "usr1")
	if out := e.out("logs", "usr1"); !strings.Contains(out, "stopped by USR1") {
		t.Errorf("stop: want the image's STOPSIGNAL (USR1): %q", out)
	}
	if code := e.out("inspect", "--format", "{{.State.ExitCode}}", "usr1"); code != "0" {
		t.Errorf("exit code after a handled STOPSIGNAL: %s", code)
	}
	e.out("rm", "usr1")
}

// system reset asks once on the host, and asks as well when typed inside
// husk unshare (where husk does not re-enter the namespace).
func TestResetAsks(t *testing.T) {
	e, _ := busyboxEnv(t, "")
	for _, args := range [][]string{{"system", "reset"}, {"unshare", "sh", "-c", "husk system reset"}} {
		r := e.runInput("n\n", args...)
		if strings.Count(r.stderr, "Continue? [y/N]") != 1 {
			t.Errorf("%v: want the question asked once: %s", args, r)
		}
		if ids := e.imageIDs(); len(ids) != 1 {
			t.Errorf("%v: a declined reset removed the images: %q", args, ids)
		}
	}
}
