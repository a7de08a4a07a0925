package nsenter_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"husk/sandbox"
	"husk/sandbox/nsenter"
)

// The test binary is also every process the tests start: envMode picks the
// part it plays, in TestMain, before any test runs.
const (
	envMode  = "NSENTER_TEST_MODE"
	hostname = "husk-nsenter-test"
)

var namespaces = []string{"user", "mnt", "pid", "uts", "ipc", "net"}

func TestMain(m *testing.M) {
	switch mode := os.Getenv(envMode); mode {
	case "":
		os.Exit(m.Run())
	case "target":
		target()
	default:
		helper(mode)
	}
}

// target plays a container's PID 1: its own /proc and hostname, and
// undumpable, as husk's sandbox init is.
func target() {
	steps := []struct {
		name string
		fn   func() error
	}{
		{"making mounts private", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		{"mounting /proc", func() error {
			return unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}},
		{"setting the hostname", func() error { return unix.Sethostname([]byte(hostname)) }},
		{"making it undumpable", func() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			fmt.Fprintf(os.Stderr, "target: %s: %v\n", st.name, err)
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	for {
		unix.Pause()
	}
}

type report struct {
	NS       map[string]string
	Pid      int
	Ppid     int
	ProcSelf string
	Uid      int
	Hostname string
	Cwd      string
	Env      []string // the whole environment: the spec's alone
	Args     []string
}

// helper is a process started with nsenter.Command: it reports, or shows
// how signals and exits reach the caller.
func helper(mode string) {
	switch mode {
	case "report":
		r := report{NS: map[string]string{}, Pid: os.Getpid(), Ppid: os.Getppid(), Uid: os.Getuid()}
		for _, ns := range namespaces {
			r.NS[ns], _ = os.Readlink("/proc/self/ns/" + ns)
		}
		r.ProcSelf, _ = os.Readlink("/proc/self")
		r.Hostname, _ = os.Hostname()
		r.Cwd, _ = os.Getwd()
		r.Env, r.Args = os.Environ(), os.Args[1:]
		json.NewEncoder(os.Stdout).Encode(r)
		os.Exit(7)
	case "sigterm":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		select {
		case <-c:
			os.Exit(3)
		case <-time.After(30 * time.Second):
			os.Exit(4)
		}
	case "sigkill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(30 * time.Second)
		os.Exit(4)
	case "stop":
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		os.Exit(5)
	case "orphan":
		fmt.Println("ready")
		time.Sleep(30 * time.Second)
		os.Exit(4)
	case "sigint":
		// Counts the SIGINTs that one Ctrl-C brings: 10+n.
		c := make(chan os.Signal, 8)
		signal.Notify(c, syscall.SIGINT)
		fmt.Println("ready")
		select {
		case <-c:
		case <-time.After(30 * time.Second):
			os.Exit(4)
		}
		n := 1
		for deadline := time.After(time.Second); ; {
			select {
			case <-c:
				n++
				continue
			case <-deadline:
			}
			break
		}
		os.Exit(10 + n)
	}
	fmt.Fprintf(os.Stderr, "helper: unknown mode %q\n", mode)
	os.Exit(100)
}

// startTarget starts target() in new user, mount, pid, uts, ipc and net
// namespaces, its root mapped to this process's uid, and kills it (by pid)
// when the test ends.
func startTarget(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envMode+"=target")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the target: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if line := readLine(t, out); line != "ready" {
		t.Fatalf("target said %q, not ready", line)
	}
	return cmd.Process.Pid
}

// readLine reads one line from r, failing after 20s.
func readLine(t *testing.T, r io.Reader) string {
	t.Helper()
	c := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		c <- strings.TrimSpace(line)
	}()
	select {
	case line := <-c:
		return line
	case <-time.After(20 * time.Second):
		t.Fatal("no line in 20s")
		return ""
	}
}

// command is nsenter.Command(pid) running this test binary in the helper
// mode, with the caller's ids.
func command(t *testing.T, pid int, mode string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return specCommand(t, pid, &sandbox.Spec{Args: []string{exe, "arg one", ""}, Env: []string{envMode + "=" + mode},
		Cwd: "/", KeepID: true})
}

// specCommand is nsenter.Command(pid) running s.
func specCommand(t *testing.T, pid int, s *sandbox.Spec) *exec.Cmd {
	t.Helper()
	b, err := s.EncodeExec(false)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := nsenter.Command(pid, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.ExtraFiles[0].Close() })
	return cmd
}

// exitCode waits for cmd (started) and returns its code; the C parent
// must exit, never die of a signal.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		t.Fatalf("the C parent died of %v", ws.Signal())
	}
	return ws.ExitStatus()
}

