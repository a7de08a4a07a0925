package store

import (
	"os"
	"path/filepath"
	"testing"
)

// The driver's answers are copied, and only they: an answer already there
// stays, and other files of its run directory are not taken.
func TestCopyFeatures(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "overlay")
	for name, body := range map[string]string{
		"overlay-true": "", "metacopy()-false": "", "native-diff()-true": "kept text",
		"mountpoints.json": "{}", "other": "x",
	} {
		if err := os.WriteFile(filepath.Join(from, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(from, "dir-true"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "metacopy()-false"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFeatures(from, to)
	entries, err := os.ReadDir(to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"metacopy()-false", "native-diff()-true", "overlay-true"}
	if len(got) != len(want) {
		t.Fatalf("copied %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("copied %v, want %v", got, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(to, "metacopy()-false")); string(b) != "mine" {
		t.Errorf("an answer already there was replaced: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(to, "native-diff()-true")); string(b) != "kept text" {
		t.Errorf("an answer's text was not kept: %q", b)
	}
}
