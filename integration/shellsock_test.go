package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `husk shell` and the host's unix sockets (issue 20): a daemon's socket
// under /run or anywhere else on the host's read-only view is out of the
// shell's reach unless --socket names it; sockets under $HOME and the
// working directory, and those the shell makes, still work.

// runTestDir is the world-writable directory prepare.sh makes under /run,
// where the test's own daemon binds as a host daemon would.
const runTestDir = "/run/husk-test"

func TestShellHostSockets(t *testing.T) {
	e := sandboxEnv(t, "")
	if st, err := os.Stat(runTestDir); err != nil || !st.IsDir() {
		t.Fatalf("%s is missing: run integration/prepare.sh as root (make test does)", runTestDir)
	}
	helper := shellHelper(t, e)
	outside, err := os.MkdirTemp("/var/tmp", "husk-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	run := serveUnix(t, filepath.Join(runTestDir, "d-"+randomHex(4)+".sock"))
	host := serveUnix(t, filepath.Join(outside, "d.sock"))
	home := serveUnix(t, filepath.Join(e.home, "h-"+randomHex(2)+".sock"))
	viaVarRun := "/var/run" + strings.TrimPrefix(run, "/run")

	ask := func(flags []string, paths ...string) map[string]string {
		t.Helper()
		out := e.shellOut("", flags, helper+" unix-ask "+strings.Join(paths, " "))
		res := map[string]string{}
		for _, l := range lines(out) {
			if k, v, ok := strings.Cut(l, ": "); ok {
				res[k] = v
			}
		}
		return res
	}
	got := ask(nil, run, viaVarRun, host, home)
	for _, p := range []string{run, viaVarRun, host} {
		if got[p] == "hello" || got[p] == "" {
			t.Errorf("husk shell reached the host's socket %s: %q", p, got[p])
		}
	}
	if got[home] != "hello" {
		t.Errorf("husk shell: a socket under $HOME: want it reachable: %q", got[home])
	}
	got = ask([]string{"--socket", viaVarRun, "--socket", host}, run, host)
	for _, p := range []string{run, host} {
		if got[p] != "hello" {
			t.Errorf("husk shell --socket %s: want it reachable: %q", p, got[p])
		}
	}
	// The shell's own sockets: in $HOME, and in its private /tmp and /run.
	self := []string{filepath.Join(e.home, "self.sock"), "/tmp/self.sock", "/run/self.sock"}
	if out := e.shellOut("", nil, helper+" unix-self "+strings.Join(self, " ")); out != "ok\nok\nok" {
		t.Errorf("husk shell: a socket the shell binds and connects to: want ok: %q", out)
	}
	for _, bad := range []string{"/etc/passwd", outside + "/missing.sock"} {
		r := e.shell("", []string{"--socket", bad}, "true")
		if r.code != 125 || !strings.Contains(r.stderr, "--socket "+bad) || len(lines(strings.TrimSpace(r.stderr))) != 1 {
			t.Errorf("husk shell --socket %s: want exit 125 and one line naming it: %s", bad, r)
		}
	}
	if r := e.run("info", "--format", "{{.Shell.HostSockets}}"); r.code != 0 || !strings.Contains(r.stdout, "/run private") {
		t.Errorf("husk info: want shell.hostSockets to name the mechanism: %s", r)
	}
	e.noLeftovers()
}

// shellHelper is the test binary as the helper, under its name in $HOME.
func shellHelper(t *testing.T, e *env) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(e.home, filepath.Base(helperPath))
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// serveUnix listens on path, answering each connection with "hello",
// until the test ends (Close removes the socket).
func serveUnix(t *testing.T, path string) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	return path
}

// unixHelper: "unix-ask PATH..." prints "PATH: " and what each socket
// says or the error; "unix-self PATH..." binds each, connects to it and
// prints ok or the error.
func unixHelper(verb string, paths []string) int {
	for _, p := range paths {
		switch verb {
		case "unix-ask":
			fmt.Printf("%s: %s\n", p, unixAsk(p))
		case "unix-self":
			fmt.Println(unixSelf(p))
		default:
			fmt.Fprintf(os.Stderr, "husk-test-helper: unknown verb %q\n", verb)
			return 2
		}
	}
	return 0
}

func unixAsk(path string) string {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 16)
	n, err := c.Read(b)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b[:n]))
}

func unixSelf(path string) string {
	l, err := net.Listen("unix", path)
	if err != nil {
		return err.Error()
	}
	defer l.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		return err.Error()
	}
	c.Close()
	return "ok"
}
