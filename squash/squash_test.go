package squash

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestIsPath(t *testing.T) {
	for ref, want := range map[string]bool{
		"/srv/images/app.sqsh": true, "./x": true, "../x": true, "app.sqsh": true, "dir/app.squashfs": true,
		"x.sif": true, "alpine": false, "docker.io/library/alpine:3": false, "localhost:5000/a/b": false,
		"ubuntu@sha256:abc": false,
	} {
		if got := IsPath(ref); got != want {
			t.Errorf("IsPath(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestDefaultName(t *testing.T) {
	for ref, want := range map[string]string{
		"alpine": "alpine.sqsh", "docker.io/library/alpine:3.20": "alpine_3.20.sqsh",
		"localhost:5000/a/b@sha256:00": "b.sqsh",
	} {
		if got := DefaultName(ref); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.sqsh")
	if err := os.WriteFile(junk, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{junk, filepath.Join(dir, "missing.sqsh"), filepath.Join(dir, "a.sif"), dir, filepath.Join(dir, "a,b.sqsh")} {
		if _, err := Check(f); err == nil {
			t.Errorf("Check(%s): want an error", f)
		}
	}
}

// The Go writer's file, read back through the FUSE tree's attributes:
// symlinks (a dangling one too), modes, the config. It keeps no setuid,
// setgid or sticky bits (standIn reports them lost); the reading of those
// bits is shown by integration's TestSquashLayersContent on mksquashfs's
// file.
func TestWriteGoReadBack(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	mk := func(p string, mode os.FileMode, data string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("bin/suid", 0o755|os.ModeSetuid, "#!/bin/sh\n")
	mk(ConfigPath, 0o644, `{"config":{"Cmd":["run-me"],"Env":["A=b"]}}`)
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/mounts", filepath.Join(root, "mtab")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out.sqsh")
	t.Setenv("TMPDIR", tmp) // writeGo sets it for its process; restored after
	if _, err := writeGo(root, tmp, out); err != nil {
		t.Fatal(err)
	}
	img, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Config.Cmd) != 1 || img.Config.Cmd[0] != "run-me" {
		t.Errorf("config: %+v", img.Config)
	}
	sq, f, _, err := open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &tree{sq: sq}
	gofs.NewNodeFS(tr, &gofs.Options{}) // calls OnAdd
	if tr.err != nil {
		t.Fatal(tr.err)
	}
	want := map[string]uint32{"bin/suid": syscall.S_IFREG | 0o755, "tmp": syscall.S_IFDIR | 0o777, "mtab": syscall.S_IFLNK | 0o777}
	for p, mode := range want {
		c := lookupPath(tr, p)
		if c == nil {
			t.Errorf("%s: missing", p)
			continue
		}
		var got uint32
		switch n := c.Operations().(type) {
		case *regular:
			got = n.attr.Mode
		case *other:
			got = n.attr.Mode
		case *dir:
			got = n.attr.Mode
		case *symlink:
			got = n.Attr.Mode
			if string(n.Data) != "/proc/mounts" {
				t.Errorf("mtab -> %q", n.Data)
			}
		}
		if got != mode {
			t.Errorf("%s: mode %o, want %o", p, got, mode)
		}
	}
}

func TestStandInReportsLosses(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	lost, err := standIn(root, filepath.Join(tmp, "links"), filepath.Join(tmp, "empty"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "setuid, setgid and sticky bits"; lost != want {
		t.Errorf("lost %q, want %q", lost, want)
	}
}

// lookupPath looks p up from the root as the kernel would, one name at a
// time: directories are read as they are looked in.
func lookupPath(tr *tree, p string) *gofs.Inode {
	in := &tr.Inode
	for _, name := range strings.Split(p, "/") {
		l, ok := in.Operations().(gofs.NodeLookuper)
		if !ok {
			return nil
		}
		var out fuse.EntryOut
		ch, errno := l.Lookup(context.Background(), name, &out)
		if errno != 0 {
			return nil
		}
		in = ch
	}
	return in
}
