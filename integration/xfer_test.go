package integration

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// changeScript changes, adds and deletes files of busybox's root.
const changeScript = `set -e
echo changed > /etc/passwd
rm /etc/group
mkdir /new
echo made > /new/f
ln -s /etc /new/link`

// TestCommitDiff: a container that changed, added and deleted files; diff
// lists them as Docker does, commit makes an image of them (the deleted
// file stays deleted in a run of it) with -c CMD, under every strategy.
func TestCommitDiff(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		e.ok("run", "--name", "c1", ref, "sh", "-c", changeScript)
		got := lines(e.ok("diff", "c1").stdout)
		want := []string{"C /etc", "C /etc/passwd", "D /etc/group", "A /new", "A /new/f", "A /new/link"}
		e.ok("run", "--name", "quiet", ref, "true")
		if d := e.ok("diff", "quiet").stdout; d != "" {
			t.Errorf("diff of a container that changed nothing: want nothing, got %q", d)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("diff c1: want %q, got %q", want, got)
		}
		r := e.ok("commit", "-c", `CMD ["cat", "/etc/passwd"]`, "-m", "my change", "c1", "committed:1")
		if l := lines(r.stdout); len(l) != 1 || !strings.HasPrefix(l[0], "sha256:") {
			t.Errorf("commit: want the new image's ID: %s", r)
		}
		if out := e.sbxOut(nil, "committed:1"); out != "changed" {
			t.Errorf("run of the committed image with its CMD: want %q, got %q", "changed", out)
		}
		script := `test ! -e /etc/group && echo gone; cat /new/f; readlink /new/link`
		if out := e.shOut("committed:1", script); out != "gone\nmade\n/etc" {
			t.Errorf("committed files: got %q", out)
		}
		if h := e.ok("history", "committed:1").stdout; !strings.Contains(h, "my change") {
			t.Errorf("history: want the commit message: %s", h)
		}
		// A directory deleted and made again hides the image's files in it
		// (an opaque directory in the layer).
		e.ok("run", "--name", "opq", ref, "sh", "-c", "rm -rf /home && mkdir /home && touch /home/new")
		e.ok("commit", "opq", "opaque:1")
		if out := e.shOut("opaque:1", "ls /home"); out != "new" {
			t.Errorf("a directory made again: want only its new file, got %q", out)
		}
	})
}

// TestCommitRunning commits a running container (paused while read) and
// pushes the result, which another store pulls and runs.
func TestCommitRunning(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("run", "-d", "--name", "live", "-e", "RUNENV=r", "-w", "/tmp", ref, "sh", "-c", "echo live > /live; sleep 300")
	defer e.run("rm", "-f", "live")
	waitFor(t, 10*time.Second, func() bool { return e.run("cp", "live:/live", "-").code == 0 })
	target := plain.Ref("committed-" + me.Name + ":latest")
	e.ok("commit", "-c", "ENV MARK=1", "live", target)
	// As Docker's: the run's command, -e and -w become the image's.
	got := e.ok("image", "inspect", "--format", "{{json .Config.Cmd}} {{.Config.WorkingDir}}", target).stdout
	if strings.TrimSpace(got) != `["sh","-c","echo live \u003e /live; sleep 300"] /tmp` && strings.TrimSpace(got) != `["sh","-c","echo live > /live; sleep 300"] /tmp` {
		t.Errorf("the committed config: want the run's command and -w: %q", got)
	}
	if out := e.shOut(target, "echo $RUNENV"); out != "r" {
		t.Errorf("the committed config: want the run's -e: %q", out)
	}
	if out := e.shOut(target, "cat /live; echo $MARK"); out != "live\n1" {
		t.Errorf("run of a running container's commit: got %q", out)
	}
	if out := e.ok("exec", "live", "echo", "still"); strings.TrimSpace(out.stdout) != "still" {
		t.Errorf("the container runs on after commit: %s", out)
	}
	e.pushDigest(target)
	other := newEnv(t)
	other.pull(target)
	if out := other.shOut(target, "cat /live"); out != "live" {
		t.Errorf("the pushed commit, pulled elsewhere: got %q", out)
	}
}

