package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// `husk run` of an image missing from the store pulls it first, as
// `docker run` does, then runs it.
func TestRunPullsMissingImage(t *testing.T) {
	e := sandboxEnv(t, "")
	ref := plain.Ref("busybox:latest")
	r := e.run("run", ref, "echo", "hello from busybox")
	if r.code != 0 || r.stdout != "hello from busybox\n" {
		t.Fatalf("want the echo's line and exit 0: %s", r)
	}
	if !strings.Contains(r.stderr, "Unable to find image") {
		t.Errorf("want Docker's \"Unable to find image\" line on stderr: %s", r)
	}
	wantOnlyImage(t, e, images.Busybox)
	// Now present: no second pull.
	r = e.run("run", ref, "true")
	if r.code != 0 || strings.Contains(r.stderr, "Unable to find image") {
		t.Errorf("second run: want exit 0 and no pull: %s", r)
	}
	e.noLeftovers()
}

// The root filesystem, with each strategy: the image's content, writable
// with changes discarded at exit, --read-only, -w made when missing,
// volumes, tmpfs, the generated /etc files.
func TestRunRootfs(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		t.Run("content", func(t *testing.T) {
			out := e.shOut(ref, "cat /etc/passwd; ls /bin/busybox; ls -ld /home/tester | awk '{print $3}'")
			for _, w := range []string{"tester:x:1000:1000", "/bin/busybox"} {
				if !strings.Contains(out, w) {
					t.Errorf("want %q in the image's root: %q", w, out)
				}
			}
			// Files of uid 1000 keep their owner where there are ranges;
			// the single mapping squashes them to root.
			owner := lines(out)[len(lines(out))-1]
			if want := map[bool]string{true: "tester", false: "root"}[me.Subuid]; owner != want {
				t.Errorf("/home/tester is owned by %q, want %q (subuid ranges: %v)", owner, want, me.Subuid)
			}
		})
		t.Run("writable-and-discarded", func(t *testing.T) {
			out := e.shOut(ref, "echo changed > /etc/motd && cat /etc/motd && rm /bin/wc && mkdir /newdir && echo ok")
			if out != "changed\nok" {
				t.Errorf("want the root writable: %q", out)
			}
			out = e.shOut(ref, "ls /etc/motd /newdir 2>&1; ls /bin/wc")
			if strings.Contains(out, "changed") || !strings.Contains(out, "/bin/wc") || strings.Count(out, "No such file") != 2 {
				t.Errorf("a second run must start from the image again: %q", out)
			}
		})
		t.Run("read-only", func(t *testing.T) {
			r := e.sbx([]string{"--read-only"}, ref, "touch", "/x")
			if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
				t.Errorf("--read-only: touch /x must fail with EROFS: %s", r)
			}
			// The kernel filesystems Docker leaves writable stay so.
			if out := e.shOut(ref, "echo x > /dev/shm/f && cat /dev/shm/f", "--read-only"); out != "x" {
				t.Errorf("--read-only: /dev/shm must stay writable: %q", out)
			}
		})
		t.Run("workdir-created", func(t *testing.T) {
			if out := e.sbxOut([]string{"-w", "/does/not/exist"}, ref, "pwd"); out != "/does/not/exist" {
				t.Errorf("-w a missing directory: want it made and used: %q", out)
			}
		})
		t.Run("volumes", func(t *testing.T) { checkVolumes(t, e, ref) })
		t.Run("tmpfs", func(t *testing.T) {
			out := e.shOut(ref, "echo x > /scratch/f && cat /scratch/f && cat /proc/self/mountinfo", "--tmpfs", "/scratch:size=1m")
			m, ok := mountAt(parseMountinfo(out), "/scratch")
			if !ok || m.FSType != "tmpfs" || !strings.Contains(m.Super, "size=1024k") || !strings.HasPrefix(out, "x\n") {
				t.Errorf("--tmpfs /scratch:size=1m: want a writable 1 MB tmpfs there: %+v\n%s", m, out)
			}
		})
		t.Run("etc-files", func(t *testing.T) { checkEtcFiles(t, e, ref) })
		t.Run("exec-codes", func(t *testing.T) {
			for _, c := range []struct {
				cmd  []string
				code int
			}{
				{[]string{"/etc/passwd"}, 126}, // not executable
				{[]string{"/etc"}, 126},        // a directory
				{[]string{"no-such-command"}, 127},
				{[]string{"/no/such/file"}, 127},
			} {
				r := e.sbx(nil, ref, c.cmd...)
				if r.code != c.code || len(errorLines(r.stderr)) != 1 || !strings.Contains(r.stderr, c.cmd[0]) {
					t.Errorf("%s: want exit %d and one line naming it: %s", c.cmd[0], c.code, r)
				}
			}
		})
	})
}

