package logfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var timeZero = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestTailAcrossRotatedFiles(t *testing.T) {
	w, path := newLog(t, 300, 5)
	writeLines(t, w, 0, 40)
	_ = w.Close()
	live := readLive(t, path)
	if live >= 7 {
		t.Fatalf("the live file has %d entries; the test needs fewer than 7", live)
	}
	got := logsOf(readAll(t, path, ReadOptions{Tail: 7}))
	if len(got) != 7 {
		t.Fatalf("got %d entries, want 7", len(got))
	}
	checkRun(t, got, 39)
	if got := readAll(t, path, ReadOptions{Tail: 0}); len(got) != 0 {
		t.Errorf("Tail 0 gave %d entries", len(got))
	}
	all := logsOf(readAll(t, path, ReadOptions{Tail: -1}))
	if more := logsOf(readAll(t, path, ReadOptions{Tail: 1000})); !slices.Equal(more, all) {
		t.Errorf("Tail beyond the log gave %d entries, want all %d", len(more), len(all))
	}
}

// readLive counts the entries in the live file only.
func readLive(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var file []byte
	for i, log := range []string{"a\n", "b\n", "c\n"} {
		b, err := encode("stdout", []byte(log), timeZero.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		file = append(file, b...)
		if i == 0 {
			file = append(file, "torn {\"log\n"...) // skipped, not an error
		}
	}
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		o    ReadOptions
		want []string
	}{
		{ReadOptions{Tail: -1}, []string{"a\n", "b\n", "c\n"}},
		{ReadOptions{Tail: -1, Since: timeZero.Add(time.Second)}, []string{"b\n", "c\n"}},
		{ReadOptions{Tail: -1, Since: timeZero.Add(1500 * time.Millisecond)}, []string{"c\n"}},
		{ReadOptions{Tail: 5, Since: timeZero.Add(time.Second)}, []string{"b\n", "c\n"}},
		{ReadOptions{Tail: 1, Since: timeZero}, []string{"c\n"}},
		{ReadOptions{Tail: -1, Since: timeZero.Add(time.Hour)}, nil},
	}
	for _, c := range cases {
		if got := logsOf(readAll(t, path, c.o)); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %q, want %q", c.o, got, c.want)
		}
	}
	if got := readAll(t, path, ReadOptions{Tail: -1}); !got[1].Time.Equal(timeZero.Add(time.Second)) {
		t.Errorf("time read back as %s", got[1].Time)
	}
}

func TestMissingLogIsEmpty(t *testing.T) {
	if got := readAll(t, filepath.Join(t.TempDir(), "none"), ReadOptions{Tail: -1}); len(got) != 0 {
		t.Errorf("got %d entries", len(got))
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	w, path := newLog(t, 0, 0)
	writeLines(t, w, 0, 3)
	_ = w.Close()
	stop := errors.New("enough")
	n := 0
	err := Read(context.Background(), path, ReadOptions{Tail: -1}, func(Entry) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("got %v after %d entries", err, n)
	}
}
