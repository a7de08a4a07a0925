package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Single-file images (issue 15, item 2): husk image squash writes one
// squashfs file, husk run FILE runs it through husk's own FUSE server
// with the writable layer on the sandbox's tmpfs.

// fileSum is the SHA-256 of a file's bytes.
func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// wantUIDMap checks /proc/self/uid_map as seen in a sandbox: the user
// without ranges has its own uid alone, as root.
func wantUIDMap(t *testing.T, uidMap string) {
	t.Helper()
	l := lines(uidMap)
	if len(l) == 0 {
		t.Fatalf("no uid_map read")
	}
	first := strings.Fields(l[0])
	if len(first) != 3 || first[0] != "0" || first[1] != fmt.Sprint(me.UID) {
		t.Errorf("uid_map %q: want 0 mapped to the user's own uid %d", uidMap, me.UID)
	}
	if !me.Subuid && (len(l) != 1 || first[2] != "1") {
		t.Errorf("without subuid ranges, want only the user's own uid in uid_map: %q", uidMap)
	}
	if me.Subuid && len(l) < 2 {
		t.Errorf("with subuid ranges, want the ranges mapped too: %q", uidMap)
	}
}

// An image squashed to one file runs from it: its config's command and
// environment, exit codes passed, writes going to the sandbox's tmpfs and
// never into the file, and nothing left behind.
func TestSquashRun(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	file := filepath.Join(e.home, "bb.sqsh")
	if got := strings.TrimSpace(e.ok("image", "squash", "-o", file, ref).stdout); got != file {
		t.Errorf("image squash printed %q, want the file %s", got, file)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(e.home, ".bb.sqsh.husk-tmp-*")); len(leftovers) != 0 {
		t.Errorf("image squash left its temporary file: %v", leftovers)
	}
	sum := fileSum(t, file)

	// The image's config travels in the file: its Cmd (sh) reads stdin,
	// its Env and WorkingDir hold.
	r := e.runInput("echo from-config-cmd; pwd; echo $PATH\n", "run", "-i", file)
	if r.code != 0 || r.stdout != "from-config-cmd\n/\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Errorf("the squashed image's own command: %s", r)
	}
	out := e.sbxOut(nil, file, "sh", "-c",
		"cat /proc/self/uid_map; echo ---; echo written > /etc/new && cat /etc/new; echo ---; stat -c %u /home/tester")
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 {
		t.Fatalf("want three parts: %q", out)
	}
	wantUIDMap(t, parts[0])
	if parts[1] != "written\n" {
		t.Errorf("a write inside: %q, want written", parts[1])
	}
	if want := map[bool]string{true: "1000", false: "0"}[me.Subuid]; parts[2] != want {
		t.Errorf("owner of /home/tester: %q, want %s (the image's, squashed to root without ranges)", parts[2], want)
	}
	if r := e.sbx(nil, file, "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("want the command's exit code 7: %s", r)
	}
	// The write went to that sandbox's tmpfs: neither the next run nor
	// the file has it.
	if r := e.sbx(nil, file, "cat", "/etc/new"); r.code == 0 {
		t.Errorf("a write of an earlier run is still there: %s", r)
	}
	if got := fileSum(t, file); got != sum {
		t.Errorf("the squashfs file changed under runs: sha256 %s, was %s", got, sum)
	}
	if r := e.sbx([]string{"--read-only"}, file, "touch", "/x"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("--read-only: want the write refused: %s", r)
	}
	// A relative path runs too (it ends in .sqsh).
	if got := e.sbxOut(nil, "bb.sqsh", "echo", "relative"); got != "relative" {
		t.Errorf("run bb.sqsh: %q", got)
	}
	e.noLeftovers()
	killedRun(t, e, file)
}

