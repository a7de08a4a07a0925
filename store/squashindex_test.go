package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A name that another image holds moves to the new one; the index is
// replaced whole, and no temporary file stays.
func TestSquashIndexMovesNames(t *testing.T) {
	dir := t.TempDir()
	if IsSquashStore(dir) {
		t.Fatal("an empty directory is no squashfs store")
	}
	idx, err := ReadSquashIndex(dir)
	if err != nil || len(idx) != 0 {
		t.Fatalf("empty store: %v, %v", idx, err)
	}
	idx = withEntry(idx, SquashEntry{ID: "a", Names: []string{"x:1", "y:1"}, File: "a.sqsh"})
	idx = withEntry(idx, SquashEntry{ID: "b", Names: []string{"x:1"}, File: "b.sqsh"})
	if err := writeSquashIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	if !IsSquashStore(dir) {
		t.Fatal("no index written")
	}
	got, err := ReadSquashIndex(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("read back: %v, %v", got, err)
	}
	if got[0].ID != "a" || !slices.Equal(got[0].Names, []string{"y:1"}) || got[1].ID != "b" || !slices.Equal(got[1].Names, []string{"x:1"}) {
		t.Errorf("want x:1 moved to b: %+v", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*husk-tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if fi, _ := os.Stat(filepath.Join(dir, SquashIndex)); fi.Mode().Perm() != 0o644 {
		t.Errorf("index mode %v, want 0644 (readable by all)", fi.Mode())
	}
}