func TestExec(t *testing.T) {
	pid := startTarget(t)

	t.Run("namespaces", func(t *testing.T) {
		cmd := command(t, pid, "report")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("exit: %v, want code 7; stderr: %s", err, stderr.String())
		}
		var r report
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("report %q: %v", out, err)
		}
		t.Logf("report: %+v", r)
		for _, ns := range namespaces {
			want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if err != nil {
				t.Fatal(err)
			}
			own, _ := os.Readlink("/proc/self/ns/" + ns)
			if want == own {
				t.Fatalf("the target shares this test's %s namespace: nothing to see", ns)
			}
			if r.NS[ns] != want {
				t.Errorf("%s namespace: %s, want the target's %s", ns, r.NS[ns], want)
			}
		}
		if r.Pid <= 1 || r.Pid > 1000 {
			t.Errorf("pid %d, want a small pid of the container's namespace", r.Pid)
		}
		if r.ProcSelf != strconv.Itoa(r.Pid) {
			t.Errorf("/proc/self is %q, want %d: not the container's /proc", r.ProcSelf, r.Pid)
		}
		if r.Ppid != 0 {
			t.Errorf("ppid %d, want 0: the C parent is outside the pid namespace", r.Ppid)
		}
		if r.Uid != 0 {
			t.Errorf("uid %d, want 0 (the container's root)", r.Uid)
		}
		if r.Hostname != hostname {
			t.Errorf("hostname %q, want %q", r.Hostname, hostname)
		}
		if r.Cwd != "/" {
			t.Errorf("cwd %q, want /", r.Cwd)
		}
		if want := []string{envMode + "=report"}; !reflect.DeepEqual(r.Env, want) {
			t.Errorf("environment %q, want the spec's alone, %q", r.Env, want)
		}
		if want := []string{"arg one", ""}; !reflect.DeepEqual(r.Args, want) {
			t.Errorf("arguments %q, want the spec's, %q", r.Args, want)
		}
	})

	t.Run("sigterm relayed", func(t *testing.T) {
		cmd := command(t, pid, "sigterm")
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line := readLine(t, out); line != "ready" {
			t.Fatalf("helper said %q", line)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitCode(t, cmd); code != 3 {
			t.Errorf("exit code %d, want 3 (the child's, after SIGTERM)", code)
		}
	})

	t.Run("killed child is 137", func(t *testing.T) {
		cmd := command(t, pid, "sigkill")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if code := exitCode(t, cmd); code != 128+9 {
			t.Errorf("exit code %d, want 137", code)
		}
	})

	t.Run("stops with the child", func(t *testing.T) {
		cmd := command(t, pid, "stop")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := cmd.Process.Pid
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(p, &ws, syscall.WUNTRACED, nil); err != nil {
			t.Fatal(err)
		}
		if !ws.Stopped() {
			t.Fatalf("the C parent: %v, want stopped", ws)
		}
		// As a shell's fg: the parent resumes the child, which exits 5.
		syscall.Kill(p, syscall.SIGCONT)
		if _, err := syscall.Wait4(p, &ws, 0, nil); err != nil {
			t.Fatal(err)
		}
		if !ws.Exited() || ws.ExitStatus() != 5 {
			t.Errorf("the C parent: %v, want exit 5", ws)
		}
	})

	t.Run("child dies with its parent", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cmd := command(t, pid, "orphan")
		cmd.Stdout, cmd.Stderr = w, os.Stderr
		err = cmd.Start()
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		if line := readLine(t, r); line != "ready" {
			t.Fatalf("helper said %q", line)
		}
		cmd.Process.Kill()
		cmd.Wait()
		// The child holds the pipe's last writer: EOF means it is dead.
		r.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Errorf("the child outlived its C parent: %v", err)
		}
	})

	t.Run("one ctrl-c, one sigint", func(t *testing.T) {
		master, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		defer master.Close()
		cmd := command(t, pid, "sigint")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		err = cmd.Start()
		tty.Close()
		if err != nil {
			t.Fatal(err)
		}
		if line := readLine(t, master); line != "ready" {
			t.Fatalf("helper said %q", line)
		}
		master.Write([]byte{3}) // ^C: SIGINT to the foreground group
		go io.Copy(io.Discard, master)
		if code := exitCode(t, cmd); code != 11 {
			t.Errorf("exit code %d, want 11: the child got %d SIGINTs", code, code-10)
		}
	})
}

func TestGone(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	pid := max + 1 // never a process
	code, stderr := failing(t, command(t, pid, "report"))
	want := fmt.Sprintf("husk: the container's process %d is gone: the container is not running\n", pid)
	if code != 125 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 125, %q", code, stderr, want)
	}
}

