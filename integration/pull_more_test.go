package integration

import (
	"strings"
	"testing"
	"time"
)

// --tls-verify=false pulls from a TLS registry whose CA husk does not know
// (with the registry's credentials, from the auth file).
func TestPullTLSVerifyFalse(t *testing.T) {
	e := newEnv(t)
	e.writeFile(".config/husk/auth.json", dockerAuth(secure.Addr, secure.User, secure.Password), 0o600)
	ref := secure.Ref("busybox:latest")
	e.pull(ref, "--tls-verify=false")
	if ids := e.imageIDs(); len(ids) != 1 {
		t.Errorf("after pull --tls-verify=false: images -q %q, want one image", ids)
	}
}

// On a terminal, pull draws a bar per layer (mpb: the bar's brackets and a
// size counter) and finishes with the reference; plain lines are for pipes.
func TestPullProgressOnTerminal(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("layers:latest")
	tm := e.startTerm(24, 100, "pull", ref)
	tm.waitFor(`Copying blob sha256:[0-9a-f]{12} +\[`, time.Minute)
	if code := tm.exit(2 * time.Minute); code != 0 {
		t.Fatalf("pull on a terminal: exit %d; the terminal shows:\n%s", code, tm.text())
	}
	out := tm.text()
	if !strings.Contains(out, ref) {
		t.Errorf("pull on a terminal did not end with the reference:\n%s", out)
	}
	if !strings.Contains(out, "done") {
		t.Errorf("pull on a terminal: no finished bar:\n%s", out)
	}
}

// login reaches a plain-HTTP registry on loopback, as Docker allows (this
// one takes any credentials: it has no auth of its own).
func TestLoginPlainHTTPLoopback(t *testing.T) {
	e := newEnv(t)
	r := e.runInput("secret\n", "login", "-u", "someone", "--password-stdin", plain.Addr)
	if r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login to the plain registry %s: %s", plain.Addr, r)
	}
}
