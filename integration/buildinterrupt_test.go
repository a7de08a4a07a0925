package integration

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Ctrl-C in the middle of a RUN step: SIGINT to the process group, as a
// terminal sends it. The build stops at once with 130, the step's command
// does not outlive it, no image is named, and the next build works, the
// steps before the interrupted one taken from the cache.
func TestBuildInterrupted(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo before > /b\nRUN echo step-started; sleep 617\nRUN echo after > /a\n"})
	e.pull(base)
	before := e.imageIDs()

	stepStarted := func(l string) bool { return strings.Contains(l, "step-started") && !strings.Contains(l, "RUN") }
	r := interrupt(t, e, []string{"build", "--progress", "plain", "-t", "intr", dir}, stepStarted, 60*time.Second, true, 200*time.Millisecond)
	if r.code != 130 {
		t.Errorf("interrupted build: want exit 130, got %d; stderr:\n%s", r.code, r.stderr)
	}
	if r.took > 10*time.Second {
		t.Errorf("the build took %v to stop after SIGINT", r.took)
	}
	if pids := sleepers("617"); len(pids) > 0 {
		t.Errorf("the interrupted step's command outlived the build: pids %v", pids)
	}
	if after := e.imageIDs(); !slices.Equal(before, after) {
		t.Errorf("an interrupted build left an image: %q, was %q", after, before)
	}

	e.writeFile("ctx/Dockerfile", []byte("FROM "+base+"\nRUN echo before > /b\nRUN echo step-done\nRUN echo after > /a\n"), 0o644)
	rebuild := e.ok("build", "--progress", "plain", "-t", "intr", dir)
	if !strings.Contains(rebuild.stderr, "CACHED") {
		t.Errorf("the rebuild after Ctrl-C: want the step before the interrupted one cached: %s", rebuild)
	}
	if out := e.ok("run", "--rm", "intr", "cat", "/b", "/a").stdout; out != "before\nafter\n" {
		t.Errorf("the image built after Ctrl-C: %q", out)
	}
}
