package network

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The namespace tests re-run the test binary (TestMain's child mode) in a
// new user and network namespace with a one-uid map, as rootlesskit's
// testsuite does: no root needed. The child plays the sandbox's init: it
// sets up the tap (or only lo, for slirp4netns and pasta), passes the tap
// over its socketpair end, serves dials, and runs the test's commands from
// its stdin (childCommand).

const (
	childModeEnv = "HUSK_NETTEST_CHILD" // "builtin" or "external"
	childCfgEnv  = "HUSK_NETTEST_CFG"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		if err := childMain(mode); err != nil {
			fmt.Fprintln(os.Stderr, "nettest child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sandbox is the parent's view of one child.
type sandbox struct {
	cmd  *exec.Cmd
	conn *net.UnixConn // the monitor's end of the init's socketpair
	in   io.Writer
	out  *bufio.Scanner
	mu   sync.Mutex

	stackDone <-chan struct{} // closed when RunStack returned
}

// startSandbox starts a child in mode "builtin" (the parent then runs
// RunStack on its tap) or one of the external helpers' names.
func startSandbox(t testing.TB, cfg Config, mode string) *sandbox {
	t.Helper()
	if err := devTun(); err != nil {
		t.Skip(err) // every mode puts a tap device in the namespace
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "monitor"), os.NewFile(uintptr(fds[1]), "init")
	conn, err := fileUnixConn(mine)
	if err != nil {
		t.Fatal(err)
	}
	childMode := "builtin"
	if mode != Builtin {
		childMode = "external"
	}
	sb := startChild(t, cfg, childMode, theirs)
	sb.conn = conn
	t.Cleanup(func() { conn.Close() })
	if mode == Builtin {
		sb.stackDone = runStackFor(t, sb, cfg)
	} else {
		stop, err := StartExternal(mode, sb.cmd.Process.Pid, cfg)
		if err != nil {
			t.Fatalf("StartExternal(%s): %v", mode, err)
		}
		t.Cleanup(stop)
	}
	return sb
}

func startChild(t testing.TB, cfg Config, mode string, end *os.File) *sandbox {
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childCfgEnv+"="+string(b))
	cmd.ExtraFiles = []*os.File{end}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
	in, _ := cmd.StdinPipe()
	outR, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot create a user and network namespace here: %v", err)
	}
	end.Close()
	t.Cleanup(func() {
		in.Close() // the child stops what it started, then exits
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	out := bufio.NewScanner(outR)
	out.Buffer(make([]byte, 1<<20), 1<<20)
	return &sandbox{cmd: cmd, in: in, out: out}
}

// runStackFor receives the child's tap and runs the stack until cleanup.
func runStackFor(t testing.TB, sb *sandbox, cfg Config) <-chan struct{} {
	tap, err := RecvFile(sb.conn)
	if err != nil {
		t.Fatalf("receiving the tap device: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		if err := RunStack(ctx, tap, cfg); err != nil {
			t.Errorf("RunStack: %v", err)
		}
		tap.Close()
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return done
}

// do runs one command in the child and returns its answer, or its error.
func (sb *sandbox) do(t testing.TB, format string, args ...any) (string, error) {
	t.Helper()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	fmt.Fprintf(sb.in, format+"\n", args...)
	if !sb.out.Scan() {
		t.Fatalf("the child died during %q", fmt.Sprintf(format, args...))
	}
	reply := sb.out.Text()
	if rest, ok := strings.CutPrefix(reply, "ok "); ok {
		return rest, nil
	}
	return "", fmt.Errorf("%s", strings.TrimPrefix(reply, "err "))
}

// must is do that fails the test on an error.
func (sb *sandbox) must(t testing.TB, format string, args ...any) string {
	t.Helper()
	out, err := sb.do(t, format, args...)
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
	return out
}

// childMain is the sandbox's init in the tests.
func childMain(mode string) error {
	var cfg Config
	if err := json.Unmarshal([]byte(os.Getenv(childCfgEnv)), &cfg); err != nil {
		return err
	}
	conn, err := fileUnixConn(os.NewFile(3, "init"))
	if err != nil {
		return err
	}
	if mode == "builtin" {
		tap, err := SetupTap(cfg)
		if err != nil {
			return err
		}
		if err := SendFile(conn, tap); err != nil {
			return err
		}
		tap.Close()
	} else if err := LoopbackUp(); err != nil {
		return err
	}
	go ServeDialer(conn)
	defer stopServers()
	return childCommands(os.Stdin, os.Stdout)
}

func childCommands(in io.Reader, out io.Writer) error {
	s := bufio.NewScanner(in)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 0 {
			continue
		}
		res, err := childCommand(f[0], f[1:])
		if err != nil {
			fmt.Fprintf(out, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(out, "ok %s\n", res)
	}
	return nil
}
