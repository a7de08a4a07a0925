package store

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// A second holder of one image's lock waits, says so once, and gets it
// when the first lets go; a cancelled wait ends with the context's error.
func TestWaitLock(t *testing.T) {
	dir := t.TempDir()
	first, err := openLock(dir, "image", "abc")
	if err != nil {
		t.Fatal(err)
	}
	if err := waitLock(context.Background(), first, func() { t.Error("the first holder should not wait") }); err != nil {
		t.Fatal(err)
	}
	second, err := openLock(dir, "image", "abc")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.Name() != first.Name() {
		t.Fatalf("one id, two lock files: %s, %s", first.Name(), second.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := waitLock(ctx, second, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the wait ended by its context, got %v", err)
	}
	time.AfterFunc(150*time.Millisecond, func() { first.Close() })
	told := 0
	if err := waitLock(context.Background(), second, func() { told++ }); err != nil {
		t.Fatal(err)
	}
	if told != 1 {
		t.Errorf("want the wait said once, said %d times", told)
	}
	if _, err := os.Stat(first.Name()); err != nil {
		t.Errorf("the lock file must stay: %v", err)
	}
}
