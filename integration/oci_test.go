package integration

import (
	"encoding/json"
	"fmt"
	"os"
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