// checkVolumes: -v rw and ro, a single file, and ownership on the host.
func checkVolumes(t *testing.T, e *env, ref string) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "from-host"), []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "single")
	if err := os.WriteFile(file, []byte("one file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.shOut(ref, "cat /data/from-host && echo written > /data/from-ctr && cat /one && echo more >> /one",
		"-v", dir+":/data", "-v", file+":/one:rw")
	if out != "host data\none file" {
		t.Errorf("rw volumes: %q", out)
	}
	p := filepath.Join(dir, "from-ctr")
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "written\n" {
		t.Errorf("a file written in a rw volume must appear on the host: %q %v", data, err)
	} else if st, err := os.Stat(p); err == nil {
		// Root inside is the user on the host.
		if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != me.UID {
			t.Errorf("%s is owned by uid %d on the host, want %d (the user)", p, uid, me.UID)
		}
	}
	if data, _ := os.ReadFile(file); string(data) != "one file\nmore\n" {
		t.Errorf("a single-file volume: the host file reads %q", data)
	}
	r := e.sbx([]string{"-v", dir + ":/data:ro"}, ref, "sh", "-c", "cat /data/from-host; touch /data/nope")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") || r.stdout != "host data\n" {
		t.Errorf("a ro volume: want it readable and a write refused with EROFS: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Errorf("a write through a ro volume reached the host")
	}
	// A host path that does not exist is made a directory, as Docker does.
	made := filepath.Join(t.TempDir(), "made", "here")
	if out := e.shOut(ref, "echo in > /made/f && cat /made/f", "-v", made+":/made"); out != "in" {
		t.Errorf("-v with a missing host path: %q", out)
	}
	if st, err := os.Stat(made); err != nil || !st.IsDir() || int(st.Sys().(*syscall.Stat_t).Uid) != me.UID {
		t.Errorf("-v %s: want it made a directory of the user's on the host: %v", made, err)
	}
	checkMine(t, filepath.Join(made, "f"), "in\n")
}

// checkEtcFiles: /etc/hosts, /etc/hostname and /etc/resolv.conf are
// generated (the busybox image has none) and name the container.
func checkEtcFiles(t *testing.T, e *env, ref string) {
	out := e.shOut(ref, "hostname; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; cat /proc/self/mountinfo")
	parts := strings.Split(out, "---\n")
	if len(parts) != 5 {
		t.Fatalf("unexpected output: %q", out)
	}
	host := strings.TrimSpace(parts[0])
	if strings.TrimSpace(parts[1]) != host {
		t.Errorf("/etc/hostname %q, hostname %q", parts[1], host)
	}
	if !strings.Contains(parts[2], "localhost") || !strings.Contains(parts[2], host) {
		t.Errorf("/etc/hosts must name localhost and %s: %q", host, parts[2])
	}
	// The default network's own resolver, which forwards to the host's.
	if strings.TrimSpace(parts[3]) != "nameserver 10.0.2.3" {
		t.Errorf("/etc/resolv.conf: got %q, want the builtin network's resolver 10.0.2.3", parts[3])
	}
	ms := parseMountinfo(parts[4])
	for _, f := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if _, ok := mountAt(ms, f); !ok {
			t.Errorf("%s is not a generated file bound in (no mount there)", f)
		}
	}
}

