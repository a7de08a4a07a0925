package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A work directory is held while its process lives; one nobody holds is
// removed once past the grace, and a held one stays.
func TestSweepTemp(t *testing.T) {
	base := t.TempDir()
	mine, err := os.MkdirTemp(base, "pull-")
	if err != nil {
		t.Fatal(err)
	}
	holdTemp(mine)
	left := filepath.Join(base, "commit-left")
	young := filepath.Join(base, "commit-young")
	mount := filepath.Join(base, "root-x")
	for _, d := range []string{left, young, mount} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Minute)
	for _, d := range []string{mine, left, mount} {
		os.Chtimes(d, old, old)
	}
	if !unheld(left) || unheld(mine) {
		t.Fatalf("unheld: left %v, mine %v", unheld(left), unheld(mine))
	}
	sweepTemp(base)
	for d, want := range map[string]bool{mine: true, left: false, young: true, mount: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v after the sweep, want %v", filepath.Base(d), err == nil, want)
		}
	}
	os.RemoveAll(mine)
	holdTemp(filepath.Join(base, "other")) // closes mine's descriptor
	held.Lock()
	_, still := held.fds[mine]
	held.Unlock()
	if still {
		t.Errorf("the descriptor of a removed directory is still held")
	}
}
