package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// env is one user's husk setup for one test: its own HOME (so its own
// store, config and credentials) and a clean environment.
type env struct {
	t    *testing.T
	home string
	vars map[string]string // extra variables, e.g. HUSK_ROOT
}

// result is one husk invocation.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("husk %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// newEnv gives a test a fresh HOME. Its cleanup runs `husk system reset -f`
// before the directory is removed: files owned by subordinate ids cannot be
// removed from outside the user namespace.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, home: t.TempDir(), vars: map[string]string{}}
	t.Cleanup(func() {
		r := e.run("system", "reset", "-f")
		if r.code != 0 {
			t.Logf("cleanup: %s", r)
		}
	})
	return e
}

// environ is what husk sees: HOME, a PATH with husk first, nothing of the
// caller's XDG_* or HUSK_* (no XDG_RUNTIME_DIR, as under su or Slurm).
func (e *env) environ() []string {
	env := []string{
		"HOME=" + e.home,
		"PATH=" + binDir + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"USER=" + me.Name,
		"LOGNAME=" + me.Name,
		"LANG=C.UTF-8",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	for k, v := range e.vars {
		env = append(env, k+"="+v)
	}
	return env
}

// command prepares husk ARGS in its own process group, which a timeout
// kills whole (by its id, never by name).
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, huskBin, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

func (e *env) run(args ...string) result { return e.runInput("", args...) }

// runInput runs husk with stdin, with a 5-minute limit.
func (e *env) runInput(stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var report string
	kill := cmd.Cancel
	cmd.Cancel = func() error { report = processReport(); return kill() }
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
		r.stderr += "\n(harness: " + err.Error() + ")"
	}
	if ctx.Err() != nil {
		e.t.Errorf("husk %s: still running after 5 minutes; killed. This user's processes then:\n%s", strings.Join(args, " "), report)
	}
	return r
}

// ok runs husk and fails the test unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("want exit 0: %s", r)
	}
	return r
}

// imageIDs is `husk images -q`, one ID per line.
func (e *env) imageIDs() []string {
	e.t.Helper()
	return lines(e.ok("images", "-q").stdout)
}

// pull pulls ref and checks the last line of stdout is the reference.
func (e *env) pull(ref string, flags ...string) result {
	e.t.Helper()
	r := e.ok(append(append([]string{"pull"}, flags...), ref)...)
	if l := lines(r.stdout); len(l) == 0 || l[len(l)-1] != ref {
		e.t.Errorf("pull %s: want the reference as the last line of stdout: %s", ref, r)
	}
	return r
}

// writeFile writes a file under HOME, making its directories.
func (e *env) writeFile(rel string, data []byte, mode os.FileMode) string {
	e.t.Helper()
	path := filepath.Join(e.home, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// trustCA places the TLS registry's CA where husk looks for it.
func (e *env) trustCA() {
	e.writeFile(filepath.Join(".config/husk/certs.d", secure.Addr, "ca.crt"), secure.CA.CertPEM, 0o644)
}

// inNamespace runs a shell script inside `husk unshare`, with $1 the root
// filesystem of image ref mounted by `husk image mount`.
func (e *env) inImage(ref, script string) result {
	e.t.Helper()
	return e.ok("unshare", "sh", "-c", `set -e; root=$(husk image mount "$1"); cd "$root"; `+script, "sh", ref)
}

// lines are the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimRight(l, "\r"))
		}
	}
	return out
}

// errorLines are stderr's lines that start "husk: ", without husk's notices
// (the single-mapping notice may come before an error). Progress lines
// ("Copying blob ...") do not count.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range lines(stderr) {
		if strings.HasPrefix(l, "husk: ") && !strings.HasPrefix(l, "husk: notice:") {
			out = append(out, l)
		}
	}
	return out
}

// notices counts husk's "husk: notice:" lines.
func notices(stderr string) int {
	n := 0
	for _, l := range lines(stderr) {
		if strings.HasPrefix(l, "husk: notice:") {
			n++
		}
	}
	return n
}

// wantFault checks a failed pull as the contract states it: exit 125,
// exactly one line on stderr starting "husk: " (besides notices) that
// contains each of want, and no image left behind.
func (e *env) wantFault(r result, want ...string) {
	e.t.Helper()
	e.wantError(r, want...)
	if ids := e.imageIDs(); len(ids) != 0 {
		e.t.Errorf("after a failed %s, want no image; husk images -q: %q", r.args[0], ids)
	}
}

// wantError checks exit 125 and exactly one stderr line starting "husk: "
// (besides notices) that contains each of want.
func (e *env) wantError(r result, want ...string) {
	e.t.Helper()
	if r.code != 125 {
		e.t.Errorf("want exit 125: %s", r)
	}
	el, all := errorLines(r.stderr), lines(r.stderr)
	if len(el) != 1 || all[len(all)-1] != el[0] {
		e.t.Errorf("want exactly one stderr line starting \"husk: \", and last: %s", r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			e.t.Errorf("want stderr to mention %q: %s", w, r)
		}
	}
}
