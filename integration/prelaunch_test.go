package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A `husk run --rm` identical to an earlier one starts its sandbox before
// husk's Go side does (the prelaunch). It must be the same container for
// everything a user does with it: stdin with -i, ps, stop, signals to
// husk, its exit code, and the default network.
func TestPrelaunchedRunIsAContainer(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	gate := filepath.Join(e.home, "gate")
	if err := os.MkdirAll(gate, 0o755); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(gate, "open")
	setGate := func(on bool) {
		t.Helper()
		if on {
			if err := os.WriteFile(open, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(open); err != nil {
			t.Fatal(err)
		}
	}
	args := runArgs([]string{"--rm", "--network", "none", "-v", gate + ":/gate"}, ref,
		"sh", "-c", "echo ready; while [ ! -e /gate/open ]; do sleep 0.05; done; echo through")
	// The first run finds the image, the second writes its launch down.
	setGate(true)
	for i := 0; i < 2; i++ {
		if out := e.ok(args...).stdout; out != "ready\nthrough\n" {
			t.Fatalf("run %d with the gate open: %q", i, out)
		}
	}
	root := filepath.Join(e.home, ".local", "share", "husk")
	if r := e.vars["HUSK_ROOT"]; r != "" {
		root = r
	}
	if launches, _ := filepath.Glob(filepath.Join(root, "plans", "launch-*")); len(launches) == 0 {
		t.Errorf("no launch was written down in %s/plans", root)
	}
	setGate(false)

	// Seen by ps while it runs, and stopped by husk stop.
	s := e.startReady(args...)
	var id string
	waitFor(t, 10*time.Second, func() bool {
		id = strings.TrimSpace(e.out("ps", "-q"))
		return id != ""
	})
	if st := strings.TrimSpace(e.out("ps", "--format", "{{.Status}}")); !strings.HasPrefix(st, "Up") {
		t.Errorf("the prelaunched container's status in ps: %q", st)
	}
	e.ok("stop", "-t", "2", id)
	if code := s.wait(t, 30*time.Second); code != 143 && code != 137 {
		t.Errorf("husk run of a stopped container: want 143 (or 137), got %d\n%s", code, s.text())
	}
	if strings.Contains(s.text(), "through") {
		t.Errorf("the stopped container went on: %s", s.text())
	}

	// A signal to husk itself reaches the process.
	s = e.startReady(args...)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 30*time.Second); code != 143 {
		t.Errorf("husk run sent SIGTERM: want 143, got %d\n%s", code, s.text())
	}
	if out := strings.TrimSpace(e.out("ps", "-aq")); out != "" {
		t.Errorf("--rm containers are left after they ended: %q", out)
	}

	// -i hands stdin over, every time, also after a /tmp cleaner removed
	// husk's scratch directory (the runs here have no XDG_RUNTIME_DIR).
	for i := 0; i < 4; i++ {
		if i == 3 {
			if err := os.Remove(filepath.Join(infoString(t, infoJSON(t, e), "store.runroot"), "scratch")); err != nil {
				t.Fatal(err)
			}
		}
		r := e.runInput("through stdin\n", "run", "-i", "--rm", "--network", "none", ref, "cat")
		if r.code != 0 || r.stdout != "through stdin\n" {
			t.Errorf("run %d of -i cat: %s", i, r)
		}
	}
	// Other commands after the same flags and image start from the same
	// launch, after the image's entrypoint; no command runs the default.
	for _, flags := range [][]string{{"--rm", "--network", "none"}, {"--rm", "--network", "none", "--entrypoint", "echo"}} {
		for _, cmd := range [][]string{{"sh", "-c", "echo one"}, {"two", "2"}, {"three"}, {}} {
			want := strings.Join(cmd, " ") + "\n"
			switch {
			case flags[len(flags)-1] != "echo" && len(cmd) == 0:
				want = "" // busybox's own cmd: sh, with no input
			case flags[len(flags)-1] != "echo" && cmd[0] != "sh":
				cmd = append([]string{"echo"}, cmd...)
			case flags[len(flags)-1] != "echo":
				want = "one\n"
			}
			if r := e.run(runArgs(flags, ref, cmd...)...); r.code != 0 || r.stdout != want {
				t.Errorf("want %q: %s", want, r)
			}
		}
	}

	// The default network: its stack answers at once, and after a while.
	for _, wait := range []string{"0", "0.1"} {
		for i := 0; i < 3; i++ {
			r := e.run("run", "--rm", ref, "sh", "-c", "sleep "+wait+"; nslookup host.husk.internal")
			if r.code != 0 || !strings.Contains(r.stdout, "10.0.2.2") {
				t.Errorf("run %d of a DNS lookup after %ss on the default network: %s", i, wait, r)
			}
		}
	}
	e.noLeftovers()
}

// A command of 100,000 arguments starts, and is prelaunched, like a short
// one: the prelaunch hashes the arguments once (issue 19, item 9: the
// lookup was quadratic, past 90 s at this count). The minute is a bound
// against that hang, not a measure of speed.
func TestPrelaunchManyArguments(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	args := []string{"run", "--rm", "--network", "none", ref, "sh", "-c", `echo $#`, "sh"}
	for i := 0; i < 100000; i++ {
		args = append(args, "a")
	}
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := e.command(ctx, args...)
		out, err := cmd.Output()
		cancel()
		if err != nil || strings.TrimSpace(string(out)) != "100000" {
			t.Fatalf("run %d of a 100,000-argument command: %q, %v", i, out, err)
		}
	}
	root := filepath.Join(e.home, ".local", "share", "husk")
	if r := e.vars["HUSK_ROOT"]; r != "" {
		root = r
	}
	if launches, _ := filepath.Glob(filepath.Join(root, "plans", "launch-*")); len(launches) == 0 {
		t.Errorf("no launch was written down in %s/plans", root)
	}
}
