package integration

import (
	"strings"
	"testing"
)

// Independent stages build at the same time: stages a and b each wait
// for the other's mark in a shared cache mount, which they can only both
// find if they run together (one after the other, the first gives up).
// A stage the target does not need is not built.
func TestBuildParallelStages(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	meet := func(me, other string) string {
		return "RUN --mount=type=cache,id=meet,target=/m touch /m/" + me +
			" && i=0 && while [ ! -e /m/" + other + " ]; do i=$((i+1)); if [ $i -gt 300 ]; then exit 7; fi; sleep 0.1; done && echo " + me + " > /" + me + "\n"
	}
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + " AS a\n" + meet("a", "b") +
		"FROM " + base + " AS b\n" + meet("b", "a") +
		"FROM " + base + " AS unused\nRUN exit 3\n" +
		"FROM " + base + "\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"})
	r := e.ok("build", "--progress", "plain", "-t", "par", dir)
	if strings.Contains(r.stderr, "[unused") {
		t.Errorf("a stage the target does not need was built: %s", r)
	}
	if out := e.ok("run", "--rm", "par", "cat", "/a", "/b").stdout; out != "a\nb\n" {
		t.Errorf("the stages' files in the image: %q", out)
	}
}

// A stage that fails stops the others at their next step, the build
// fails with that stage's step and exit 1, and no image is named.
func TestBuildParallelFailure(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + " AS slow\nRUN sleep 2\nRUN echo never > /never\n" +
		"FROM " + base + " AS broken\nRUN exit 4\n" +
		"FROM " + base + "\nCOPY --from=slow /bin/busybox /s\nCOPY --from=broken /bin/busybox /b\n"})
	r := e.run("build", "--progress", "plain", "-t", "parfail", dir)
	if r.code != 1 {
		t.Fatalf("want exit 1 for the failed step: %s", r)
	}
	if !strings.Contains(r.stderr, "Dockerfile:5") || !strings.Contains(r.stderr, "non-zero code: 4") {
		t.Errorf("the error does not name the failed step (line 5, its code 4): %s", r)
	}
	if strings.Contains(r.stderr, "[slow 3/3]") {
		t.Errorf("the other stage went on to its next step after the failure: %s", r)
	}
	if e.run("image", "inspect", "parfail").code == 0 {
		t.Errorf("a failed build named an image")
	}
	e.noLeftovers()
}

// A stage's long RUN outlives the layers another stage commits meanwhile.
// Committing a layer unpacks it on a thread that then ends; a step's
// sandbox forked from that thread once got its parent-death signal and
// exited 137 in mid-run.
func TestBuildParallelStepOutlivesCommits(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	busy := "FROM " + base + " AS busy\n"
	for i := 0; i < 10; i++ {
		busy += "RUN echo " + string(rune('a'+i)) + " > /" + string(rune('a'+i)) + "\n"
	}
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + " AS slow\nRUN sleep 4 && echo survived > /s\n" + busy +
		"FROM " + base + "\nCOPY --from=slow /s /s\nCOPY --from=busy /j /j\n"})
	e.ok("build", "--progress", "plain", "-t", "outlives", dir)
	if out := e.ok("run", "--rm", "outlives", "cat", "/s", "/j").stdout; out != "survived\nj\n" {
		t.Errorf("the stages' files in the image: %q", out)
	}
}