// TestZombie joins a process that has exited but is not yet reaped: it
// has lost its namespaces, which must read as gone, never as "nothing to
// join" (that would run the command on the host).
func TestZombie(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip(err)
	}
	p, err := os.StartProcess(truePath, []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	for i := 0; ; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			break
		}
		if i == 200 {
			t.Fatal("true did not become a zombie in 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, stderr := failing(t, command(t, p.Pid, "report"))
	want := fmt.Sprintf("husk: the container's process %d is gone: the container is not running\n", p.Pid)
	if code != 125 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 125, %q", code, stderr, want)
	}
}

func TestNotAPid(t *testing.T) {
	for _, v := range []string{"", "x", "12x", "-3", "0"} {
		cmd := command(t, 1, "report")
		cmd.Env = append(cmd.Env, nsenter.EnvPid+"="+v)
		code, stderr := failing(t, cmd)
		want := fmt.Sprintf("husk: %s=%q is not a process id\n", nsenter.EnvPid, v)
		if code != 125 || stderr != want {
			t.Errorf("%q: exit %d, stderr %q; want 125, %q", v, code, stderr, want)
		}
	}
}

// TestForeign joins a process this user may not: the one-line failure.
func TestForeign(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/1", &st); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 || int(st.Uid) == os.Getuid() {
		t.Skip("needs an unprivileged user and a /proc/1 of another (TestAsNobody runs it as root)")
	}
	code, stderr := failing(t, command(t, 1, "report"))
	prefix := "husk: joining the namespaces of container process 1: opening /proc/1/ns/"
	suffix := "): is the container still running?\n"
	if code != 125 || !strings.HasPrefix(stderr, prefix) || !strings.HasSuffix(stderr, suffix) ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 125, %q...%q", code, stderr, prefix, suffix)
	}
	t.Logf("%s", stderr)
}

// failing runs cmd, which must not reach the helper, and returns its
// code and stderr.
func failing(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return exitCode(t, cmd), stderr.String()
}

// TestAsNobody runs the other tests again as an unprivileged user, when
// run as root: a rootless `husk exec` is the case that matters.
func TestAsNobody(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("already unprivileged")
	}
	if os.Getenv(envMode+"_NOBODY") != "" {
		t.Skip("nested")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy nobody can reach: go test's own directory is root's alone.
	dir, err := os.MkdirTemp("/var/tmp", "husk-nsenter-")
	if err != nil {
		t.Skipf("no world-readable directory: %v", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copy := filepath.Join(dir, "nsenter.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copy, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copy, "-test.v", "-test.count=1", "-test.run", "^(TestExec|TestGone|TestZombie|TestNotAPid|TestForeign|TestCodes)$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), envMode+"_NOBODY=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err != nil {
		t.Fatalf("as nobody: %v", err)
	}
}

// TestCodes: what fails inside the container ends the command with
// Docker's code and one line, as a container's own process does.
func TestCodes(t *testing.T) {
	pid := startTarget(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec sandbox.Spec
		code int
		want string
	}{
		{"missing", sandbox.Spec{Args: []string{"/no/such"}}, 127,
			`husk: running "/no/such": no such file or directory in the image`},
		{"not in PATH", sandbox.Spec{Args: []string{"no-such-command"}, Env: []string{"PATH=/no:/nowhere"}}, 127,
			`husk: running "no-such-command": executable file not found in $PATH`},
		{"not executable", sandbox.Spec{Args: []string{plain}}, 126,
			fmt.Sprintf("husk: running %q: Permission denied", plain)},
		{"no working directory", sandbox.Spec{Args: []string{"/bin/true"}, Cwd: "/no/such/dir"}, 125,
			"husk: changing to the working directory /no/such/dir: No such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec
			s.KeepID = true
			if s.Cwd == "" {
				s.Cwd = "/"
			}
			code, stderr := failing(t, specCommand(t, pid, &s))
			if code != c.code || stderr != c.want+"\n" {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr, c.code, c.want)
			}
		})
	}
	t.Run("an init's spec", func(t *testing.T) {
		cmd, err := nsenter.Command(pid, []byte("V\x001\x00c\x00/\x00u\x00\x00a\x00/bin/true\x00"))
		if err != nil {
			t.Fatal(err)
		}
		code, stderr := failing(t, cmd)
		want := "husk: reading the exec spec: it is not an exec spec: this is husk's own error\n"
		if code != 125 || stderr != want {
			t.Errorf("exit %d, stderr %q; want 125, %q", code, stderr, want)
		}
	})
}