// TestCp copies both ways by Docker's path rules, through tars on stdin
// and stdout, under every strategy.
func TestCp(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		e.ok("run", "--name", "c", ref, "sh", "-c", "mkdir -p /data/sub && echo in > /data/sub/f && ln -s sub/f /data/link")
		e.ok("cp", "c:/data/sub", "out1")
		wantFile(t, filepath.Join(e.home, "out1/f"), "in\n")
		os.Mkdir(filepath.Join(e.home, "out2"), 0o755)
		e.ok("cp", "c:/data/sub/.", "out2")
		wantFile(t, filepath.Join(e.home, "out2/f"), "in\n")
		e.ok("cp", "c:/data/sub", "out2")
		wantFile(t, filepath.Join(e.home, "out2/sub/f"), "in\n")
		e.ok("cp", "-L", "c:/data/link", "linked")
		wantFile(t, filepath.Join(e.home, "linked"), "in\n")
		e.ok("cp", "c:/data/link", "asis")
		if l, err := os.Readlink(filepath.Join(e.home, "asis")); err != nil || l != "sub/f" {
			t.Errorf("cp of a link without -L: want the link sub/f, got %q %v", l, err)
		}
		if names := tarNames(t, e.ok("cp", "c:/data/sub", "-").stdout); !slices.Equal(names, []string{"sub/", "sub/f"}) {
			t.Errorf("cp to -: want a tar of sub/, got %q", names)
		}

		e.writeFile("hostdir/h", []byte("host\n"), 0o640)
		e.ok("cp", "hostdir/h", "c:/data/")
		e.ok("cp", "hostdir", "c:/data/newdir")
		e.runInput(tarOf(t, "piped", "p\n"), "cp", "-", "c:/data")
		if out := e.ok("cp", "c:/data", "-").stdout; !slices.Equal(tarNames(t, out), []string{
			"data/", "data/h", "data/link", "data/newdir/", "data/newdir/h", "data/piped", "data/sub/", "data/sub/f"}) {
			t.Errorf("after copies in: %q", tarNames(t, out))
		}
		e.ok("commit", "c", "cp-result")
		if out := e.shOut("cp-result", "stat -c '%a %u' /data/h; cat /data/newdir/h /data/piped"); out != "640 0\nhost\np" {
			t.Errorf("copied in: got %q", out)
		}

		e.wantError(e.run("cp", "c:/nothing", "x"), "nothing")
		e.wantError(e.run("cp", "hostdir", "c:/data/h"), "directory")
		e.wantError(e.run("cp", "hostdir/h", "c:/absent/dir/"), "does not exist")
		e.wantError(e.run("cp", "a", "b"), "CONTAINER:PATH")
	})
}

// TestCpEscape: symlinks in the container that point at host paths, or
// climb out of the root, resolve inside the container: nothing of the
// host is read or written.
func TestCpEscape(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	secret := e.writeFile("secret/key", []byte("host secret\n"), 0o644)
	victim := filepath.Join(e.home, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "ln -s ../../../../../.. /up && ln -s " + filepath.Dir(secret) + " /sec && ln -s " + victim + " /vic && ln -s /etc /etclink"
	e.ok("run", "--name", "esc", ref, "sh", "-c", script)

	e.ok("cp", "esc:/up/etc/passwd", "passwd")
	if b, _ := os.ReadFile(filepath.Join(e.home, "passwd")); !strings.Contains(string(b), "tester:x:1000") {
		t.Errorf("cp of ../../ links: want the container's /etc/passwd, got %q", b)
	}
	if r := e.run("cp", "esc:/sec/key", "stolen"); r.code == 0 {
		if b, _ := os.ReadFile(filepath.Join(e.home, "stolen")); strings.Contains(string(b), "host secret") {
			t.Errorf("cp through a link to a host path read the host's file")
		}
	}
	if r := e.run("cp", "-L", "esc:/sec", "stolen2"); r.code == 0 {
		if _, err := os.Stat(filepath.Join(e.home, "stolen2/key")); err == nil {
			t.Errorf("cp -L of a link to a host directory copied the host's directory")
		}
	}
	e.writeFile("payload", []byte("x\n"), 0o644)
	e.run("cp", "payload", "esc:/vic/")
	e.run("cp", "payload", "esc:/up/"+strings.TrimPrefix(victim, "/")+"/p2")
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("cp into links to a host directory wrote on the host: %v", ents)
	}
	e.ok("cp", "payload", "esc:/etclink/")
	if out := e.ok("cp", "esc:/etc/payload", "-").stdout; !slices.Equal(tarNames(t, out), []string{"payload"}) {
		t.Errorf("cp into a link to /etc: want it in the container's /etc: %q", tarNames(t, out))
	}
}

