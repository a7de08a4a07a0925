package integration

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// From inside a container with default flags, each of these must fail.
// Where a flag opens the door (--privileged, seccomp=unconfined), the same
// attempt is made once more to show the test itself can succeed: what
// stops it by default is husk's confinement, not a broken test.
func TestIsolation(t *testing.T) {
	e, ref := busyboxEnv(t, "")

	t.Run("mount", func(t *testing.T) {
		for _, fs := range [][]string{{"-t", "tmpfs", "none", "/tmp"}, {"-t", "proc", "proc", "/tmp"}, {"--bind", "/bin", "/tmp"}} {
			r := e.sbx(nil, ref, append([]string{"mount"}, fs...)...)
			if r.code == 0 {
				t.Errorf("mount %q succeeded with default flags: %s", fs, r)
			}
		}
		res := helperResults(t, e, ref, nil, "mount")
		if !strings.Contains(res["mount"], "operation not permitted") {
			t.Errorf("mount(2): want EPERM, got %q", res["mount"])
		}
		if res := helperResults(t, e, ref, []string{"--privileged"}, "mount"); res["mount"] != "ok" {
			t.Errorf("control: with --privileged mount(2) of a tmpfs should work: %q", res["mount"])
		}
	})

	t.Run("proc-kcore", func(t *testing.T) {
		r := e.sbx(nil, ref, "sh", "-c", "head -c 64 /proc/kcore | wc -c")
		if strings.TrimSpace(r.stdout) != "0" {
			t.Errorf("/proc/kcore gave bytes: %s", r)
		}
	})

	t.Run("proc-sys-write", func(t *testing.T) {
		for _, f := range []string{"/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname", "/proc/sys/vm/drop_caches", "/proc/sys/net/ipv4/ip_forward"} {
			r := e.sbx(nil, ref, "sh", "-c", "echo 1 > "+f)
			if r.code == 0 {
				t.Errorf("writing %s succeeded: %s", f, r)
			}
		}
	})

	t.Run("syscalls", func(t *testing.T) {
		calls := []string{"keyctl", "add_key", "kexec_load", "open_by_handle_at", "unshare-user"}
		res := helperResults(t, e, ref, nil, calls...)
		for _, c := range calls {
			if res[c] == "ok" || res[c] == "" {
				t.Errorf("%s: allowed with default flags (%q)", c, res[c])
			} else if !strings.Contains(res[c], "operation not permitted") {
				t.Errorf("%s: want EPERM from Docker's profile, got %q", c, res[c])
			}
		}
		// Control: keyrings work in a user namespace once seccomp is off.
		res = helperResults(t, e, ref, []string{"--security-opt", "seccomp=unconfined"}, "keyctl", "add_key")
		for _, c := range []string{"keyctl", "add_key"} {
			if res[c] != "ok" {
				t.Errorf("control: %s with seccomp=unconfined should work: %q", c, res[c])
			}
		}
	})

	t.Run("host-processes", func(t *testing.T) {
		out := e.shOut(ref, `for p in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $p; echo; done; ls -d /proc/[0-9]* | wc -l`)
		for _, l := range lines(out) {
			for _, host := range []string{"integration.test", "registry", "runuser", "systemd"} {
				if strings.Contains(l, host) {
					t.Errorf("the host's process is visible: %q", l)
				}
			}
		}
		// The test's own pid: a number the sandbox's few processes do not reach.
		if r := e.sbx(nil, ref, "kill", "-0", strconv.Itoa(os.Getpid())); r.code == 0 && os.Getpid() > 10 {
			t.Errorf("kill -0 %d (the test process) succeeded from inside: %s", os.Getpid(), r)
		}
	})

	t.Run("host-file", func(t *testing.T) {
		// A file of the user's on the host, which root in the sandbox would
		// be allowed to write if it could reach it.
		dir := t.TempDir()
		victim := filepath.Join(dir, "victim")
		if err := os.WriteFile(victim, []byte("original\n"), 0o666); err != nil {
			t.Fatal(err)
		}
		script := "ls " + victim + " 2>&1; mkdir -p " + dir + " && echo pwned > " + victim + "; " +
			"echo pwned > /proc/1/root" + victim + " 2>/dev/null; echo pwned > /proc/self/root/../.." + victim + " 2>/dev/null; true"
		out := e.shOut(ref, script)
		if !strings.Contains(out, "No such file") {
			t.Errorf("the host's %s is visible in the sandbox: %q", victim, out)
		}
		if data, _ := os.ReadFile(victim); string(data) != "original\n" {
			t.Errorf("the sandbox wrote a host file outside any volume: %q", data)
		}
		// The same with a volume of a sibling directory: only the volume
		// is reachable.
		vol := t.TempDir()
		e.shOut(ref, "echo pwned > /vol/../"+filepath.Base(dir)+"/victim 2>/dev/null; echo pwned > /vol/../../"+filepath.Base(dir)+"/victim 2>/dev/null; true", "-v", vol+":/vol")
		if data, _ := os.ReadFile(victim); string(data) != "original\n" {
			t.Errorf("the sandbox wrote a host file outside its volume: %q", data)
		}
	})

	t.Run("host-devices", func(t *testing.T) {
		// Beyond the minimal /dev: absent, and not makeable with mknod.
		for _, dev := range []string{"/dev/sda", "/dev/vda", "/dev/kmsg", "/dev/mem", "/dev/fuse", "/dev/net/tun", "/dev/tty0"} {
			r := e.sbx(nil, ref, "sh", "-c", "head -c 1 "+dev+" >/dev/null")
			if r.code == 0 {
				t.Errorf("opened %s from inside: %s", dev, r)
			}
		}
		r := e.sbx(nil, ref, "sh", "-c", "busybox mknod /tmp/kmsg c 1 11 && head -c 1 /tmp/kmsg")
		if r.code == 0 {
			t.Errorf("made and read /dev/kmsg with mknod: %s", r)
		}
		r = e.sbx(nil, ref, "sh", "-c", "busybox mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem")
		if r.code == 0 {
			t.Errorf("made and read /dev/mem with mknod: %s", r)
		}
	})

	t.Run("seccomp-and-caps", func(t *testing.T) {
		st := e.sbxOut(nil, ref, "cat", "/proc/self/status")
		if v := statusField(st, "Seccomp"); v != "2" {
			t.Errorf("grep Seccomp /proc/self/status: %s, want 2", v)
		}
		for _, k := range []string{"CapPrm", "CapEff", "CapBnd"} {
			if v := statusField(st, k); v != dockerCaps {
				t.Errorf("%s %s, want Docker's default %s", k, v, dockerCaps)
			}
		}
	})
	e.noLeftovers()
}

