package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The one line husk says when it moves the store off a network filesystem.
const placedLine = "keeping the store on this node's own storage"

// sshfsEnv is an env whose HOME is a new directory on the user's sshfs
// mount (run.sh mounts it: sshfs.sh), and the same directory on the
// export's side. TMPDIR is the test's own, so the node-local store is too.
func sshfsEnv(t *testing.T) (e *env, exportHome string) {
	t.Helper()
	mnt, export := os.Getenv("HUSK_TEST_SSHFS"), os.Getenv("HUSK_TEST_SSHFS_EXPORT")
	if mnt == "" || export == "" {
		skipOrFail(t, "no sshfs mount: run make test as root (run.sh mounts one per user with integration/sshfs.sh)")
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(mi), " "+mnt+" ") || !strings.Contains(string(mi), "fuse.sshfs") {
		t.Fatalf("%s is not an sshfs mount (integration/sshfs.sh mount failed?)", mnt)
	}
	name := "home-" + randomHex(4)
	home := filepath.Join(mnt, name)
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// The HOME stays for run.sh's walk of the export as root.
	e = &env{t: t, home: home, vars: map[string]string{"TMPDIR": t.TempDir()}}
	t.Cleanup(func() {
		if r := e.run("system", "reset", "-f"); r.code != 0 {
			t.Logf("cleanup: %s", r)
		}
	})
	return e, filepath.Join(export, name)
}

// With HOME on sshfs and no HUSK_ROOT, the store goes to node-local
// storage with one line saying so, and pull, run and a detached container
// work; husk info names the placement; nothing on the export needs what a
// shared filesystem lacks.
func TestPlacementSSHFS(t *testing.T) {
	e, exportHome := sshfsEnv(t)
	ref := plain.Ref("busybox:latest")
	r := e.pull(ref)
	if n := strings.Count(r.stderr, placedLine); n != 1 {
		t.Errorf("want the placement said once on the first command, said %d times: %s", n, r)
	}
	if !strings.Contains(r.stderr, "fuse.sshfs") || !strings.Contains(r.stderr, e.vars["TMPDIR"]) {
		t.Errorf("want the line to name the filesystem (fuse.sshfs) and the place (under %s): %s", e.vars["TMPDIR"], r)
	}
	if r := e.ok("images"); strings.Contains(r.stderr, placedLine) {
		t.Errorf("want the placement said once, said again: %s", r)
	}
	if r := e.ok("run", "--rm", ref, "sh", "-c", "echo hi > /f && cat /f"); strings.TrimSpace(r.stdout) != "hi" {
		t.Errorf("want hi: %s", r)
	}
	// Repeated runs write their launch in the placed root, and the data
	// directory's startcache names it for the prelaunch (prelaunch.c).
	for i := 0; i < 3; i++ {
		if r := e.ok("run", "--rm", "--network", "none", ref, "echo", "again"); r.stdout != "again\n" {
			t.Errorf("run %d: want again: %s", i, r)
		}
	}
	root := infoString(t, infoJSON(t, e), "store.root")
	ptr := filepath.Join(e.home, ".local", "share", "husk", "startcache")
	if b, err := os.ReadFile(ptr); err != nil || string(b) != filepath.Join(root, "startcache")+"\n" {
		t.Errorf("want %s to name %s/startcache: %q, %v", ptr, root, b, err)
	}
	if launches, _ := filepath.Glob(filepath.Join(root, "startcache", "launch-*")); len(launches) == 0 {
		t.Errorf("no launch was written down in %s/startcache", root)
	}
	id := strings.TrimSpace(e.ok("run", "-d", ref, "sh", "-c", "echo up > /up; sleep 300").stdout)
	if r := e.ok("exec", id, "sh", "-c", "sleep 0.2; cat /up"); strings.TrimSpace(r.stdout) != "up" {
		t.Errorf("want up from the detached container: %s", r)
	}
	e.ok("rm", "-f", id)

	m := infoJSON(t, e)
	if got := infoString(t, m, "store.placement"); got != "node-local" {
		t.Errorf("info store.placement = %q, want node-local", got)
	}
	if got := infoString(t, m, "store.placementReason"); !strings.Contains(got, "fuse.sshfs") {
		t.Errorf("info store.placementReason = %q, want it to name fuse.sshfs", got)
	}
	if root := infoString(t, m, "store.root"); !strings.HasPrefix(root, e.vars["TMPDIR"]+"/") {
		t.Errorf("info store.root = %q, want it under TMPDIR %s", root, e.vars["TMPDIR"])
	}
	wantPlainFiles(t, exportHome)
}

// wantPlainFiles walks dir on the export's side (the "server"): only
// directories, regular files and symlinks of this user's, without xattrs.
// run.sh walks it again as root, which sees trusted xattrs too.
func wantPlainFiles(t *testing.T, dir string) {
	t.Helper()
	uid := uint32(os.Getuid())
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR, syscall.S_IFREG, syscall.S_IFLNK:
		default:
			t.Errorf("%s on the export is a special file (mode %o)", p, st.Mode)
		}
		if st.Uid != uid {
			t.Errorf("%s on the export is owned by uid %d, not the user's %d", p, st.Uid, uid)
		}
		if n, _ := unix.Llistxattr(p, make([]byte, 4096)); n > 0 {
			t.Errorf("%s on the export has xattrs", p)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walking the export %s: %v", dir, err)
	}
}
