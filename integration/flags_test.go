package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every repeated flag takes its value whole, commas and all, as Docker's
// do: a comma separates nothing on husk's command line.
func TestCommasStayInValues(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	dir := filepath.Join(e.home, "data,dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	envFile := e.writeFile("env,list", []byte("FROM_FILE=x,y\n"), 0o644)
	profile := e.writeFile("seccomp,profile.json", []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644)

	t.Run("run", func(t *testing.T) {
		out := e.shOut(ref, `echo "$NO_PROXY|$A|${B-unset}|$FROM_FILE"; grep ' /run ' /proc/mounts; grep ' /data ' /proc/mounts; touch /data/f 2>&1; true`,
			"-e", "NO_PROXY=localhost,127.0.0.1,.corp", "-e", "A=1,B=2", "--env-file", envFile,
			"--tmpfs", "/run:rw,noexec,nosuid,size=65536k", "-v", dir+":/data:ro,z",
			"--security-opt", "seccomp="+profile)
		l := lines(out)
		if len(l) < 4 || l[0] != "localhost,127.0.0.1,.corp|1,B=2|unset|x,y" {
			t.Fatalf("want the values whole: %q", out)
		}
		if !strings.Contains(l[1], "size=65536k") || !strings.Contains(l[1], "noexec") {
			t.Errorf("--tmpfs /run:rw,noexec,nosuid,size=65536k: want size and noexec on /run: %q", l[1])
		}
		if !strings.Contains(l[2], " ro,") {
			t.Errorf("-v %s:/data:ro,z: want /data read-only: %q", dir, l[2])
		}
		if !strings.Contains(out, "Read-only file system") {
			t.Errorf("-v ...:ro,z: writing in /data must fail: %q", out)
		}
	})
	t.Run("create", func(t *testing.T) {
		e.out("create", "--name", "commas", "-e", "LIST=a,b,c", ref, "sh", "-c", "echo $LIST")
		if out := e.out("start", "-a", "commas"); out != "a,b,c" {
			t.Errorf("create -e LIST=a,b,c: want a,b,c: %q", out)
		}
		e.out("rm", "commas")
	})
	t.Run("exec", func(t *testing.T) {
		e.detached([]string{"--name", "ex"}, ref, "sleep", "60")
		defer e.out("rm", "-f", "ex")
		if out := e.out("exec", "-e", "LIST=a,b", "ex", "sh", "-c", "echo $LIST"); out != "a,b" {
			t.Errorf("exec -e LIST=a,b: want a,b: %q", out)
		}
		if out := e.out("exec", "--env-file", envFile, "ex", "sh", "-c", "echo $FROM_FILE"); out != "x,y" {
			t.Errorf("exec --env-file %s: want x,y: %q", envFile, out)
		}
		// A filter with a comma is one filter, matching no name.
		if out := e.out("ps", "-a", "-q", "--filter", "name=ex,other"); out != "" {
			t.Errorf("ps --filter name=ex,other: want no container: %q", out)
		}
	})
	// The flags added since: labels, build arguments, a build's labels.
	t.Run("labels-and-build", func(t *testing.T) {
		e.out("create", "--name", "lab", "-l", "list=x,y", ref, "true")
		defer e.out("rm", "lab")
		if out := e.out("inspect", "--format", `{{index .Config.Labels "list"}}`, "lab"); out != "x,y" {
			t.Errorf("-l list=x,y: %q", out)
		}
		dir := filepath.Join(e.home, "commactx")
		e.writeFile("commactx/Dockerfile", []byte("FROM "+ref+"\nARG A\nRUN echo \"$A\" > /a\n"), 0o644)
		e.ok("build", "-q", "-t", "commas:1", "--build-arg", "A=x,y", "--label", "l=p,q", dir)
		if out := e.sbxOut([]string{"--rm"}, "commas:1", "cat", "/a"); out != "x,y" {
			t.Errorf("build --build-arg A=x,y: %q", out)
		}
		if out := e.out("image", "inspect", "--format", `{{index .Config.Labels "l"}}`, "commas:1"); out != "p,q" {
			t.Errorf("build --label l=p,q: %q", out)
		}
	})
	// Values that mean one thing each are refused whole, never half used.
	t.Run("refused", func(t *testing.T) {
		for _, flags := range [][]string{
			{"--cap-add", "CHOWN,KILL"},
			{"-p", "18080:80,18081:81"},
			{"--dns", "127.0.0.1,127.0.0.2"},
		} {
			e.wantRunError(e.sbx(flags, ref, "true"), flags[1])
		}
	})
	e.noLeftovers()
}

// -h is --hostname in run and create, as in Docker; --help still helps.
func TestRunShortHostname(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	if out := e.sbxOut([]string{"-h", "myhost"}, ref, "hostname"); out != "myhost" {
		t.Errorf("run -h myhost: want the hostname myhost: %q", out)
	}
	e.out("create", "--name", "named", "-h", "other", ref, "hostname")
	if out := e.out("start", "-a", "named"); out != "other" {
		t.Errorf("create -h other: want the hostname other: %q", out)
	}
	e.out("rm", "named")
	// -h after the image belongs to the command.
	if out := e.sbxOut(nil, ref, "sh", "-c", "echo $0", "-h"); out != "-h" {
		t.Errorf("want -h after the image passed to the command: %q", out)
	}
	if r := e.run("run", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--hostname") {
		t.Errorf("run --help: want usage and exit 0: %s", r)
	}
	if r := e.run("ps", "-h"); r.code != 0 || !strings.Contains(r.stdout, "Usage: husk ps") {
		t.Errorf("ps -h: want usage and exit 0: %s", r)
	}
	e.noLeftovers()
}

// Bare husk prints its usage and exits 0, as docker does.
func TestBareHuskPrintsUsage(t *testing.T) {
	e := newEnv(t)
	r := e.run()
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: husk <command>") || !strings.Contains(r.stdout, "run") {
		t.Errorf("husk with no arguments: want usage on stdout and exit 0: %s", r)
	}
}
