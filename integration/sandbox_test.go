package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers for the tests of `husk run` and `husk shell` (issue 3).

// markVar is set in the environment of every husk a sandbox test starts,
// with a value of its own: husk, its namespace child, the init and helpers
// such as fuse-overlayfs inherit it, so leftovers can be found by it (and
// never by a name). The sandbox's own processes cannot outlive the init:
// the kernel kills a pid namespace with its PID 1.
const markVar = "HUSK_TEST_MARK"

// sandboxEnv is a fresh env (its own HOME, so its own store) with a marker.
// A non-empty strategy forces that root-filesystem strategy for every
// command of the test.
func sandboxEnv(t *testing.T, strategy string) *env {
	t.Helper()
	e := newEnv(t)
	e.vars[markVar] = randomHex(8)
	if strategy != "" {
		e.vars["HUSK_STORAGE_DRIVER"] = strategy
	}
	return e
}

// busyboxEnv is a sandboxEnv with the busybox image pulled; it returns the
// image reference.
func busyboxEnv(t *testing.T, strategy string) (*env, string) {
	t.Helper()
	e := sandboxEnv(t, strategy)
	ref := plain.Ref("busybox:latest")
	if strategy != "" {
		e.pull(ref, "--storage-driver", strategy)
	} else {
		e.pull(ref)
	}
	return e, ref
}

// forEachStrategy runs fn once per root-filesystem strategy, each on its own
// store with busybox pulled under that strategy.
func forEachStrategy(t *testing.T, fn func(t *testing.T, e *env, ref string)) {
	for _, s := range strategies {
		t.Run(s, func(t *testing.T) {
			e, ref := busyboxEnv(t, s)
			if got := infoString(t, infoJSON(t, e), infoKeys.Strategy); got != s {
				t.Fatalf("forced %s, husk info reports %s = %q", s, infoKeys.Strategy, got)
			}
			fn(t, e, ref)
		})
	}
}

// runArgs is `run FLAGS... IMAGE CMD...`.
func runArgs(flags []string, ref string, cmd ...string) []string {
	return append(append(append([]string{"run"}, flags...), ref), cmd...)
}

// sbx runs `husk run FLAGS... IMAGE CMD...` and returns the result.
func (e *env) sbx(flags []string, ref string, cmd ...string) result {
	e.t.Helper()
	return e.run(runArgs(flags, ref, cmd...)...)
}

// sbxOut runs `husk run`, fails the test unless it exits 0, and returns
// stdout without its trailing newlines (and \r from a pty).
func (e *env) sbxOut(flags []string, ref string, cmd ...string) string {
	e.t.Helper()
	r := e.sbx(flags, ref, cmd...)
	if r.code != 0 {
		e.t.Errorf("want exit 0: %s", r)
	}
	return strings.TrimRight(strings.ReplaceAll(r.stdout, "\r", ""), "\n")
}

// shOut runs a shell script in the image with default flags plus flags.
func (e *env) shOut(ref, script string, flags ...string) string {
	e.t.Helper()
	return e.sbxOut(flags, ref, "sh", "-c", script)
}

// runAt is runInput with a working directory other than HOME.
func (e *env) runAt(dir, stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	return finish(ctx, e.t, cmd.Run(), args, &out, &errb)
}

// finish turns a finished command into a result.
func finish(ctx context.Context, t *testing.T, err error, args []string, out, errb *bytes.Buffer) result {
	t.Helper()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.stderr += fmt.Sprintf("\n(harness: husk itself was killed by %v)", ws.Signal())
		}
	default:
		r.code = -1
		r.stderr += "\n(harness: " + err.Error() + ")"
	}
	if ctx.Err() != nil {
		t.Errorf("husk %s: did not finish in time; killed", strings.Join(args, " "))
	}
	return r
}

// wantRunError is wantError for a failed run or shell, plus no leftover
// mount or process of it.
func (e *env) wantRunError(r result, want ...string) {
	e.t.Helper()
	e.wantError(r, want...)
	e.noLeftovers()
}

// noLeftovers checks that no process carrying this test's marker is alive
// (husk, its namespace child, the init, fuse-overlayfs), and that the test's
// own mount table (the host's) shows nothing under HOME, where the store is.
func (e *env) noLeftovers() {
	e.t.Helper()
	var pids []int
	deadline := time.Now().Add(3 * time.Second)
	for {
		pids = markedProcesses(e.vars[markVar])
		if len(pids) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		e.t.Errorf("leftover process %d of this test: %q", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, e.home) {
			e.t.Errorf("leftover mount in the host's mount namespace: %s", l)
		}
	}
}

// markedProcesses are the live processes whose environment holds
// markVar=mark. Processes of other users are unreadable and skipped.
func markedProcesses(mark string) []int {
	if mark == "" {
		return nil
	}
	want := []byte(markVar + "=" + mark + "\x00")
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil && isZombieStat(string(stat)) {
			continue // exited, its parent not yet told
		}
		if bytes.Contains(append(env, 0), want) {
			out = append(out, pid)
		}
	}
	return out
}

// isZombieStat reads the state field of /proc/PID/stat ("pid (comm) S ...").
func isZombieStat(stat string) bool {
	i := strings.LastIndex(stat, ")")
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	return stat[i+2] == 'Z'
}

// mount is one line of /proc/PID/mountinfo.
type mount struct {
	Point, Options, FSType, Source, Super string
}

// parseMountinfo reads mountinfo text (as printed from inside a sandbox).
func parseMountinfo(text string) []mount {
	var out []mount
	for _, l := range lines(text) {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		i := 6
		for i < len(f) && f[i] != "-" {
			i++
		}
		if i+3 >= len(f) {
			continue
		}
		out = append(out, mount{Point: f[4], Options: f[5], FSType: f[i+1], Source: f[i+2], Super: f[i+3]})
	}
	return out
}

// mountAt is the last (topmost) mount at point.
func mountAt(ms []mount, point string) (mount, bool) {
	var m mount
	found := false
	for _, x := range ms {
		if x.Point == point {
			m, found = x, true
		}
	}
	return m, found
}

func isReadonly(m mount) bool {
	return m.Options == "ro" || strings.HasPrefix(m.Options, "ro,")
}

// hostNS is the host's namespace link for kind (as the test sees it).
func hostNS(t *testing.T, kind string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// netDevices are the interface names of a /proc/net/dev text.
func netDevices(text string) []string {
	var out []string
	for _, l := range lines(text) {
		name, _, ok := strings.Cut(l, ":")
		if ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out
}

// statusField is one field of /proc/PID/status text ("CapEff", "Seccomp").
func statusField(status, key string) string {
	for _, l := range lines(status) {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