// The escapes tried in issue 19 that fail today, kept failing: system calls
// a container must not have (pivot_root, bpf, perf_event_open,
// userfaultfd, io_uring), and TIOCSTI, which pushes input into the
// terminal on stdin: from run and exec without -t on the user's terminal,
// the host's shell would read it.
func TestEscapesStayClosed(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	calls := []string{"pivot_root", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup"}
	res := helperResults(t, e, ref, nil, calls...)
	for _, c := range calls {
		if res[c] == "ok" || res[c] == "" {
			t.Errorf("%s: allowed with default flags (%q)", c, res[c])
		}
	}
	e.detached(append([]string{"--name", "box"}, helperVolume(t)...), ref, "sleep", "600")
	for _, args := range [][]string{
		append(append([]string{"run", "--rm", "-i"}, helperVolume(t)...), ref, helperPath, "tiocsti"),
		{"exec", "-i", "box", helperPath, "tiocsti"},
		{"exec", "box", helperPath, "tiocsti"},
	} {
		tm := e.startTerm(24, 80, args...)
		m := tm.waitFor(`tiocsti: ([^\r\n]+)`, time.Minute)
		if code := tm.exit(time.Minute); code != 0 {
			t.Errorf("husk %s: exit %d; the terminal shows %q", strings.Join(args, " "), code, tm.text())
		}
		if m[1] == "ok" {
			t.Errorf("husk %s: TIOCSTI pushed input into the user's terminal", strings.Join(args, " "))
		}
		t.Logf("husk %s: TIOCSTI: %s", strings.Join(args, " "), m[1])
	}
	e.ok("rm", "-f", "box")

	// An abstract socket of the host's network namespace (X11's, a
	// session bus's) is out of reach of a container on its own network.
	name := "@husk-test-abstract-" + randomHex(6)
	l, err := net.Listen("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "host\n")
			c.Close()
		}
	}()
	if got := unixAsk(name); got != "host" {
		t.Fatalf("control: the test's own abstract socket answered %q", got)
	}
	for _, network := range []string{"builtin", "none"} {
		out := e.sbxOut(append([]string{"--rm", "--network", network}, helperVolume(t)...), ref, helperPath, "unix-ask", name)
		if strings.Contains(out, ": host") {
			t.Errorf("--network %s: a container reached the host's abstract socket %s: %q", network, name, out)
		}
	}
	e.noLeftovers()
}
