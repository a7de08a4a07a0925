package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// `husk shell`: an isolated shell over the host, with no image.

// shell runs `husk shell [FLAGS] -- CMD...` from dir (HOME when "").
func (e *env) shell(dir string, flags []string, cmd ...string) result {
	e.t.Helper()
	if dir == "" {
		dir = e.home
	}
	args := append(append([]string{"shell"}, flags...), "--")
	return e.runAt(dir, "", append(args, cmd...)...)
}

func (e *env) shellOut(dir string, flags []string, script string) string {
	e.t.Helper()
	r := e.shell(dir, flags, "sh", "-c", script)
	if r.code != 0 {
		e.t.Errorf("want exit 0: %s", r)
	}
	return strings.TrimRight(r.stdout, "\n")
}

// The host's root is read-only; the user's own ids, no capabilities,
// Docker's seccomp profile and no_new_privs.
func TestShellReadOnlyRootOwnIDs(t *testing.T) {
	e := sandboxEnv(t, "")
	name := "husk-shell-" + randomHex(4)
	for _, p := range []string{"/usr/" + name, "/etc/" + name, "/" + name} {
		r := e.shell("", nil, "touch", p)
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("touch %s: want EROFS: %s", p, r)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s appeared on the host", p)
		}
	}
	out := lines(e.shellOut("", nil, "id -u; id -g; grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; echo $HOME"))
	want := []string{fmt.Sprint(me.UID), fmt.Sprint(os.Getgid()), "CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2", e.home}
	if len(out) < len(want) || !slices.Equal(out[:len(want)], want) {
		t.Errorf("husk shell: got %q, want %q first", out, want)
	}
	e.noLeftovers()
}

// $HOME and the working directory are writable; the rest of the host is not.
func TestShellHomeAndCwdWritable(t *testing.T) {
	e := sandboxEnv(t, "")
	if out := e.shellOut("", nil, "echo home > $HOME/from-shell && cat $HOME/from-shell"); out != "home" {
		t.Errorf("writing $HOME: %q", out)
	}
	checkMine(t, filepath.Join(e.home, "from-shell"), "home\n")

	parent := t.TempDir()
	cwd := filepath.Join(parent, "work")
	if err := os.Mkdir(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	r := e.shell(cwd, nil, "sh", "-c", "pwd; echo cwd > here; touch ../sibling")
	if r.code == 0 || !strings.HasPrefix(r.stdout, cwd+"\n") || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("from %s: want it the cwd, writable, and its parent read-only: %s", cwd, r)
	}
	checkMine(t, filepath.Join(cwd, "here"), "cwd\n")
	if _, err := os.Stat(filepath.Join(parent, "sibling")); err == nil {
		t.Errorf("the shell wrote next to its working directory")
	}
}

// checkMine: the file exists on the host with data, owned by the user.
func checkMine(t *testing.T, path, data string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != data {
		t.Errorf("%s on the host: %q %v, want %q", path, b, err, data)
		return
	}
	if st, err := os.Stat(path); err == nil && int(st.Sys().(*syscall.Stat_t).Uid) != me.UID {
		t.Errorf("%s is owned by uid %d, want %d", path, st.Sys().(*syscall.Stat_t).Uid, me.UID)
	}
}

// --no-home hides the home directory (from a working directory elsewhere).
func TestShellNoHome(t *testing.T) {
	e := sandboxEnv(t, "")
	e.writeFile("secret", []byte("s3cret\n"), 0o600)
	cwd := t.TempDir()
	out := e.shellOut(cwd, []string{"--no-home"}, "ls -A $HOME | wc -l; cat $HOME/secret 2>&1; echo $HOME")
	l := lines(out)
	if len(l) != 3 || l[0] != "0" || strings.Contains(out, "s3cret") || l[2] != e.home {
		t.Errorf("--no-home: want $HOME (%s) empty: %q", e.home, out)
	}
	if out := e.shellOut(cwd, nil, "cat $HOME/secret"); out != "s3cret" {
		t.Errorf("without --no-home the home is there: %q", out)
	}
}

// /tmp is private: empty of the host's files, and nothing written reaches
// the host.
func TestShellPrivateTmp(t *testing.T) {
	e := sandboxEnv(t, "")
	f := hostTmpFile(t)
	inner := "/tmp/husk-shell-inner-" + randomHex(4)
	out := e.shellOut("", nil, "ls -A /tmp; echo x > "+inner+" && echo written")
	if strings.Contains(out, filepath.Base(f)) || !strings.HasSuffix(out, "written") {
		t.Errorf("the shell's /tmp: want it empty and writable: %q", out)
	}
	if _, err := os.Stat(inner); err == nil {
		os.Remove(inner)
		t.Errorf("%s written in the shell reached the host's /tmp", inner)
	}
}

