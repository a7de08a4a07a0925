package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCpRunning copies out of and into a running container, under every
// strategy: what goes in is what its processes see (read back through
// husk exec), a destination under a -v bind lands in the bind's source,
// -a keeps owners as the mapping allows; once stopped, cp still works.
func TestCpRunning(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		bind := filepath.Join(e.home, "bound")
		if err := os.Mkdir(bind, 0o755); err != nil {
			t.Fatal(err)
		}
		e.ok("run", "-d", "--name", "r", "-v", bind+":/mnt", "-v", "named:/vol", "--tmpfs", "/scratch", ref, "sh", "-c",
			"echo live > /live; echo invol > /vol/v; mkdir /scratch/d; echo intmpfs > /scratch/d/t; sleep 300")
		defer e.run("rm", "-f", "r")
		waitFor(t, 10*time.Second, func() bool { return e.run("cp", "r:/scratch/d", "fromtmpfs").code == 0 })
		e.ok("cp", "r:/live", "live")
		wantFile(t, filepath.Join(e.home, "live"), "live\n")
		// Out of a running container's volume and tmpfs: its own mounts.
		e.ok("cp", "r:/vol/v", "fromvol")
		wantFile(t, filepath.Join(e.home, "fromvol"), "invol\n")
		wantFile(t, filepath.Join(e.home, "fromtmpfs", "t"), "intmpfs\n")
		if out := e.ok("cp", "r:/vol/v", "-").stdout; !strings.Contains(out, "invol") {
			t.Errorf("cp of a running container's volume file to stdout: %q", tarNames(t, out))
		}
		e.wantError(e.run("cp", "r:/no/such", "x"), "/no/such", "no such file")

		e.writeFile("f", []byte("file\n"), 0o640)
		e.writeFile("d/sub/g", []byte("deep\n"), 0o644)
		copyIntoRunning(t, e, bind)

		e.ok("stop", "-t", "1", "r")
		e.writeFile("after", []byte("stopped\n"), 0o644)
		e.ok("cp", "after", "r:/tmp/")
		if out := e.ok("cp", "r:/tmp/after", "-").stdout; !strings.Contains(out, "stopped") {
			t.Errorf("cp into the stopped container: read back %q", tarNames(t, out))
		}
	})
}

// copyIntoRunning copies into the running container r, whose /mnt is
// bound to bind, and reads the copies back through husk exec.
func copyIntoRunning(t *testing.T, e *env, bind string) {
	t.Helper()
	e.ok("cp", "f", "r:/tmp/")
	e.ok("cp", "d", "r:/srv")
	e.ok("cp", "f", "r:/mnt/inbind")
	got := e.ok("exec", "r", "sh", "-c", "cat /tmp/f /srv/sub/g /mnt/inbind; stat -c '%a %u' /tmp/f").stdout
	if got != "file\ndeep\nfile\n640 0\n" {
		t.Errorf("copied into the running container, read through exec: %q", got)
	}
	wantFile(t, filepath.Join(bind, "inbind"), "file\n")

	e.runInput(ownedTar(t, "owned", 1000), "cp", "-a", "-", "r:/tmp")
	e.runInput(ownedTar(t, "plain", 1000), "cp", "-", "r:/tmp")
	want := "0 0" // one uid mapped: every owner squashed to root
	if me.Subuid {
		want = "1000 0"
	}
	if got := strings.TrimSpace(e.ok("exec", "r", "sh", "-c", "stat -c %u /tmp/owned /tmp/plain | tr '\\n' ' '").stdout); got != want {
		t.Errorf("cp -a of a tar owned by 1000, then without -a: want owners %q, got %q", want, got)
	}
}

// TestCpRunningEscape: links in a running container that point at host
// paths, or climb out of its root, resolve inside it: a copy into one
// writes nothing on the host.
func TestCpRunningEscape(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		victim := filepath.Join(e.home, "victim")
		if err := os.Mkdir(victim, 0o755); err != nil {
			t.Fatal(err)
		}
		script := "ln -s ../../../../../.. /up && ln -s " + victim + " /vic && ln -s /etc /etclink && sleep 300"
		e.ok("run", "-d", "--name", "esc", ref, "sh", "-c", script)
		defer e.run("rm", "-f", "esc")
		waitFor(t, 10*time.Second, func() bool { return e.run("exec", "esc", "test", "-L", "/etclink").code == 0 })

		e.writeFile("payload", []byte("x\n"), 0o644)
		e.wantError(e.run("cp", "payload", "esc:/vic/"), "does not exist")
		e.run("cp", "payload", "esc:/vic")
		e.run("cp", "payload", "esc:/up/"+strings.TrimPrefix(victim, "/")+"/p2")
		e.runInput(tarOf(t, "piped", "p\n"), "cp", "-", "esc:/vic")
		if ents, _ := os.ReadDir(victim); len(ents) != 0 {
			t.Errorf("cp into links to a host directory wrote on the host: %v", ents)
		}
		e.ok("cp", "payload", "esc:/etclink/")
		if out := e.ok("exec", "esc", "cat", "/etc/payload").stdout; out != "x\n" {
			t.Errorf("cp into a link to /etc: want it in the container's /etc: %q", out)
		}
	})
}

// TestCpRunningRefused: a paused container, and a read-only root, refuse
// a copy in one line; a copy under a writable volume of the read-only
// one works.
func TestCpRunningRefused(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.writeFile("f", []byte("f\n"), 0o644)
	e.ok("run", "-d", "--name", "ro", "--read-only", "-v", "vol:/vol", ref, "sleep", "300")
	defer e.run("rm", "-f", "ro")
	waitFor(t, 10*time.Second, func() bool { return e.run("exec", "ro", "true").code == 0 })
	e.wantError(e.run("cp", "f", "ro:/etc/"), "read-only", "volumes")
	e.ok("cp", "f", "ro:/vol/")
	if out := e.ok("exec", "ro", "cat", "/vol/f").stdout; out != "f\n" {
		t.Errorf("cp under a volume of a read-only container: read back %q", out)
	}
	e.ok("pause", "ro")
	e.wantError(e.run("cp", "f", "ro:/vol/g"), "paused", "unpause")
	e.ok("unpause", "ro")
	e.ok("cp", "f", "ro:/vol/g")
}

// ownedTar is a tar of one file owned by uid.
func ownedTar(t *testing.T, name string, uid int) string {
	t.Helper()
	var b strings.Builder
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 2, Uid: uid, Gid: uid, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("o\n")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
