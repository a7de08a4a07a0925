package fuse

import (
	"os"
	"testing"
)

func TestOverlayProbeRemembered(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	if overlayKnownGood(dir) {
		t.Fatal("a fresh cache knows a result")
	}
	rememberOverlay(dir)
	rememberOverlay(dir) // once is enough: no second line
	if !overlayKnownGood(dir) {
		t.Fatal("the remembered success is not found")
	}
	b, _ := os.ReadFile(probeCachePath())
	if n := len(b) - len(probeKey(dir)) - 1; n != 0 {
		t.Errorf("cache holds %q, want one line", b)
	}
	// Another filesystem type (/proc) has another key.
	if overlayKnownGood("/proc") {
		t.Error("a success on one filesystem type counts for another")
	}
}
