package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// --progress tty on a terminal: BuildKit's live view, drawn with escape
// sequences, with every step's line ending DONE or CACHED, two stages
// building at once; the image runs. A failing step's output and line are
// printed under the view; Ctrl-C ends the build and leaves the terminal
// sane.
func TestBuildTTY(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + " AS a\nRUN echo from-a > /a && sleep 1\n" +
		"FROM " + base + " AS b\nRUN echo from-b > /b && sleep 1\n" +
		"FROM " + base + "\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN echo tty-step-output\nCMD [\"cat\", \"/a\", \"/b\"]\n"})
	for _, again := range []bool{false, true} {
		args := []string{"build", "--progress", "tty", "-t", "ttybuilt", dir}
		if !again {
			args = append(args, "--no-cache")
		}
		tm := e.startTerm(30, 120, args...)
		if code := tm.exit(3 * time.Minute); code != 0 {
			t.Fatalf("build under a pty: exit %d; the terminal shows:\n%s", code, tm.text())
		}
		out := tm.text()
		if !strings.Contains(out, "[+] Building") || (!again && !strings.Contains(out, "\x1b[")) {
			t.Errorf("want the live view: a [+] Building header drawn with escape sequences: %q", out)
		}
		want := []string{`=> \[a 2/2\] RUN echo from-a`, `=> \[b 2/2\] RUN echo from-b`, `=> \[stage-2 4/5\] RUN echo tty-step-output`}
		for _, w := range want {
			state := "DONE [0-9.]+s"
			if again {
				state = "CACHED"
			}
			if !regexp.MustCompile(w + `.* ` + state).MatchString(out) {
				t.Errorf("want a line %s ... %s: %q", w, state, out)
			}
		}
		if !again && !strings.Contains(out, "tty-step-output") {
			t.Errorf("want the RUN step's output in the view: %q", out)
		}
		if regexp.MustCompile(`(?m)^#\d+ \[`).MatchString(out) {
			t.Errorf("a terminal got plain #N [stage] lines rather than the live view: %q", out)
		}
		tm.checkRestored()
	}
	if out := e.ok("run", "--rm", "ttybuilt").stdout; out != "from-a\nfrom-b\n" {
		t.Errorf("the image built under tty runs as %q", out)
	}

	bad := e.buildCtx("bad", map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo about-to-fail; exit 3 # long enough to be cut\n"})
	tm := e.startTerm(30, 60, "build", "--progress", "tty", bad) // narrow: the step's line is cut, its status kept
	if code := tm.exit(3 * time.Minute); code != 1 {
		t.Errorf("a failing step under tty: want exit 1, got %d; the terminal shows:\n%s", code, tm.text())
	}
	out := tm.text()
	if !regexp.MustCompile(`=> \[stage-0 2/2\] RUN echo about-to-f[^\n]*… ERROR [0-9.]+s`).MatchString(out) {
		t.Errorf("want the failed step's line, cut to 60 columns, ending ERROR: %q", out)
	}
	if !regexp.MustCompile(`(?s)> \[stage-0 2/2\] RUN echo about-to-fail; exit 3 # long enough to be cut:\r?\n.*about-to-fail\r?\n.*Dockerfile:2.*non-zero code: 3`).MatchString(out) {
		t.Errorf("want the failed step's output under the view, then the error line: %q", out)
	}
	tm.checkRestored()

	slow := e.buildCtx("slow", map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo sleeping; sleep 100\n"})
	tm = e.startTerm(30, 120, "build", "--no-cache", "--progress", "auto", slow)
	tm.waitFor(`sleeping`, time.Minute)
	if _, err := tm.ptmx.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	if code := tm.exit(15 * time.Second); code == 0 {
		t.Errorf("Ctrl-C during a step: want a failed build, got exit 0")
	}
	if !strings.Contains(tm.text(), "[+] Building") {
		t.Errorf("--progress auto on a terminal: want the live view: %q", tm.text())
	}
	tm.checkRestored()
	e.noLeftovers()
}
