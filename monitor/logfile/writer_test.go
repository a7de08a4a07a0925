package logfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLineSplitting(t *testing.T) {
	w, path := newLog(t, 0, 0)
	out, errw := w.Stream("stdout"), w.Stream("stderr")
	write(t, out, "one\ntw")
	write(t, errw, "err ")
	write(t, out, "o\n\nthr")
	write(t, errw, "line\n")
	write(t, out, "ee")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, path, ReadOptions{Tail: -1})
	want := []Entry{{Log: "one\n", Stream: "stdout"}, {Log: "two\n", Stream: "stdout"},
		{Log: "\n", Stream: "stdout"}, {Log: "err line\n", Stream: "stderr"}, {Log: "three", Stream: "stdout"}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", logsOf(got), logsOf(want))
	}
	for i := range want {
		if got[i].Log != want[i].Log || got[i].Stream != want[i].Stream {
			t.Errorf("entry %d: got %q on %s, want %q on %s", i, got[i].Log, got[i].Stream, want[i].Log, want[i].Stream)
		}
		if i > 0 && got[i].Time.Before(got[i-1].Time) {
			t.Errorf("entry %d is older than the one before it", i)
		}
	}
}

func TestLongLine(t *testing.T) {
	line := strings.Repeat("x", 40<<10) + "\n"
	for _, chunk := range []int{len(line), 1000, 7} {
		w, path := newLog(t, 0, 0)
		s := w.Stream("stdout")
		for b := []byte(line); len(b) > 0; b = b[min(chunk, len(b)):] {
			write(t, s, string(b[:min(chunk, len(b))]))
		}
		write(t, s, "next\n")
		_ = w.Close()
		got := logsOf(readAll(t, path, ReadOptions{Tail: -1}))
		var lens []int
		for _, l := range got {
			lens = append(lens, len(l))
		}
		if !slices.Equal(lens, []int{16 << 10, 16 << 10, 8<<10 + 1, 5}) {
			t.Errorf("chunks of %d: entry lengths %v", chunk, lens)
		}
		if strings.Join(got, "") != line+"next\n" {
			t.Errorf("chunks of %d: the entries do not add up to the line", chunk)
		}
	}
}

func TestLongLineKeepsRunesWhole(t *testing.T) {
	w, path := newLog(t, 0, 0)
	line := "a" + strings.Repeat("é", 20<<10) + "\n" // a 2-byte rune straddles 16 KiB
	write(t, w.Stream("stdout"), line)
	_ = w.Close()
	got := logsOf(readAll(t, path, ReadOptions{Tail: -1}))
	if len(got) != 3 || strings.Join(got, "") != line {
		t.Fatalf("got %d entries not adding up to the line", len(got))
	}
	for _, l := range got {
		if !utf8.ValidString(l) || len(l) > 16<<10 {
			t.Errorf("entry of %d bytes is not whole UTF-8 within 16 KiB", len(l))
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	w, path := newLog(t, 0, 0)
	const lines = 2000
	var wg sync.WaitGroup
	for _, name := range []string{"stdout", "stderr"} {
		wg.Go(func() {
			// Odd-sized chunks, as a pipe hands them over.
			var all bytes.Buffer
			for i := range lines {
				fmt.Fprintf(&all, "%s %d\n", name, i)
			}
			s, rnd := w.Stream(name), rand.New(rand.NewPCG(1, uint64(len(name))))
			for b := all.Bytes(); len(b) > 0; {
				n := min(1+rnd.IntN(40), len(b))
				if _, err := s.Write(b[:n]); err != nil {
					t.Error(err)
				}
				b = b[n:]
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for _, e := range readAll(t, path, ReadOptions{Tail: -1}) {
		if want := fmt.Sprintf("%s %d\n", e.Stream, next[e.Stream]); e.Log != want {
			t.Fatalf("got %q, want %q", e.Log, want)
		}
		next[e.Stream]++
	}
	if next["stdout"] != lines || next["stderr"] != lines {
		t.Errorf("got %v entries, want %d of each", next, lines)
	}
}

func TestEntryJSON(t *testing.T) {
	w, path := newLog(t, 0, 0)
	before := time.Now()
	write(t, w.Stream("stdout"), "hi <b> & \"q\"\n")
	after := time.Now()
	_ = w.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shape := regexp.MustCompile(`^\{"log":"hi \\u003cb\\u003e \\u0026 \\"q\\"\\n","stream":"stdout",` +
		`"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)"\}\n$`)
	m := shape.FindSubmatch(raw)
	if m == nil {
		t.Fatalf("entry %s is not in Docker's shape", raw)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(m[1]))
	if err != nil || ts.Before(before.Truncate(time.Microsecond)) || ts.After(after) {
		t.Errorf("time %s is not between %s and %s (%v)", m[1], before, after, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil || len(fields) != 3 {
		t.Errorf("want exactly log, stream, time; got %v (%v)", fields, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode: %v (%v)", fi.Mode(), err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	w, path := newLog(t, 0, 0)
	s := w.Stream("stdout")
	_ = w.Close()
	if _, err := s.Write([]byte("late\n")); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("write after close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestOpenErrorNamesPath(t *testing.T) {
	path := t.TempDir() + "/missing/dir/log"
	_, err := Open(path, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "opening log "+path) {
		t.Errorf("got %v", err)
	}
}
