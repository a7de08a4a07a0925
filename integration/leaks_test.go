package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Only stdio reaches the sandbox's process: not husk's status pipe, not a
// descriptor that husk's caller left open (here fd 5 on a host file).
func TestRunInheritsOnlyStdio(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	secret := e.writeFile("secret", []byte("host secret\n"), 0o600)
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// ls opens the directory itself, as fd 3: anything else is inherited.
	cmd := e.command(ctx, runArgs(nil, ref, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '")...)
	cmd.ExtraFiles = []*os.File{nil, nil, f} // fd 5 in husk
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("husk run: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "0 1 2 3" {
		t.Errorf("descriptors in the sandbox: %q, want only 0 1 2 (and ls's own 3)", got)
	}
}

// husk shell hides the session's runtime directory (D-Bus, systemd and
// agent sockets would let it run commands outside) and the bus address.
func TestShellHidesSessionSockets(t *testing.T) {
	e := sandboxEnv(t, "")
	rt := filepath.Join(e.home, "runtime")
	e.writeFile("runtime/bus", []byte("not a socket, but it stands for one"), 0o600)
	e.vars["XDG_RUNTIME_DIR"] = rt
	e.vars["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + rt + "/bus"
	out := e.shellOut("", nil, `ls -A "$XDG_RUNTIME_DIR"; echo "bus=${DBUS_SESSION_BUS_ADDRESS:-unset}"`)
	if out != "bus=unset" {
		t.Errorf("husk shell: want an empty runtime directory and no bus address, got %q", out)
	}
}