// TestExportImport: a container's filesystem exported and imported again
// keeps modes, owners (as far as the mapping allows), symlinks and hard
// links; -c and -m apply; bad input leaves no image.
func TestExportImport(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	owner := "1000:1000"
	if !me.Subuid {
		owner = "0:0" // one id mapped: every file is ours
	}
	// chown before chmod: chown clears the setuid bit.
	e.ok("run", "--name", "x", ref, "sh", "-c", `set -e; mkdir /x; echo a > /x/a; chown `+owner+` /x/a
chmod 4751 /x/a; ln /x/a /x/hard; ln -s a /x/sym; chmod 700 /x`)
	e.ok("container", "export", "-o", "x.tar", "x") // Docker's management form
	f, err := os.Open(filepath.Join(e.home, "x.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdrs := tarHeaders(t, f)
	if h := hdrs["x/a"]; h == nil || h.Mode&0o7777 != 0o4751 || h.Uid != atoi(owner) {
		t.Errorf("export: x/a: want mode 4751 owner %s, got %+v", owner, h)
	}
	if h := hdrs["x/hard"]; h == nil || h.Typeflag != tar.TypeLink {
		t.Errorf("export: x/hard: want a hard link, got %+v", h)
	}
	if h := hdrs["x/sym"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "a" {
		t.Errorf("export: x/sym: want a symlink to a, got %+v", h)
	}
	if hdrs["bin/busybox"] == nil || hdrs["etc/passwd"] == nil {
		t.Errorf("export: want the image's files too")
	}

	e.ok("import", "-c", `CMD ["sh", "-c", "stat -c '%a %u:%g %h' /x/a; readlink /x/sym; stat -c %a /x"]`, "-m", "imported", "x.tar", "imported:1")
	want := "4751 " + owner + " 2\na\n700"
	if out := e.sbxOut(nil, "imported:1"); out != want {
		t.Errorf("run of the imported image: want %q, got %q", want, out)
	}
	b, _ := os.ReadFile(filepath.Join(e.home, "x.tar"))
	r := e.runInput(string(b), "image", "import", "-", "imported:2") // Docker's management form
	if r.code != 0 || !strings.Contains(e.ok("history", "imported:1").stdout, "imported") {
		t.Errorf("import from stdin: %s", r)
	}

	before := len(e.imageIDs())
	e.writeFile("junk", []byte("not a tar at all, not a tar at all"), 0o644)
	e.wantError(e.run("import", "junk", "bad:1"), "tar")
	e.wantError(e.run("import", "-c", "RUN true", "x.tar", "bad:2"), "RUN")
	e.wantError(e.runInput(tarOf(t, "../escape", "x"), "import", "-", "bad:3"), "../escape")
	e.wantError(e.runInput(tarOf(t, "f", strings.Repeat("x", 2000))[:1200], "import", "-", "bad:4"), "tar")
	e.wantError(e.run("import", "x.tar", "Bad Name"), "image name")
	e.wantError(e.run("export", "nosuch"), "nosuch")
	if after := len(e.imageIDs()); after != before {
		t.Errorf("bad imports left images: %d before, %d after", before, after)
	}
	if r := e.run("images", "bad"); strings.Contains(r.stdout, "bad") {
		t.Errorf("a bad import left a name: %s", r)
	}
}

// TestCommitBad: bad input is one line, exit 125, and no image or name.
func TestCommitBad(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("run", "--name", "c", ref, "true")
	before := len(e.imageIDs())
	e.wantError(e.run("commit", "-c", "RUN true", "c", "bad:1"), "RUN", "CMD")
	e.wantError(e.run("commit", "-c", "NOSUCH x", "c", "bad:2"), "NOSUCH")
	e.wantError(e.run("commit", "c", "Bad:Name:x"), "image name")
	e.wantError(e.run("commit", "nosuch", "bad:3"), "nosuch")
	e.wantError(e.run("diff", "nosuch"), "nosuch")
	if after := len(e.imageIDs()); after != before {
		t.Errorf("bad commits left images: %d before, %d after", before, after)
	}
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Errorf("%s: want %q, got %q (%v)", path, want, b, err)
	}
}

func atoi(owner string) int {
	n := 0
	for _, c := range strings.Split(owner, ":")[0] {
		n = n*10 + int(c-'0')
	}
	return n
}

func tarHeaders(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = h
	}
}

func tarNames(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(strings.NewReader(s))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		out = append(out, h.Name)
	}
	slices.Sort(out)
	return out
}

func tarOf(t *testing.T, name, data string) string {
	t.Helper()
	var b strings.Builder
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
