package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A launch whose caller's context ended first (Ctrl-C while a run or a
// build step was being prepared: that signal was the context's alone)
// starts nothing and says so with Ctrl-C's exit code.
func TestLaunchInterruptedStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, err := Launch(nil, Options{Ctx: ctx, Args: []string{"never-run"}})
	if !errors.Is(err, ErrInterrupted) || code != 130 {
		t.Fatalf("want ErrInterrupted and 130, got %v and %d", err, code)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) != "" {
			t.Errorf("a process was started: %s lists %q", f, b)
		}
	}
}
