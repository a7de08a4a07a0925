package logfile

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// writeLines writes "line N\n" for N in [from, to).
func writeLines(t *testing.T, w *Writer, from, to int) {
	t.Helper()
	s := w.Stream("stdout")
	for i := from; i < to; i++ {
		write(t, s, fmt.Sprintf("line %03d\n", i))
	}
}

// checkRun checks that logs are "line N" for consecutive N ending at last.
func checkRun(t *testing.T, logs []string, last int) {
	t.Helper()
	if len(logs) == 0 {
		t.Fatal("no entries")
	}
	first := last - len(logs) + 1
	for i, l := range logs {
		if want := fmt.Sprintf("line %03d\n", first+i); l != want {
			t.Fatalf("entry %d: got %q, want %q", i, l, want)
		}
	}
}

func TestRotationKeep(t *testing.T) {
	const maxSize = 500
	w, path := newLog(t, maxSize, 2)
	// Leftovers of a run that kept more files go at the first rotation.
	for _, n := range []string{".3", ".4"} {
		if err := os.WriteFile(path+n, []byte("stale\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeLines(t, w, 0, 100)
	_ = w.Close()
	entrySize := int64(len(mustEncode(t, "line 000\n")))
	for _, n := range []string{".1", ".2"} {
		fi, err := os.Stat(path + n)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < maxSize || fi.Size() >= maxSize+entrySize {
			t.Errorf("%s holds %d bytes, want %d up to one entry more", n, fi.Size(), maxSize)
		}
	}
	for _, n := range []string{".3", ".4"} {
		if _, err := os.Stat(path + n); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", n, err)
		}
	}
	got := logsOf(readAll(t, path, ReadOptions{Tail: -1}))
	checkRun(t, got, 99)
	if len(got) >= 100 || len(got) < 2*maxSize/int(entrySize) {
		t.Errorf("read %d entries from 3 files", len(got))
	}
}

func TestRotationKeepNone(t *testing.T) {
	w, path := newLog(t, 300, 0)
	writeLines(t, w, 0, 50)
	_ = w.Close()
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Errorf("path.1 exists with keep 0 (%v)", err)
	}
	checkRun(t, logsOf(readAll(t, path, ReadOptions{Tail: -1})), 49)
}

func TestReopenCountsExistingSize(t *testing.T) {
	w, path := newLog(t, 300, 1)
	writeLines(t, w, 0, 4) // about 280 bytes: not yet full
	_ = w.Close()
	w, err := Open(path, 300, 1)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 4, 6)
	_ = w.Close()
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("no rotation after reopening: %v", err)
	}
	checkRun(t, logsOf(readAll(t, path, ReadOptions{Tail: -1})), 5)
}

func mustEncode(t *testing.T, log string) string {
	b, err := encode("stdout", []byte(log), timeZero)
	if err != nil {
		t.Fatal(err)
	}
	// A real time stamp is longer than the zero one by its nanoseconds.
	return strings.Replace(string(b), "Z", ".123456789Z", 1)
}
