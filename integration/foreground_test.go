package integration

import (
	"strings"
	"testing"
	"time"
)

// A foreground `husk run -it` detaches on Ctrl-P Ctrl-Q (or its
// --detach-keys) as docker run does: husk exits 0, the container goes on,
// and attach reaches it again; its exit code is then attach's. With --rm
// too; that container goes once it ends.
func TestRunTTYDetachKeys(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	tm := e.startTerm(24, 80, "run", "-it", "--name", "fgtty", ref, "sh")
	time.Sleep(300 * time.Millisecond)
	tm.ptmx.Write([]byte("echo $((6*7)); stty size\r"))
	tm.waitFor(`42`, time.Minute)
	tm.waitFor(`24 80`, 10*time.Second)
	tm.ptmx.Write([]byte{0x10, 0x11})
	if code := tm.exit(10 * time.Second); code != 0 {
		t.Errorf("run -it after Ctrl-P Ctrl-Q: want exit 0, got %d", code)
	}
	tm.checkRestored()
	if got := e.psStatus("fgtty"); !strings.HasPrefix(got, "fgtty|Up") {
		t.Fatalf("after detaching from run -it: want the container running, got %q", got)
	}
	tm = e.startTerm(24, 80, "attach", "fgtty")
	time.Sleep(300 * time.Millisecond)
	tm.ptmx.Write([]byte("exit 5\r"))
	if code := tm.exit(10 * time.Second); code != 5 {
		t.Errorf("attach after detaching from run: want the shell's code 5, got %d", code)
	}
	e.out("rm", "fgtty")

	tm = e.startTerm(24, 80, "run", "-it", "--rm", "--detach-keys", "ctrl-a,x", "--name", "fgrm", ref, "sh")
	time.Sleep(300 * time.Millisecond)
	tm.ptmx.Write([]byte("echo $((6*7))\r"))
	tm.waitFor(`42`, time.Minute)
	tm.ptmx.Write([]byte{0x01, 'x'})
	if code := tm.exit(10 * time.Second); code != 0 {
		t.Errorf("run -it --detach-keys ctrl-a,x after those keys: want exit 0, got %d", code)
	}
	if got := e.psStatus("fgrm"); !strings.HasPrefix(got, "fgrm|Up") {
		t.Fatalf("after detaching from run -it --rm: want the container running, got %q", got)
	}
	e.out("stop", "-t", "1", "fgrm")
	if !eventually(10*time.Second, func() bool { return e.out("ps", "-aq") == "" }) {
		t.Errorf("run --rm, detached then stopped: want it removed, got %q", e.out("ps", "-a"))
	}
	e.noLeftovers()
}

// A foreground run without --rm is logged as a detached one is: `husk
// logs` gives its output afterwards, stdout and stderr apart, and husk
// exits with the container's code. Bad input and a command that cannot
// run keep Docker's codes (125, 127) and leave no container.
func TestRunForegroundLogs(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	r := e.sbx([]string{"--name", "logged"}, ref, "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("foreground run: want out, err apart and exit 3: %s", r)
	}
	r = e.run("logs", "logged")
	if r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("logs of a foreground run: want out on stdout and err on stderr: %s", r)
	}
	if got := e.psStatus("logged"); !strings.HasPrefix(got, "logged|Exited (3)") {
		t.Errorf("after a foreground run: want it listed as exited (3), got %q", got)
	}
	e.out("rm", "logged")

	if r := e.sbx([]string{"--name", "nocmd"}, ref, "no-such-command"); r.code != 127 {
		t.Errorf("a foreground run of a missing command: want 127: %s", r)
	}
	if r := e.sbx([]string{"--detach-keys", "ctrl-+"}, ref, "true"); r.code != 125 || !strings.Contains(r.stderr, "detach-keys") {
		t.Errorf("run with bad --detach-keys: want 125 naming the flag: %s", r)
	}
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("a foreground run that never started left a container: %q", out)
	}
	e.noLeftovers()
}

// Piped input of `run -i` passes whole, the detach keys' bytes included:
// as Docker's, only a terminal's input is watched for them.
func TestRunPipedInputKeepsDetachBytes(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	in := "a\x10\x11b\x01xc\n"
	r := e.runInput(in, "run", "-i", "--detach-keys", "ctrl-a,x", ref, "cat")
	if r.code != 0 || r.stdout != in {
		t.Errorf("run -i with piped input: want it back whole: %q (exit %d, stderr %q)", r.stdout, r.code, r.stderr)
	}
	e.noLeftovers()
}
