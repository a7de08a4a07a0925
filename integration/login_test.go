package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authEntries reads a Docker-style auth file's "auths" keys, and checks it
// is private to the user.
func authEntries(t *testing.T, path string) map[string]any {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("auth file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %o, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Auths map[string]any }
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg.Auths
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	auth := filepath.Join(e.home, ".config/husk/auth.json")

	r := e.runInput(secure.Password, "login", "-u", secure.User, "--password-stdin", secure.Addr)
	if r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: %s", r)
	}
	if _, ok := authEntries(t, auth)[secure.Addr]; !ok {
		t.Errorf("auth file has no entry for %s", secure.Addr)
	}
	e.pull(secure.Ref("busybox:latest"))

	e.ok("logout", secure.Addr)
	if _, ok := authEntries(t, auth)[secure.Addr]; ok {
		t.Errorf("logout left the entry for %s", secure.Addr)
	}
	// Without credentials the registry refuses: one line, nothing pulled.
	e.ok("rmi", secure.Ref("busybox:latest"))
	e.wantFault(e.run("pull", secure.Ref("busybox:latest")))
}

func TestLoginPasswordFlag(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	r := e.ok("login", "-u", secure.User, "-p", secure.Password, secure.Addr)
	if !strings.Contains(r.stdout, "Login Succeeded") {
		t.Errorf("login -p: %s", r)
	}
	e.ok("logout", "--all")
	if entries := authEntries(t, filepath.Join(e.home, ".config/husk/auth.json")); len(entries) != 0 {
		t.Errorf("logout --all left %v", entries)
	}
}

// husk login writes $REGISTRY_AUTH_FILE when it is set.
func TestLoginRegistryAuthFile(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	path := filepath.Join(e.home, "custom", "auth.json")
	e.vars["REGISTRY_AUTH_FILE"] = path
	e.runInput(secure.Password, "login", "-u", secure.User, "--password-stdin", secure.Addr)
	if _, ok := authEntries(t, path)[secure.Addr]; !ok {
		t.Errorf("%s has no entry for %s", path, secure.Addr)
	}
	if _, err := os.Stat(filepath.Join(e.home, ".config/husk/auth.json")); err == nil {
		t.Errorf("login wrote ~/.config/husk/auth.json although REGISTRY_AUTH_FILE is set")
	}
	e.pull(secure.Ref("busybox:latest"))
}

// A wrong password is checked against the registry and not stored.
func TestLoginWrongPassword(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.wantError(e.runInput("not-"+secure.Password, "login", "-u", secure.User, "--password-stdin", secure.Addr))
	path := filepath.Join(e.home, ".config/husk/auth.json")
	if _, err := os.Stat(path); err == nil {
		if _, ok := authEntries(t, path)[secure.Addr]; ok {
			t.Errorf("a refused login stored credentials")
		}
	}
}

// --password-stdin from an endless source is read up to a bound, then
// refused: nothing stored, husk's memory untouched.
func TestLoginEndlessStdin(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.command(ctx, "login", "-u", secure.User, "--password-stdin", secure.Addr)
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stderr = zero, &errb
	err = cmd.Run()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 125 || !strings.Contains(errb.String(), "more than 64 KiB") {
		t.Errorf("login --password-stdin </dev/zero: want exit 125 and one line on the bound: %v %q", err, errb.String())
	}
	if _, err := os.Stat(filepath.Join(e.home, ".config/husk/auth.json")); err == nil {
		t.Errorf("a refused login stored credentials")
	}
}
