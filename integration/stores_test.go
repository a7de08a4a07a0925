package integration

import (
	"testing"
)

// Two stores of one user (two HUSK_ROOTs, here two homes) share nothing
// at run time: resetting one leaves the other's running container whole.
func TestStoresKeepTheirOwnRunState(t *testing.T) {
	a, ref := busyboxEnv(t, "")
	a.detached([]string{"--name", "keeper"}, ref, "sleep", "60")
	defer a.out("rm", "-f", "keeper")
	b, refB := busyboxEnv(t, "")
	b.detached([]string{"--name", "other"}, refB, "sleep", "60")
	b.out("system", "reset", "-f")
	if out := a.out("exec", "keeper", "echo", "still here"); out != "still here" {
		t.Errorf("exec after another store's reset: %q", out)
	}
	if out := a.out("ps", "--format", "{{.Names}} {{.State}}"); out != "keeper running" {
		t.Errorf("ps after another store's reset: want keeper running: %q", out)
	}
	a.noLeftovers()
}