// killedRun kills a running husk run --rm of file (supervised by that husk,
// not a monitor) with SIGKILL: its sandbox,
// FUSE server included, ends with it.
func killedRun(t *testing.T, e *env, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.command(ctx, "run", "--rm", file, "sh", "-c", "echo up; exec sleep 600")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "up\n" {
		t.Errorf("the run did not start: %q", line)
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	e.noLeftovers()
}

// The layers image's content survives flattening: owners, modes, setuid,
// hard links, symlinks, whiteouts and an opaque directory, as seen inside
// a sandbox running the squashed file (busybox bound in for the tools).
func TestSquashLayersContent(t *testing.T) {
	e := sandboxEnv(t, "")
	ref := plain.Ref("layers:latest")
	e.pull(ref)
	file := filepath.Join(e.home, "layers.sqsh")
	e.ok("image", "squash", "-o", file, ref)
	tools := filepath.Join(e.home, "tools")
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tools, "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "stat", "readlink", "cat", "ls", "tr", "["} {
		if err := os.Symlink("busybox", filepath.Join(tools, a)); err != nil {
			t.Fatal(err)
		}
	}
	r := e.sbx([]string{"-v", tools + ":/tools:ro", "-e", "PATH=/tools"},
		file, "/tools/sh", "-c", "cd / && "+layersScript)
	if r.code != 0 {
		t.Fatalf("the layers script in the squashed image: %s", r)
	}
	verifyLayersContent(t, r.stdout)
	e.noLeftovers()
}

// An enroot .sqsh (a squashfs of a root filesystem, no config) runs: the
// command given, or /bin/sh.
func TestSquashEnrootFile(t *testing.T) {
	e := sandboxEnv(t, "")
	root := filepath.Join(e.home, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/greeting"), []byte("from enroot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(e.home, "enroot.sqsh")
	if out, err := exec.Command("mksquashfs", root, file, "-noappend", "-quiet", "-all-root").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs (squashfs-tools, installed by prepare.sh): %v: %s", err, out)
	}
	if got := e.sbxOut(nil, file, "cat", "/etc/greeting"); got != "from enroot" {
		t.Errorf("run of the enroot file: %q", got)
	}
	if r := e.runInput("echo default-shell\n", "run", "-i", file); r.code != 0 || r.stdout != "default-shell\n" {
		t.Errorf("run of the enroot file without a command: want /bin/sh: %s", r)
	}
	e.noLeftovers()
}

// Bad input: one line naming what is wrong, exit 125, no file written.
func TestSquashBadInput(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	junk := e.writeFile("junk.sqsh", []byte("not a squashfs\n"), 0o644)
	sif := e.writeFile("image.sif", []byte("SIF\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "./missing.sqsh", "true"}, "no such file"},
		{[]string{"run", junk, "true"}, "not a squashfs or SIF file"},
		{[]string{"run", sif, "true"}, "not a squashfs or SIF file"},
		{[]string{"run", "-d", junk, "true"}, "not a squashfs or SIF file"},
		{[]string{"image", "squash", "-o", filepath.Join(e.home, "no.sqsh"), "nosuch:1"}, "no such image"},
		{[]string{"image", "squash", "-o", filepath.Join(e.home, "nodir", "f.sqsh"), ref}, "does not exist"},
		{[]string{"image", "squash", "-o", e.home, ref}, "is a directory"},
	} {
		e.wantRunError(e.run(c.args...), c.want)
	}
	file := filepath.Join(e.home, "bb.sqsh")
	e.ok("image", "squash", "-o", file, ref)
	e.wantRunError(e.run("run", "-P", file, "true"), "-P is not supported")
	ents, _ := os.ReadDir(e.home)
	for _, d := range ents {
		if strings.Contains(d.Name(), "husk-tmp") || d.Name() == "no.sqsh" {
			t.Errorf("a refused squash left %s", d.Name())
		}
	}
}

// Without mksquashfs (HUSK_MKSQUASHFS=none) husk writes the file itself:
// it runs the same, and a notice names what the file lost.
func TestSquashGoWriter(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.vars["HUSK_MKSQUASHFS"] = "none"
	file := filepath.Join(e.home, "go.sqsh")
	r := e.ok("image", "squash", "-o", file, ref)
	// The image's /tmp is sticky: both users hear of it; only the one
	// with ranges had other owners than root.
	if n := notices(r.stderr); n != 1 || !strings.Contains(r.stderr, "sticky") || strings.Contains(r.stderr, "no owners") != me.Subuid {
		t.Errorf("want one notice naming what the file lost (owners only with ranges): %s", r)
	}
	if got := e.sbxOut(nil, file, "sh", "-c", "cat /etc/group | wc -l; readlink /bin/cat; stat -c %u /home/tester"); got != "3\nbusybox\n0" {
		t.Errorf("run of husk's own squashfs: %q", got)
	}
	e.noLeftovers()
}

// A squashfs file's container under its monitor (run -d, run without
// --rm, create and start): logged, listed with the file's absolute path,
// each start on a fresh tmpfs upper layer; diff, cp, export and commit
// refused in one line.
func TestSquashContainer(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("image", "squash", "-o", filepath.Join(e.home, "bb.sqsh"), ref)
	file := filepath.Join(e.home, "bb.sqsh")
	e.ok("run", "-d", "--name", "sq", "bb.sqsh", "sh", "-c", "cat /etc/mark 2>/dev/null || echo fresh; echo kept > /etc/mark")
	e.ok("wait", "sq")
	e.ok("start", "-a", "sq")
	if got := e.out("logs", "sq"); got != "fresh\nfresh" {
		t.Errorf("logs of two starts: %q, want fresh twice (each start on a new tmpfs upper)", got)
	}
	if got := e.out("ps", "-a", "--format", "{{.Image}}", "--filter", "name=sq"); got != file {
		t.Errorf("ps shows image %q, want %s", got, file)
	}
	for _, args := range [][]string{{"diff", "sq"}, {"export", "-o", filepath.Join(e.home, "x.tar"), "sq"}, {"commit", "sq", "x:1"}} {
		e.wantError(e.run(args...), "squashfs file")
	}
	if r := e.run("run", "--name", "sq2", file, "sh", "-c", "exit 5"); r.code != 5 {
		t.Errorf("run without --rm: want the command's exit 5: %s", r)
	}
	e.ok("rm", "sq", "sq2")
	e.noLeftovers()
}

// A repeated run --rm of a squashfs file starts from the prelaunch (its
// launch is written down once, by the run from its node copy, then
// followed), and a file made again at
// the same path voids it: the new file's config holds.
func TestSquashPrelaunch(t *testing.T) {
	e := sandboxEnv(t, "")
	squashed := func(greeting string) string {
		t.Helper()
		img, err := mutate.Config(images.Busybox, v1.Config{Env: []string{"PATH=/bin", "GREETING=" + greeting}, Cmd: []string{"sh"}})
		if err != nil {
			t.Fatal(err)
		}
		ref := plain.Ref("greeting:" + randomHex(4))
		if err := plain.Push(strings.TrimPrefix(ref, plain.Addr+"/"), img); err != nil {
			t.Fatal(err)
		}
		e.pull(ref)
		out := filepath.Join(e.home, greeting+".sqsh")
		e.ok("image", "squash", "-o", out, ref)
		return out
	}
	file := filepath.Join(e.home, "greeting.sqsh")
	if err := os.Rename(squashed("first"), file); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(e.home, ".local", "share", "husk")
	if r := e.vars["HUSK_ROOT"]; r != "" {
		root = r
	}
	args := []string{"run", "--rm", "--network", "none", file, "sh", "-c", "echo $GREETING"}
	for i := 0; i < 2; i++ {
		if out := e.ok(args...).stdout; out != "first\n" {
			t.Fatalf("run %d: %q, want first", i, out)
		}
		// The first run has the file's node copy made, and writes no
		// launch (its root is FUSE's until the copy is there); the second
		// runs from the copy and writes its launch.
		waitUnpacks(t, root)
	}
	before := launchTimes(root)
	if len(before) == 0 {
		t.Fatalf("no launch was written down in %s/startcache", root)
	}
	if out := e.ok(args...).stdout; out != "first\n" {
		t.Errorf("the prelaunched run: %q, want first", out)
	}
	if after := launchTimes(root); !maps.Equal(before, after) {
		t.Errorf("the third run wrote its launch again (not prelaunched): %v, was %v", after, before)
	}
	if err := os.Rename(squashed("second"), file); err != nil {
		t.Fatal(err)
	}
	if out := e.ok(args...).stdout; out != "second\n" {
		t.Errorf("the run of the file made again: %q, want second (the new file's config)", out)
	}
	e.noLeftovers()
}

// launchTimes are the prelaunch's launch files under root, with the times
// they were last written: a run that reused its launch leaves them as
// they were.
func launchTimes(root string) map[string]time.Time {
	m := map[string]time.Time{}
	ls, _ := filepath.Glob(filepath.Join(root, "startcache", "launch-*"))
	for _, l := range ls {
		if st, err := os.Stat(l); err == nil {
			m[l] = st.ModTime()
		}
	}
	return m
}
