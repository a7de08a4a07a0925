package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// content is 8 KiB of data, 4 MiB of zeros, then "x".
func content() []byte {
	b := make([]byte, 8<<10+4<<20+1)
	for i := 0; i < 8<<10; i++ {
		b[i] = byte(i%251 + 1)
	}
	b[len(b)-1] = 'x'
	return b
}

func TestHoleWriterKeepsHoles(t *testing.T) {
	want := content()
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewHoleWriter(f)
	for p := want; len(p) > 0; { // odd pieces: blocks cross writes
		n := min(len(p), 1000)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want) {
		t.Fatalf("the file reads back differently (%d bytes, want %d)", len(got), len(want))
	}
	if a := allocated(t, path); a > 1<<20 {
		t.Errorf("%d bytes allocated: the zeros were written", a)
	}
}

func TestPunchZeros(t *testing.T) {
	dir := t.TempDir()
	want := content()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	setuid := filepath.Join(dir, "setuid")
	if err := os.WriteFile(setuid, want, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(setuid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	punchDir(dir, "")
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want) {
		t.Fatal("the punched file reads differently")
	}
	if a := allocated(t, path); a > 1<<20 {
		t.Errorf("%d bytes allocated after the punch", a)
	}
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(old) {
		t.Errorf("the punch changed the file's time to %s", fi.ModTime())
	}
	if a := allocated(t, setuid); a < int64(len(want)) {
		t.Errorf("a setuid file was punched (%d bytes allocated)", a)
	}
	if fi, _ := os.Stat(setuid); fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("the setuid bit went")
	}
}

// A file the parent has the same and without holes is not read again; one
// whose parent copy has holes is punched.
func TestPunchDirFollowsParent(t *testing.T) {
	parent, child := t.TempDir(), t.TempDir()
	want := content()
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, d := range []string{parent, child} {
		if err := os.WriteFile(filepath.Join(d, "dense"), want, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(d, "dense"), old, old)
		if err := os.WriteFile(filepath.Join(d, "sparse"), want, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(d, "sparse"), old, old)
	}
	if err := punchZeros(filepath.Join(parent, "sparse")); err != nil {
		t.Fatal(err)
	}
	punchDir(child, parent)
	if a := allocated(t, filepath.Join(child, "dense")); a < int64(len(want)) {
		t.Errorf("a file the parent holds without holes was punched (%d bytes)", a)
	}
	if a := allocated(t, filepath.Join(child, "sparse")); a > 1<<20 {
		t.Errorf("a copy of a file with holes kept %d bytes", a)
	}
}
