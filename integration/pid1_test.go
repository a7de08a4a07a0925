package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The container's PID 1 is husk's init, tried as an attacker inside the
// container would (issue 12, item 8): with CAP_SYS_PTRACE it still cannot
// be traced, its command line holds nothing of the host's, and its
// environment, descriptors and binary are out of reach.

// The helper's calls for these tests.
var _ = func() int {
	helperCalls["ptrace-init"] = func() error {
		err := unix.PtraceAttach(1)
		if err == nil {
			// Let PID 1 go on: its stop first, then the detach.
			var ws unix.WaitStatus
			_, _ = unix.Wait4(1, &ws, unix.WALL, nil)
			_ = unix.PtraceDetach(1)
		}
		return err
	}
	helperCalls["unix-socket"] = unixSocketRoundTrip
	helperCalls["setuid-wait"] = func() error {
		// A root entrypoint that switches to an unprivileged user, as
		// gosu does, then waits for its stop signal.
		if err := syscall.Setresuid(1000, 1000, 1000); err != nil {
			return err
		}
		time.Sleep(time.Hour)
		return nil
	}
	return 0
}()

func unixSocketRoundTrip() error {
	path := filepath.Join(os.TempDir(), "husk-test.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			_, _ = c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, 2)
	if _, err := c.Read(b); err != nil || string(b) != "hi" {
		return fmt.Errorf("read %q: %v", b, err)
	}
	return nil
}

// pid1Probe is what the container's process finds of its PID 1, then
// what it can still do itself: a volume, a copy-up, renames and links
// across directories, truncation, devices, a unix socket.
const pid1Probe = `echo "cmdline=$(tr '\0' ' ' </proc/1/cmdline)"
for f in environ maps mem; do cat /proc/1/$f >/dev/null 2>&1 && echo $f=readable || echo $f=refused; done
fd=refused; for f in $(ls /proc/1/fd 2>/dev/null); do readlink /proc/1/fd/$f >/dev/null 2>&1 && fd=readable; done; echo fd=$fd
readlink /proc/1/exe >/dev/null 2>&1 && echo exe=readable || echo exe=refused
/husk-test-helper ptrace-init unix-socket
echo v > /data/f && mkdir /data/d && mv /data/f /data/d/f && ln /data/d/f /data/g && : > /data/g && echo volume=ok
echo x >> /etc/passwd && mkdir -p /tmp/a /tmp/b && echo t > /tmp/a/f && mv /tmp/a/f /tmp/b/f && echo files=ok
echo z > /dev/null && head -c 4 /dev/zero | wc -c | sed 's/^/dev=/'`

func TestPID1CannotBeReached(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	vol := t.TempDir()
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	const secret = "HUSK_SECRET_VALUE_5a1e"
	flags := append([]string{"--rm", "--cap-add", "SYS_PTRACE", "-e", "TOKEN=" + secret, "-v", vol + ":/data"},
		helperVolume(t)...)
	// The first run finds the image, the second writes its launch down,
	// the third is prelaunched: both ways of starting PID 1.
	for i := 0; i < 3; i++ {
		for _, d := range []string{"d", "g"} {
			os.RemoveAll(filepath.Join(vol, d))
		}
		out := e.sbxOut(flags, ref, "sh", "-c", pid1Probe)
		got := map[string]string{}
		for _, l := range lines(out) {
			if k, v, ok := strings.Cut(l, "="); ok {
				got[k] = v
			} else if k, v, ok := strings.Cut(l, ": "); ok {
				got[k] = v
			}
		}
		if c := strings.TrimSpace(got["cmdline"]); c != "husk" && !strings.HasPrefix(c, "husk container-init ") {
			t.Errorf("run %d: /proc/1/cmdline: want husk's own words alone, got %q", i, c)
		}
		if strings.Contains(out, secret) || strings.Contains(out, vol) {
			t.Errorf("run %d: the container saw a -e value or a volume's host path of PID 1's:\n%s", i, out)
		}
		for _, k := range []string{"environ", "maps", "mem", "fd", "exe"} {
			if got[k] != "refused" {
				t.Errorf("run %d: /proc/1/%s: want refused, got %q", i, k, got[k])
			}
		}
		if p := got["ptrace-init"]; !strings.Contains(p, "operation not permitted") {
			t.Errorf("run %d: ptrace attach to PID 1 with CAP_SYS_PTRACE: want operation not permitted, got %q", i, p)
		}
		want := map[string]string{"unix-socket": "ok", "volume": "ok", "files": "ok", "dev": "4"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("run %d: %s: want %q, got %q (the workload must work as before)\n%s", i, k, v, got[k], out)
			}
		}
	}
}