// configImage is busybox with an entrypoint, a cmd, an environment and a
// working directory that is not in the image, pushed under a fresh name.
func configImage(t *testing.T, edit func(*v1.Config)) string {
	t.Helper()
	cf, err := images.Busybox.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(&cf.Config)
	img, err := mutate.ConfigFile(images.Busybox, cf)
	if err != nil {
		t.Fatal(err)
	}
	repo := "config-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	return plain.Ref(repo)
}

// The image's entrypoint, cmd, env and working directory; overriding each.
func TestRunImageConfig(t *testing.T) {
	e := sandboxEnv(t, "")
	ref := configImage(t, func(c *v1.Config) {
		c.Entrypoint = []string{"/bin/sh", "-c", `echo "entry $0 $1 FOO=$FOO PWD=$(pwd) uid=$(id -u)"`}
		c.Cmd = []string{"cmd-arg0", "cmd-arg1"}
		c.Env = append(c.Env, "FOO=from-image", "BAR=kept")
		c.WorkingDir = "/srv/work"
	})
	e.pull(ref)
	cases := []struct {
		name  string
		flags []string
		cmd   []string
		want  string
	}{
		{"image", nil, nil, "entry cmd-arg0 cmd-arg1 FOO=from-image PWD=/srv/work uid=0"},
		{"cmd replaced", nil, []string{"x", "y"}, "entry x y FOO=from-image PWD=/srv/work uid=0"},
		{"-e overrides", []string{"-e", "FOO=from-flag"}, nil, "entry cmd-arg0 cmd-arg1 FOO=from-flag PWD=/srv/work uid=0"},
		{"-w overrides", []string{"-w", "/tmp"}, nil, "entry cmd-arg0 cmd-arg1 FOO=from-image PWD=/tmp uid=0"},
		// A new entrypoint drops the image's cmd, as in Docker.
		{"--entrypoint", []string{"--entrypoint", "/bin/echo"}, nil, ""},
		{"--entrypoint and cmd", []string{"--entrypoint", "/bin/echo"}, []string{"a", "b"}, "a b"},
	}
	for _, c := range cases {
		if got := e.sbxOut(c.flags, ref, c.cmd...); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	env := e.sbxOut([]string{"--entrypoint", "env"}, ref)
	for _, w := range []string{"BAR=kept", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"} {
		if !contains(lines(env), w) {
			t.Errorf("want %s in the environment: %q", w, env)
		}
	}
	e.noLeftovers()
}

// The image's User is honoured; without subuid ranges a non-root user is
// one clear line, exit 125.
func TestRunImageUser(t *testing.T) {
	e := sandboxEnv(t, "")
	ref := configImage(t, func(c *v1.Config) { c.User = "tester" })
	e.pull(ref)
	r := e.sbx(nil, ref, "sh", "-c", "id -u; id -g; echo $HOME")
	if me.Subuid {
		if r.code != 0 || r.stdout != "1000\n1000\n/home/tester\n" {
			t.Errorf("image User tester: want uid and gid 1000 and HOME /home/tester: %s", r)
		}
	} else {
		e.wantRunError(r, "tester", "subordinate")
	}
	// -u overrides the image's user, and root always works.
	if out := e.sbxOut([]string{"-u", "0"}, ref, "id", "-u"); out != "0" {
		t.Errorf("-u 0 over the image's user: %q", out)
	}
}

// -u: a name from the image's /etc/passwd, a uid, user:group.
func TestRunUser(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	script := "echo $(id -u) $(id -g) $HOME"
	if out := e.shOut(ref, script, "-u", "root"); out != "0 0 /root" {
		t.Errorf("-u root: %q", out)
	}
	cases := []struct{ user, want string }{
		{"tester", "1000 1000 /home/tester"},
		{"1000", "1000 1000 /home/tester"},
		{"tester:nogroup", "1000 65534 /home/tester"},
		{"1000:65534", "1000 65534 /home/tester"},
		{"nobody", "65534 65534 /nonexistent"},
		{"4242", "4242 0 /"}, // a uid the image does not name: gid 0, as Docker
	}
	for _, c := range cases {
		r := e.sbx([]string{"-u", c.user}, ref, "sh", "-c", script)
		if me.Subuid {
			if r.code != 0 || strings.TrimSpace(r.stdout) != c.want {
				t.Errorf("-u %s: want %q: %s", c.user, c.want, r)
			}
			continue
		}
		// Only uid 0 is mapped: one line that names the user and the fix.
		e.wantRunError(r, c.user, "subordinate")
	}
	if me.Subuid {
		// A non-root user has no effective capabilities, as in Docker.
		st := e.sbxOut([]string{"-u", "tester"}, ref, "cat", "/proc/self/status")
		if v := statusField(st, "CapEff"); v != "0000000000000000" {
			t.Errorf("-u tester: CapEff %s, want 0000000000000000", v)
		}
		if v := statusField(st, "CapBnd"); v != dockerCaps {
			t.Errorf("-u tester: CapBnd %s, want %s", v, dockerCaps)
		}
	}
}

// -e, --env-file: values, KEY alone takes the host's, comments skipped,
// later wins; HOSTNAME is set; the host's own environment does not leak.
func TestRunEnv(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.vars["HUSK_TEST_PASSED"] = "from-host"
	file := e.writeFile("env.list", []byte("# a comment\n\nFROM_FILE=file value\nOVERRIDDEN=file\nHUSK_TEST_PASSED\n"), 0o644)
	out := e.sbxOut([]string{"--env-file", file, "-e", "A=1", "-e", "OVERRIDDEN=flag", "-e", "EMPTY=", "-e", "UNSET_ON_HOST"}, ref, "env")
	env := lines(out)
	for _, w := range []string{"FROM_FILE=file value", "OVERRIDDEN=flag", "A=1", "EMPTY=", "HUSK_TEST_PASSED=from-host", "HOME=/root"} {
		if !contains(env, w) {
			t.Errorf("want %s: %q", w, env)
		}
	}
	for _, l := range env {
		for _, leak := range []string{"UNSET_ON_HOST", markVar, "HUSK_", "USER=", "LOGNAME="} {
			if strings.HasPrefix(l, leak) && l != "HUSK_TEST_PASSED=from-host" {
				t.Errorf("%s reached the sandbox", l)
			}
		}
	}
	// HOSTNAME names the container, as in Docker.
	if out := lines(e.shOut(ref, "echo $HOSTNAME; hostname")); len(out) != 2 || out[0] != out[1] {
		t.Errorf("$HOSTNAME must be the hostname: %q", out)
	}
}

// --userns=keep-id: the user's own uid and gid inside, files written in a
// volume are the user's.
func TestRunKeepID(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	dir := t.TempDir()
	out := e.shOut(ref, "id -u; id -g; touch /data/mine; ls -ln /data/mine | awk '{print $3}'", "--userns=keep-id", "-v", dir+":/data")
	want := fmt.Sprintf("%d\n%d\n%d", me.UID, os.Getgid(), me.UID)
	if out != want {
		t.Errorf("--userns=keep-id: got %q, want %q", out, want)
	}
	if st, err := os.Stat(filepath.Join(dir, "mine")); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != me.UID {
		t.Errorf("a file made with keep-id must be the user's on the host: %v", err)
	}
}

// -i passes standard input; without it the process reads nothing.
func TestRunInteractive(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	r := e.runInput("hi\nthere\n", runArgs([]string{"-i"}, ref, "cat")...)
	if r.code != 0 || r.stdout != "hi\nthere\n" {
		t.Errorf("echo hi | husk run -i IMG cat: %s", r)
	}
	r = e.runInput("hi\n", runArgs(nil, ref, "cat")...)
	if r.code != 0 || r.stdout != "" {
		t.Errorf("without -i, stdin must be empty: %s", r)
	}
	// A command that reads to the end sees EOF when the input ends.
	r = e.runInput("a\nb\nc\n", runArgs([]string{"-i"}, ref, "wc", "-l")...)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("-i with wc -l: %s", r)
	}
}

// --rm and --name are accepted (containers leave nothing behind yet).
func TestRunRmName(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	if out := e.sbxOut([]string{"--rm", "--name", "web-" + randomHex(3)}, ref, "echo", "ok"); out != "ok" {
		t.Errorf("--rm --name: %q", out)
	}
	e.noLeftovers()
}
