package integration

import (
	"context"
	"encoding/json"
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

// husk as an OCI runtime (issue 16, item 6): husk bundle writes a bundle
// from an image, husk oci (or husk called runc) runs it with runc's
// command line and semantics: create leaves the container waiting, start
// runs its process, state, kill and delete as runc's.

// ociBundle writes a bundle of busybox whose process is args, and removes
// it in the user namespace afterwards (its files may belong to subuids).
func ociBundle(t *testing.T, e *env, ref string, args ...string) string {
	t.Helper()
	dir := filepath.Join(e.home, "bundle")
	if got := strings.TrimSpace(e.ok("bundle", ref, dir).stdout); got != dir {
		t.Errorf("husk bundle printed %q, want %s", got, dir)
	}
	t.Cleanup(func() {
		if r := e.run("unshare", "rm", "-rf", dir); r.code != 0 {
			t.Logf("removing the bundle: %s", r)
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "rootfs", "bin", "busybox")); err != nil {
		t.Fatalf("the bundle's rootfs lacks the image's files: %v", err)
	}
	setProcess(t, dir, func(p map[string]any) { p["args"] = args })
	return dir
}

// setProcess edits config.json's process.
func setProcess(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatalf("config.json is not JSON: %v", err)
	}
	edit(spec["process"].(map[string]any))
	if b, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type ociState struct {
	OCIVersion, ID, Status, Bundle, Owner string
	Pid                                   int
	Created                               time.Time
}

func ociStatus(t *testing.T, e *env, root, id string) ociState {
	t.Helper()
	var st ociState
	out := e.ok("oci", "--root", root, "state", id).stdout
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: not JSON: %v: %q", id, err, out)
	}
	return st
}

// waitStatus polls state until it says want.
func waitStatus(t *testing.T, e *env, root, id, want string) ociState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := ociStatus(t, e, root, id)
		if st.Status == want || time.Now().After(deadline) {
			if st.Status != want {
				t.Errorf("container %s is %s, want %s", id, st.Status, want)
			}
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ociCreate runs husk oci create with the container's stdio on a file,
// which it returns.
func ociCreate(t *testing.T, e *env, root, bundle, id string, extra ...string) string {
	t.Helper()
	out := filepath.Join(e.home, id+".out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := append([]string{"oci", "--root", root, "create", "--bundle", bundle}, extra...)
	cmd := e.command(t.Context(), append(args, id)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out)
		t.Fatalf("oci create %s: %v: %s", id, err, b)
	}
	return out
}

func ociAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

func waitFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) || time.Now().After(deadline) {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: want %q in it, have %q", path, want, b)
			}
			return string(b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A bundle runs with husk oci run: the image's process as config.json
// gives it, in husk's user namespace, its exit code passed on, and no
// state left.
func TestOCIBundleRun(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	root := filepath.Join(e.home, "oci-state")
	bundle := ociBundle(t, e, ref, "sh", "-c", "echo hello; cat /proc/self/uid_map; hostname; pwd; echo $PATH; exit 3")
	var spec struct {
		Process struct {
			Cwd  string
			Env  []string
			User struct{ UID, GID int }
		}
		Root  struct{ Path string }
		Linux struct {
			Namespaces []struct{ Type string }
			Seccomp    *struct{ DefaultAction string }
		}
	}
	b, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Root.Path != "rootfs" || spec.Process.Cwd != "/" || spec.Process.User.UID != 0 || spec.Linux.Seccomp == nil {
		t.Errorf("config.json: want root rootfs, cwd /, uid 0 and a seccomp profile: %s", b)
	}
	if !strings.Contains(string(b), "PATH=/usr/local/sbin") {
		t.Errorf("config.json: want the image's PATH in process.env: %s", b)
	}

	r := e.run("oci", "--root", root, "run", "--bundle", bundle, "r1")
	if r.code != 3 {
		t.Fatalf("oci run: want the process's exit code 3: %s", r)
	}
	parts := lines(r.stdout)
	if len(parts) < 5 || parts[0] != "hello" || parts[len(parts)-3] != "husk" || parts[len(parts)-2] != "/" {
		t.Errorf("oci run: want hello, the uid map, hostname husk, cwd /, PATH: %q", r.stdout)
	} else {
		wantUIDMap(t, strings.Join(parts[1:len(parts)-3], "\n"))
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 || ents[0].Name() != "scratch" {
		t.Errorf("oci run left state behind in %s: %v", root, ents)
	}
	// The bundle's directory written a second time is refused: it is not
	// empty.
	e.wantError(e.run("bundle", ref, bundle), "not empty")
	// A directory with no config.json is no bundle.
	empty := filepath.Join(e.home, "empty")
	os.Mkdir(empty, 0o755)
	e.wantError(e.run("oci", "--root", root, "run", "--bundle", empty, "r2"), "config.json")
}

// create leaves the container waiting (its process not yet run), start
// runs it, state follows it, kill signals it, delete removes it: runc's
// lifecycle, through runc's own name and global flags.
func TestOCILifecycle(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	root := filepath.Join(e.home, "oci-state")
	bundle := ociBundle(t, e, ref, "sh", "-c", "echo started; exec sleep 600")
	runc := filepath.Join(e.home, "runc")
	if err := os.Symlink(huskBin, runc); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(e.home, "c1.pid")
	out := ociCreate(t, e, root, bundle, "c1", "--pid-file", pidFile)
	st := ociStatus(t, e, root, "c1")
	b, _ := os.ReadFile(pidFile)
	if st.Status != "created" || st.ID != "c1" || st.Bundle != bundle || st.OCIVersion == "" || strconv.Itoa(st.Pid) != string(b) || !ociAlive(st.Pid) {
		t.Fatalf("after create: want created, the bundle, and the live pid of the pid file %q: %+v", b, st)
	}
	time.Sleep(300 * time.Millisecond)
	if b, _ := os.ReadFile(out); len(b) != 0 {
		t.Errorf("the process ran before start: %q", b)
	}
	e.ok("oci", "--root", root, "start", "c1")
	waitFile(t, out, "started")
	waitStatus(t, e, root, "c1", "running")
	e.wantError(e.run("oci", "--root", root, "start", "c1"), "not created")
	e.wantError(e.run("oci", "--root", root, "delete", "c1"), "running")

	// husk called runc: runc's global flags, the ones husk does not use
	// accepted.
	log := filepath.Join(e.home, "runc.log")
	cmd := e.command(t.Context(), "--root", root, "--log", log, "--log-format", "json", "--systemd-cgroup", "kill", "c1", "TERM")
	cmd.Path, cmd.Args[0] = runc, "runc"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc kill c1 TERM: %v: %s", err, b)
	}
	waitStatus(t, e, root, "c1", "stopped")
	if ociAlive(st.Pid) {
		t.Errorf("the init %d lives on after its process ended", st.Pid)
	}
	cmd = e.command(t.Context(), "--root", root, "--log", log, "--log-format", "json", "state", "nosuch")
	cmd.Path, cmd.Args[0] = runc, "runc"
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "does not exist") {
		t.Errorf("runc state nosuch: want 'does not exist': %v: %s", err, b)
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), `"level":"error"`) || !strings.Contains(string(b), "does not exist") {
		t.Errorf("--log-format json: want the error in %s as JSON: %q", log, b)
	}
	e.ok("oci", "--root", root, "delete", "c1")
	e.wantError(e.run("oci", "--root", root, "state", "c1"), "does not exist")

	// A created container ends on TERM, as runc's waiting init does.
	ociCreate(t, e, root, bundle, "c2")
	st = ociStatus(t, e, root, "c2")
	e.ok("oci", "--root", root, "kill", "c2")
	waitStatus(t, e, root, "c2", "stopped")
	e.ok("oci", "--root", root, "delete", "c2")

	// delete --force ends a running one, every process of it.
	ociCreate(t, e, root, bundle, "c3")
	st = ociStatus(t, e, root, "c3")
	e.ok("oci", "--root", root, "start", "c3")
	waitStatus(t, e, root, "c3", "running")
	e.ok("oci", "--root", root, "kill", "--all", "c3", "STOP")
	e.ok("oci", "--root", root, "delete", "--force", "c3")
	if ociAlive(st.Pid) {
		t.Errorf("delete --force left the init %d", st.Pid)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Errorf("state left in %s: %v", root, ents)
	}
	e.ok("oci", "--root", root, "delete", "--force", "c3") // gone already: runc's --force succeeds
	_ = syscall.Kill(st.Pid, syscall.SIGKILL)
}