// From the host, the init of a running container holds no host file but
// the ones it needs, and shows nothing of the command line or the
// environment it came from.
func TestPID1HoldsNothingOfTheHost(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	vol := t.TempDir()
	const secret = "HUSK_SECRET_VALUE_77b0"
	e.detached([]string{"--name", "idle", "-e", "TOKEN=" + secret, "-v", vol + ":/data"}, ref, "sleep", "300")
	defer e.run("rm", "-f", "idle")
	pid := e.inspect("idle").State.Pid
	dir := fmt.Sprintf("/proc/%d", pid)
	for _, f := range []string{"cmdline", "environ"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("reading %s/%s: %v", dir, f, err)
		}
		s := strings.Trim(strings.ReplaceAll(string(b), "\x00", " "), " ")
		if f == "cmdline" && (!strings.HasPrefix(s, "husk container-init ") || strings.Contains(s, secret) || strings.Contains(s, vol)) {
			t.Errorf("the init's cmdline: want husk's own words alone, got %q", s)
		}
		if f == "environ" && s != "" {
			t.Errorf("the init's environ: want it blank, got %q", s)
		}
	}
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		t.Fatalf("listing %s/fd: %v", dir, err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if !pid1MayHold(target) {
			t.Errorf("the init holds %s open (fd %s): want pipes, sockets, devices and its image's in-use lock only", target, fd.Name())
		}
	}
}

// pid1MayHold: what the init needs: its stdio and status (pipes, a pty),
// its network socket, its signalfd, its maps for one trim, and the lock
// that marks its image in use for rmi.
func pid1MayHold(target string) bool {
	for _, p := range []string{"pipe:", "socket:", "anon_inode:", "/dev/", "/proc/"} {
		if strings.HasPrefix(target, p) {
			return true
		}
	}
	return strings.Contains(target, "/inuse/")
}

// After its lockdown PID 1 still forwards the stop signal to a process
// that switched to an unprivileged user, as a root entrypoint does with
// gosu (CAP_KILL is the one capability it keeps).
func TestPID1SignalsAnUnprivilegedProcess(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	if !me.Subuid {
		// Without subordinate ranges only uid 0 is mapped: no process can
		// switch to another, and the foreground check below still runs.
		r := e.sbx(helperVolume(t), ref, "sh", "-c", "sleep 1.5; kill -TERM $$")
		if r.code != 143 {
			t.Errorf("want 143 from a process killed by its own signal: %s", r)
		}
		return
	}
	e.detached(append([]string{"--name", "switched"}, helperVolume(t)...), ref, helperPath, "setuid-wait")
	defer e.run("rm", "-f", "switched")
	time.Sleep(time.Second)
	start := time.Now()
	e.out("stop", "switched")
	if code := e.out("wait", "switched"); code != "143" {
		t.Errorf("stop of a process that switched to uid 1000: want 143 (SIGTERM forwarded), got %s", code)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stop took %v: the SIGTERM did not reach the process", d)
	}
}

// A process that keeps CAP_SYS_ADMIN may still mount: its Landlock domain
// scopes abstract sockets instead of handling file rights, which would
// refuse every mount. PID 1 stays out of its reach all the same.
func TestPID1DomainLeavesMountsToSysAdmin(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	res := helperResults(t, e, ref, []string{"--rm", "--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE"}, "mount", "ptrace-init")
	if res["mount"] != "ok" {
		t.Errorf("mount with CAP_SYS_ADMIN: want ok, got %q", res["mount"])
	}
	if p := res["ptrace-init"]; !strings.Contains(p, "operation not permitted") {
		t.Errorf("ptrace attach to PID 1 with CAP_SYS_ADMIN and CAP_SYS_PTRACE: want operation not permitted, got %q", p)
	}
}

// A process that `husk exec` starts in a container given CAP_SYS_PTRACE
// meets the same walls as the container's own: it goes through the same
// privilege drop and Landlock domain, so PID 1 stays out of its reach.
func TestExecCannotReachPID1(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached(append([]string{"--name", "traced", "--cap-add", "SYS_PTRACE"}, helperVolume(t)...), ref, "sleep", "300")
	defer e.run("rm", "-f", "traced")
	r := e.run("exec", "traced", helperPath, "ptrace-init")
	if !strings.Contains(r.stdout+r.stderr, "operation not permitted") {
		t.Errorf("ptrace attach to PID 1 from an exec'd process with CAP_SYS_PTRACE: want operation not permitted, got %s", r)
	}
	out := e.out("exec", "traced", "sh", "-c",
		`for f in environ maps mem; do cat /proc/1/$f >/dev/null 2>&1 && echo $f=readable || echo $f=refused; done
readlink /proc/1/exe >/dev/null 2>&1 && echo exe=readable || echo exe=refused`)
	for _, k := range []string{"environ", "maps", "mem", "exe"} {
		if !strings.Contains(out, k+"=refused") {
			t.Errorf("/proc/1/%s from an exec'd process: want refused, got:\n%s", k, out)
		}
	}
}
