package logfile

import (
	"context"
	"path/filepath"
	"testing"
)

// newLog opens a Writer on a fresh log in a temporary directory.
func newLog(t *testing.T, maxSize int64, keep int) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctr-json.log")
	w, err := Open(path, maxSize, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, path
}

// readAll returns the entries Read passes on, without following.
func readAll(t *testing.T, path string, o ReadOptions) []Entry {
	t.Helper()
	var got []Entry
	err := Read(context.Background(), path, o, func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func logsOf(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Log
	}
	return out
}

func write(t *testing.T, w interface{ Write([]byte) (int, error) }, s string) {
	t.Helper()
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}
