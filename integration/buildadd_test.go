package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// ADD from an http URL, served on loopback by the test: the file lands
// with mode 0600 and unextracted, --checksum is checked, a bad checksum
// or a 404 fails naming the cause and leaves no image, and a git URL is
// refused in one line before anything runs.
func TestBuildAddURL(t *testing.T) {
	e := newEnv(t)
	body := "hello from http\n"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/hello.txt":
			w.Write([]byte(body))
		case "/files/data.tgz":
			w.Write([]byte(tgz(t, "inner.txt", "inner")))
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/files/"
	sum := sha256.Sum256([]byte(body))
	good := "sha256:" + hex.EncodeToString(sum[:])

	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + `
ADD --checksum=` + good + ` ` + base + `hello.txt /hello.txt
ADD ` + base + `data.tgz /dl/
`})
	e.ok("build", "-t", "added", dir)
	if got := e.shOut("added", "cat /hello.txt; stat -c %a /hello.txt; ls /dl"); got != "hello from http\n600\ndata.tgz" {
		t.Errorf("ADD from a URL: got %q", got)
	}

	before := e.imageIDs()
	for name, c := range map[string]struct{ line, want string }{
		"checksum": {"ADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + base + "hello.txt /x", "checksum is " + good},
		"missing":  {"ADD " + base + "nope.txt /x", "404"},
		"git":      {"ADD https://example.org/repo.git /src", "git repository"},
	} {
		d := e.buildCtx("bad-"+name, map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + "\n" + c.line + "\n"})
		r := e.run("build", "-t", "bad-"+name, d)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "Dockerfile:2") {
			t.Errorf("%s: want exit 125 naming Dockerfile:2 and %q: %s", name, c.want, r)
		}
	}
	if after := e.imageIDs(); !slices.Equal(before, after) {
		t.Errorf("failed builds left an image: %q, was %q", after, before)
	}
}

// --progress: plain (and auto, tty) print the #N step lines and a RUN's
// output; quiet prints neither; an unknown mode is refused.
func TestBuildProgress(t *testing.T) {
	e := newEnv(t)
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + "\nRUN echo step-output\n"})
	for _, mode := range []string{"plain", "auto", "tty"} {
		r := e.ok("build", "--no-cache", "--progress", mode, dir)
		if !strings.Contains(r.stderr, "#2 [stage-0 2/2] RUN echo step-output") || !strings.Contains(r.stderr, "\nstep-output\n") {
			t.Errorf("--progress %s: want the step line and its output: %s", mode, r)
		}
	}
	r := e.ok("build", "--no-cache", "--progress", "quiet", dir)
	if strings.Contains(r.stderr, "#1") || strings.Contains(r.stderr, "step-output") {
		t.Errorf("--progress quiet: want no step lines or output: %s", r)
	}
	if r := e.run("build", "--progress", "fancy", dir); r.code != 125 || !strings.Contains(r.stderr, "--progress") {
		t.Errorf("--progress fancy: want exit 125 naming the flag: %s", r)
	}
}
