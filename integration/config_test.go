package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// create resolves -e KEY (from the caller's environment) and --env-file
// once, as Docker does: a later start, from a shell where both changed,
// sees the values of create time.
func TestCreateResolvesEnvOnce(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	file := e.writeFile("vars.env", []byte("FROMFILE=old\nLIST=a,b\n"), 0o600)
	e.vars["FOO"] = "at-create"
	e.out("create", "--name", "envs", "-e", "FOO", "-e", "BAR=x", "--env-file", file, ref, "env")
	e.vars["FOO"] = "at-start"
	e.writeFile("vars.env", []byte("FROMFILE=new\n"), 0o600)
	for i := 0; i < 2; i++ {
		r := e.run("start", "-a", "envs")
		if r.code != 0 {
			t.Fatalf("start -a: %s", r)
		}
		env := lines(r.stdout)
		for _, want := range []string{"FOO=at-create", "BAR=x", "FROMFILE=old", "LIST=a,b"} {
			if !contains(env, want) {
				t.Errorf("start %d: want %s in the container's environment: %q", i+1, want, env)
			}
		}
		for _, l := range env {
			if strings.Contains(l, "at-start") || l == "FROMFILE=new" {
				t.Errorf("start %d: a value changed after create reached the container: %s", i+1, l)
			}
		}
	}
	e.out("rm", "envs")
	e.noLeftovers()
}

// No process husk leaves for a detached container carries its flags in
// argv, which every local user reads (ps, /proc/PID/cmdline) and the
// container reads at /proc/1/cmdline: not a secret given with -e, not a
// host path given with -v.
func TestNoSecretInArgv(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	secret := "husk-secret-" + randomHex(12)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.detached([]string{"--name", "vault", "-e", "DB_PASSWORD=" + secret, "-v", dir + ":/data"}, ref,
		"sh", "-c", `echo "$DB_PASSWORD" > /data/seen; exec sleep 1000`)
	// The secret did reach the container's process, through its config.
	if !eventually(10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "seen"))
		return strings.TrimSpace(string(b)) == secret
	}) {
		t.Fatalf("the container never wrote its DB_PASSWORD to the volume")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	if len(procs) < 3 {
		t.Fatalf("read only %d cmdlines of the host's processes", len(procs))
	}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // ended meanwhile
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	// Inside: PID 1 is husk's init, named by the container alone.
	one := e.out("exec", "vault", "cat", "/proc/1/cmdline")
	if strings.Contains(one, secret) || strings.Contains(one, dir) {
		t.Errorf("the container's /proc/1/cmdline holds the secret or the host path: %q", strings.ReplaceAll(one, "\x00", " "))
	}
	if id := e.out("inspect", "--format", "{{.Id}}", "vault"); !strings.Contains(one, id) {
		t.Errorf("the container's /proc/1/cmdline does not name the container %s: %q", id, strings.ReplaceAll(one, "\x00", " "))
	}
	e.out("rm", "-f", "vault")
	e.noLeftovers()
}

// A flag whose meaning is checked is refused when the container is made:
// one line, exit 125, and no container written.
func TestCreateRefusesBadFlags(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	bad := e.writeFile("profile.json", []byte("{not json"), 0o600)
	long := e.writeFile("long.env", []byte("A=1\nB="+strings.Repeat("x", 2<<20)+"\n"), 0o600)
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"-v", "b@d-name:/x"}, "b@d-name"},
		{[]string{"-p", "99999:80"}, "99999"},
		{[]string{"--security-opt", "seccomp=" + bad}, bad},
		{[]string{"--env-file", long}, "line 2"},
		{[]string{"--label-file", "/dev/zero"}, "/dev/zero"},
	} {
		for _, verb := range [][]string{{"create"}, {"run", "-d"}} {
			args := append(append(append([]string{}, verb...), c.flags...), ref, "true")
			e.wantError(e.run(args...), c.want)
			if out := e.out("ps", "-aq"); out != "" {
				t.Errorf("husk %s: a refused container was written: %q", strings.Join(args, " "), out)
			}
		}
	}
}

// A container an earlier husk wrote (its command line kept, no config)
// is listed and removable; start refuses it with one line that says to
// re-create it.
func TestEarlierRecordRefused(t *testing.T) {
	e, _ := busyboxEnv(t, "")
	id := strings.Repeat("5e", 32)
	dir := filepath.Join(e.home, ".local/share/husk/containers", id)
	e.writeFile(filepath.Join(strings.TrimPrefix(dir, e.home+"/"), "record.json"),
		[]byte(`{"id":"`+id+`","name":"old","image":"busybox","argv":["-e","A=1","busybox","true"],"cwd":"/"}`), 0o600)
	e.writeFile(filepath.Join(strings.TrimPrefix(dir, e.home+"/"), "state.json"), []byte(`{"status":"exited"}`), 0o600)
	if st := e.psStatus("old"); !strings.HasPrefix(st, "old|Exited") {
		t.Errorf("ps -a: want the earlier container listed, got %q", st)
	}
	for _, verb := range []string{"start", "restart"} {
		e.wantError(e.run(verb, "old"), "create it again", "husk rm")
	}
	e.out("rm", "old")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("after rm: %q", out)
	}
}

// A foreground run's init, started by husk (the first runs) or by the
// prelaunch (a repeated run --rm), shows the container nothing of the
// command line at /proc/1/cmdline: the husk run on the host has the
// user's arguments, as docker's CLI does, but its init does not.
func TestForegroundInitArgv(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	secret := "husk-secret-" + randomHex(12)
	dir := t.TempDir()
	args := runArgs([]string{"--rm", "--network", "none", "-e", "SECRET=" + secret, "-v", dir + ":/data"}, ref,
		"sh", "-c", `tr '\0' ' ' < /proc/1/cmdline; echo; echo "$SECRET"`)
	for i := 0; i < 4; i++ {
		out := lines(e.ok(args...).stdout)
		if len(out) != 2 || out[1] != secret {
			t.Fatalf("run %d: want PID 1's cmdline, then the secret the process got: %q", i+1, out)
		}
		if !strings.HasPrefix(out[0], "husk") || strings.Contains(out[0], secret) || strings.Contains(out[0], dir) {
			t.Errorf("run %d: PID 1's cmdline holds more than husk's own: %q", i+1, out[0])
		}
	}
	root := filepath.Join(e.home, ".local", "share", "husk")
	if launches, _ := filepath.Glob(filepath.Join(root, "startcache", "launch-*")); len(launches) == 0 {
		t.Errorf("no launch was written down in %s/startcache: the prelaunch was not tried", root)
	}
	e.noLeftovers()
}
