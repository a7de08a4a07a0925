package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// follower runs a following Read in the background.
type follower struct {
	entries chan Entry
	done    chan error
	stop    chan struct{}
	cancel  context.CancelFunc
}

func follow(t *testing.T, path string, o ReadOptions) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{entries: make(chan Entry, 10000), done: make(chan error, 1), stop: make(chan struct{}), cancel: cancel}
	o.Follow, o.Stop = true, f.stop
	go func() {
		f.done <- Read(ctx, path, o, func(e Entry) error {
			f.entries <- e
			return nil
		})
	}()
	t.Cleanup(cancel)
	return f
}

// expect waits for the next entries to be exactly want.
func (f *follower) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case e := <-f.entries:
			if e.Log != w {
				t.Fatalf("got %q, want %q", e.Log, w)
			}
		case err := <-f.done:
			t.Fatalf("Read ended (%v) while waiting for %q", err, w)
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for %q", w)
		}
	}
}

// end closes Stop and checks that Read returns nil, having passed on exactly
// the entries want.
func (f *follower) end(t *testing.T, want ...string) {
	t.Helper()
	close(f.stop)
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("Read after Stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after Stop")
	}
	f.expect(t, want...)
	if len(f.entries) > 0 {
		t.Errorf("%d unexpected entries, the first %q", len(f.entries), (<-f.entries).Log)
	}
}

func line(i int) string { return fmt.Sprintf("line %03d\n", i) }

func TestFollowAppendsAndRotation(t *testing.T) {
	w, path := newLog(t, 300, 2)
	writeLines(t, w, 0, 3)
	f := follow(t, path, ReadOptions{Tail: 1})
	f.expect(t, line(2))
	// In step with the follower, through several rotations.
	for i := 3; i < 20; i++ {
		writeLines(t, w, i, i+1)
		f.expect(t, line(i))
	}
	if _, err := os.Stat(path + ".2"); err != nil {
		t.Fatalf("no rotation happened: %v", err)
	}
	// What is written just before Stop is still read.
	writeLines(t, w, 20, 23)
	f.end(t, line(20), line(21), line(22))
}

func TestFollowQuickRotations(t *testing.T) {
	// Many rotations between two polls: the follower must walk the chain
	// of rotated files, in order, skipping and repeating nothing.
	w, path := newLog(t, 200, 1000)
	f := follow(t, path, ReadOptions{Tail: -1})
	// The first line once the follower reads: from then on it polls, and
	// the rest come between two of its polls. (Listing the files while
	// the writer rotates them is the start's own race, not this test's.)
	writeLines(t, w, 0, 1)
	f.expect(t, line(0))
	writeLines(t, w, 1, 500)
	for i := 1; i < 500; i++ {
		f.expect(t, line(i))
	}
	f.end(t)
}

func TestFollowWithoutKeptFiles(t *testing.T) {
	w, path := newLog(t, 150, 0)
	f := follow(t, path, ReadOptions{Tail: -1})
	for i := range 10 {
		writeLines(t, w, i, i+1)
		f.expect(t, line(i))
	}
	f.end(t)
}

func TestFollowBeforeTheLogExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f := follow(t, path, ReadOptions{Tail: -1})
	time.Sleep(2 * pollInterval)
	w, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, w.Stream("stderr"), "hello\n")
	f.expect(t, "hello\n")
	f.cancel()
	select {
	case err := <-f.done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
}

func TestFollowPartialLineWaits(t *testing.T) {
	// A reader may see an entry half written; it must wait for the rest.
	path := filepath.Join(t.TempDir(), "log")
	whole, _ := encode("stdout", []byte("slow\n"), timeZero)
	if err := os.WriteFile(path, whole[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	f := follow(t, path, ReadOptions{Tail: -1})
	time.Sleep(2 * pollInterval)
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.Write(whole[10:]); err != nil {
		t.Fatal(err)
	}
	f.expect(t, "slow\n")
	f.end(t)
}