// Its own pid, ipc, uts, mount and network namespaces; no host process
// visible.
func TestShellNamespaces(t *testing.T) {
	e := sandboxEnv(t, "")
	kinds := []string{"pid", "ipc", "uts", "mnt", "net"}
	script := ""
	for _, k := range kinds {
		script += "readlink /proc/self/ns/" + k + "; "
	}
	out := lines(e.shellOut("", nil, script+`for p in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $p; echo; done`))
	if len(out) < len(kinds) {
		t.Fatalf("unexpected output: %q", out)
	}
	for i, k := range kinds {
		if out[i] == hostNS(t, k) {
			t.Errorf("the shell shares the host's %s namespace", k)
		}
	}
	for _, l := range out[len(kinds):] {
		if strings.Contains(l, "integration.test") || strings.Contains(l, "registry") {
			t.Errorf("a host process is visible in the shell: %q", l)
		}
	}
}

// No network unless --network host.
func TestShellNetwork(t *testing.T) {
	e := sandboxEnv(t, "")
	if devs := netDevices(e.shellOut("", nil, "cat /proc/net/dev")); !slices.Equal(devs, []string{"lo"}) {
		t.Errorf("husk shell: want only lo: %q", devs)
	}
	hostDev, _ := os.ReadFile("/proc/net/dev")
	want := netDevices(string(hostDev))
	got := netDevices(e.shellOut("", []string{"--network", "host"}, "cat /proc/net/dev"))
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("husk shell --network host: want %q, got %q", want, got)
	}
}

// --overlay: the root is writable copy-on-write, and the changes are gone
// at exit. Files show as the user's, so even /usr takes changes; what the
// user could not read on the host (/etc/shadow) stays unreadable.
func TestShellOverlay(t *testing.T) {
	e := sandboxEnv(t, "")
	p := "/var/tmp/husk-overlay-" + randomHex(4)
	if r := e.shell("", nil, "touch", p); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("without --overlay, touch %s: want EROFS: %s", p, r)
	}
	out := e.shellOut("", []string{"--overlay"}, "echo changed > "+p+" && cat "+p+" && mkdir "+p+".d && echo ok")
	if out != "changed\nok" {
		t.Errorf("--overlay: want / writable where the user may write: %q", out)
	}
	for _, q := range []string{p, p + ".d"} {
		if _, err := os.Stat(q); err == nil {
			os.RemoveAll(q)
			t.Errorf("--overlay: %s reached the host", q)
		}
	}
	out = e.shellOut("", []string{"--overlay"}, "touch /usr/husk-overlay && echo usr; cat /etc/shadow >/dev/null 2>&1 || echo shadow-denied")
	if out != "usr\nshadow-denied" {
		t.Errorf("--overlay: want /usr writable and /etc/shadow still unreadable: %q", out)
	}
	if _, err := os.Stat("/usr/husk-overlay"); err == nil {
		t.Errorf("--overlay: /usr/husk-overlay reached the host")
	}
	if r := e.shell("", []string{"--overlay"}, "ls", p); r.code == 0 {
		t.Errorf("--overlay: the change survived into the next shell: %s", r)
	}
	// Home stays the real one, writable, under --overlay too.
	e.shellOut("", []string{"--overlay"}, "echo kept > $HOME/overlay-home")
	checkMine(t, filepath.Join(e.home, "overlay-home"), "kept\n")
	e.noLeftovers()
}

// The command's exit code passes through; with no command the shell reads
// standard input.
func TestShellExitCode(t *testing.T) {
	e := sandboxEnv(t, "")
	for _, c := range []struct {
		cmd  []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"false"}, 1},
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"sh", "-c", "kill -TERM $$"}, 143},
		{[]string{"no-such-command-" + randomHex(2)}, 127},
		{[]string{"/etc/passwd"}, 126},
	} {
		if r := e.shell("", nil, c.cmd...); r.code != c.code {
			t.Errorf("husk shell -- %q: want exit %d: %s", c.cmd, c.code, r)
		}
	}
	r := e.runInput("echo $((6*7))\nexit 3\n", "shell")
	if r.code != 3 || strings.TrimSpace(r.stdout) != "42" {
		t.Errorf("husk shell with a script on stdin: want 42 and exit 3: %s", r)
	}
	e.noLeftovers()
}

