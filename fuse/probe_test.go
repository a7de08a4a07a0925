package fuse

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A probe directory a killed husk left behind, its overlay's work
// directory unreadable as the kernel leaves it, is removed by the next
// probe once it is older than any probe; a newer one, perhaps in use by
// another husk, and other files stay.
func TestSweepProbes(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, age time.Duration) string {
		dir := filepath.Join(base, name)
		work := filepath.Join(dir, "w", "work")
		if err := os.MkdirAll(work, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(work, 0); err != nil {
			t.Fatal(err)
		}
		then := time.Now().Add(-age)
		if err := os.Chtimes(dir, then, then); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	stale := mk(probePrefix+"1234", time.Hour)
	fresh := mk(probePrefix+"5678", time.Second)
	other := mk("overlay", time.Hour)
	t.Cleanup(func() {
		for _, d := range []string{fresh, other} {
			_ = os.Chmod(filepath.Join(d, "w", "work"), 0o700)
		}
	})
	sweepProbes(base)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale probe directory %s is still there (%v)", stale, err)
	}
	for _, d := range []string{fresh, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}