// podmanEnv is rootless podman for e's user, as make bench sets it up
// (overlay storage in e's HOME, a short runroot, cgroupfs, file events),
// with husk as its runtime through a link named husk-runc. It returns
// podman's arguments before the verb, and its environment.
func podmanEnv(t *testing.T, e *env) ([]string, []string) {
	t.Helper()
	bin, err := exec.LookPath("podman")
	if err != nil {
		skipOrFail(t, "podman is not installed (apt-get install podman): %v", err)
	}
	run, err := os.MkdirTemp("/tmp", "hop-") // podman refuses a long runroot
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(e.home, "podman-store")
	conf := filepath.Join(e.home, ".config/containers/storage.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, fmt.Appendf(nil, "[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n[storage.options.overlay]\nignore_chown_errors = \"true\"\n",
		store, filepath.Join(run, "containers")), 0o600); err != nil { // ignore_chown_errors: the single mapping (no /etc/subuid range) holds one uid
		t.Fatal(err)
	}
	runtime := filepath.Join(e.home, "husk-runc")
	if err := os.Symlink(huskBin, runtime); err != nil {
		t.Fatal(err)
	}
	env := append(e.environ(), "XDG_RUNTIME_DIR="+run)
	global := []string{bin, "--events-backend", "file", "--cgroup-manager", "cgroupfs", "--runtime", runtime}
	t.Cleanup(func() {
		// Its layers belong to subordinate ids: removed in podman's user
		// namespace; then its pause process, by its pid file.
		c := exec.Command(bin, "unshare", "rm", "-rf", store, filepath.Join(run, "containers"))
		c.Env = env
		_ = c.Run()
		if b, err := os.ReadFile(filepath.Join(run, "libpod/tmp/pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(run)
	})
	return global, env
}

func podman(t *testing.T, global, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	all := append(append([]string{}, global...), args...)
	c := exec.CommandContext(ctx, all[0], all[1:]...)
	c.Env = env
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	r := result{args: all, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code = -1
		r.stderr += err.Error()
	}
	return r
}

// podman --runtime drives husk: run (its own network namespace, joined;
// none), exit codes, husk's init as PID 1 with the command as PID 2, a
// detached container stopped and removed.
func TestOCIPodman(t *testing.T) {
	e := sandboxEnv(t, "")
	global, env := podmanEnv(t, e)
	ref := plain.Ref("busybox:latest")
	if r := podman(t, global, env, "pull", "-q", "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("podman pull: %s", r)
	}
	r := podman(t, global, env, "run", "--rm", ref, "sh", "-c", `tr "\0" " " < /proc/1/cmdline; echo; echo $$; exit 4`)
	if r.code != 4 {
		t.Fatalf("podman run through husk: want the process's code 4: %s", r)
	}
	if l := lines(r.stdout); len(l) != 2 || !strings.HasPrefix(l[0], "husk oci init ") || l[1] != "2" {
		t.Errorf("want husk's init as PID 1 and the command as PID 2: %q", r.stdout)
	}
	if r := podman(t, global, env, "run", "--rm", "--network", "none", ref, "true"); r.code != 0 {
		t.Errorf("podman run --network none true: %s", r)
	}
	if r := podman(t, global, env, "run", "-d", "--name", "d1", ref, "sleep", "600"); r.code != 0 {
		t.Fatalf("podman run -d: %s", r)
	}
	if r := podman(t, global, env, "ps", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(r.stdout, "d1 Up") {
		t.Errorf("podman ps: want d1 up: %s", r)
	}
	if r := podman(t, global, env, "stop", "-t", "5", "d1"); r.code != 0 {
		t.Errorf("podman stop: %s", r)
	}
	if r := podman(t, global, env, "rm", "d1"); r.code != 0 {
		t.Errorf("podman rm: %s", r)
	}
	if r := podman(t, global, env, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("podman ps -aq: want no container left: %s", r)
	}
}