// A shell started in a directory that is not the user's alone (/tmp, /,
// above $HOME) does not get it writable: from /tmp it starts in its own
// private /tmp, with one line saying so, and the host's /tmp stays out.
func TestShellSharedWorkdir(t *testing.T) {
	e := sandboxEnv(t, "")
	f := hostTmpFile(t)
	inner := "husk-shell-inner-" + randomHex(4)
	r := e.shell("/tmp", nil, "sh", "-c", "pwd; ls -A; echo x > "+inner+" && echo written")
	out := strings.TrimRight(r.stdout, "\n")
	if r.code != 0 || strings.Contains(out, filepath.Base(f)) || out != "/tmp\nwritten" {
		t.Errorf("from /tmp: want the private, empty /tmp as the working directory: %s", r)
	}
	if !strings.Contains(r.stderr, "husk shell: /tmp is not yours alone") {
		t.Errorf("from /tmp: want one line saying the host's /tmp is not handed over: %s", r)
	}
	if _, err := os.Stat("/tmp/" + inner); err == nil {
		os.Remove("/tmp/" + inner)
		t.Errorf("a file written in the shell's /tmp reached the host's /tmp")
	}
	// Above $HOME and at /: read-only, the home itself still writable.
	for _, dir := range []string{filepath.Dir(e.home), "/"} {
		r := e.shell(dir, nil, "sh", "-c", "touch husk-shell-probe; echo ok > $HOME/still-mine && echo home")
		if !strings.Contains(r.stderr, "Read-only file system") || !strings.HasSuffix(strings.TrimSpace(r.stdout), "home") {
			t.Errorf("from %s: want it read-only and $HOME writable: %s", dir, r)
		}
		if _, err := os.Stat(filepath.Join(dir, "husk-shell-probe")); err == nil {
			os.Remove(filepath.Join(dir, "husk-shell-probe"))
			t.Errorf("the shell wrote in %s", dir)
		}
	}
	e.noLeftovers()
}

// hostTmpFile is a file in the host's /tmp, removed after the test.
func hostTmpFile(t *testing.T) string {
	t.Helper()
	f, err := os.CreateTemp("/tmp", "husk-shell-host-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })
	return f.Name()
}

// The shell runs through the same executor as a container: its PID 1 is
// the C init (one thread, no Go runtime, an argv naming only itself), and
// the kernel filesystems and masks it mounts have the same shape as a
// run's.
func TestShellRunsTheExecutor(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	script := `tr '\0' ' ' < /proc/1/cmdline; echo; grep '^Threads:' /proc/1/status; ` +
		`awk '{ for (i = 7; $i != "-"; i++) ; print $5, $(i+1) }' /proc/self/mountinfo`
	shell := lines(e.shellOut("", nil, script))
	r := e.run("run", "--rm", ref, "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("husk run: %s", r)
	}
	run := lines(r.stdout)
	if len(shell) < 2 || len(run) < 2 {
		t.Fatalf("unexpected output: shell %q, run %q", shell, run)
	}
	if strings.TrimSpace(shell[0]) != "husk shell-init" {
		t.Errorf("the shell's PID 1 argv is %q, want only the init's name", shell[0])
	}
	if shell[1] != "Threads:\t1" || run[1] != "Threads:\t1" {
		t.Errorf("PID 1 threads: shell %q, run %q: want the C init's one thread in both", shell[1], run[1])
	}
	// Only what is seen counts: a mount is hidden by a later one on the
	// same directory or above it (the shell's root is a bind of the
	// host's, whose own /dev, /proc and /sys lie under the sandbox's).
	kernel := func(mounts []string) []string {
		var out []string
		for i, m := range mounts {
			f := strings.Fields(m)
			if len(f) != 2 || !(f[0] == "/sys" || within(f[0], "/dev") || within(f[0], "/proc")) {
				continue
			}
			hidden := slices.ContainsFunc(mounts[i+1:], func(later string) bool {
				lf := strings.Fields(later)
				return len(lf) == 2 && within(f[0], lf[0])
			})
			if !hidden {
				out = append(out, m)
			}
		}
		slices.Sort(out)
		return out
	}
	ks, kr := kernel(shell[2:]), kernel(run[2:])
	// Without subuid ranges a run's sandbox also gets apt's config file
	// (the fake-ids filter is on there), which the shell over the host
	// does not need.
	kr = slices.DeleteFunc(kr, func(m string) bool { return strings.HasPrefix(m, "/dev/.husk-apt.conf ") })
	if len(ks) == 0 || !slices.Equal(ks, kr) {
		t.Errorf("kernel filesystems and masks differ:\nshell %q\nrun   %q", ks, kr)
	}
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}
