package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildCtx writes a build context under HOME: files by relative path.
func (e *env) buildCtx(dir string, files map[string]string) string {
	e.t.Helper()
	for rel, data := range files {
		e.writeFile(filepath.Join(dir, rel), []byte(data), 0o644)
	}
	return filepath.Join(e.home, dir)
}

// imageConfig is the image's config as `husk image inspect` shows it.
func (e *env) imageConfig(ref string) map[string]any {
	e.t.Helper()
	r := e.ok("image", "inspect", ref)
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		e.t.Fatalf("image inspect %s: %v: %s", ref, err, r)
	}
	cfg, _ := out[0]["Config"].(map[string]any)
	return cfg
}

func tgz(t *testing.T, name, data string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o640, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(data))
	tw.Close()
	zw.Close()
	return buf.String()
}

// Every config instruction lands in the image's config, COPY and ADD
// bring the context's files (less .dockerignore) with --chown and
// --chmod, and the result runs, lists and has Docker's history.
func TestBuildConfig(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	dir := e.buildCtx("ctx", map[string]string{
		"Dockerfile": `ARG BASE=` + base + `
FROM ${BASE}
ARG GREETING=hello
ENV APP_HOME=/app \
    MSG="${GREETING:-none} world"
WORKDIR $APP_HOME
LABEL org.example.name=demo version="1.0"
EXPOSE 8080 53/udp
COPY --chown=1000:1000 --chmod=0751 run.sh ./
COPY data/ /data/
ADD archive.tgz /unpacked/
SHELL ["/bin/sh", "-ec"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD true
VOLUME /var/lib/demo
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo \"$MSG from $(pwd)\""]
`,
		"run.sh":         "#!/bin/sh\necho run\n",
		"data/a.txt":     "A",
		"data/sub/b.txt": "B",
		"data/skip.log":  "excluded",
		".dockerignore":  "data/*.log\n",
		"archive.tgz":    tgz(t, "inner.txt", "inner"),
	})
	r := e.ok("build", "-t", "demo:1", "--build-arg", "GREETING=hi", dir)
	if !strings.Contains(r.stderr, "naming to docker.io/library/demo:1") {
		t.Errorf("build: want the naming line: %s", r)
	}
	cfg := e.imageConfig("demo:1")
	if cfg["WorkingDir"] != "/app" || cfg["StopSignal"] != "SIGTERM" {
		t.Errorf("WorkingDir, StopSignal: %v", cfg)
	}
	env, _ := json.Marshal(cfg["Env"])
	if !strings.Contains(string(env), `"MSG=hi world"`) || !strings.Contains(string(env), `"APP_HOME=/app"`) {
		t.Errorf("Env: %s", env)
	}
	js, _ := json.Marshal(cfg)
	for _, want := range []string{`"8080/tcp":{}`, `"53/udp":{}`, `"org.example.name":"demo"`, `"version":"1.0"`, `"/var/lib/demo":{}`,
		`"Shell":["/bin/sh","-ec"]`, `"OnBuild":["RUN echo triggered"]`, `"Entrypoint":["/bin/sh","-c"]`, `"Healthcheck":{"Interval":5000000000,"Test":["CMD-SHELL","true"]}`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("config lacks %s: %s", want, js)
		}
	}
	if got := strings.TrimSpace(e.ok("run", "--rm", "demo:1").stdout); got != "hi world from /app" {
		t.Errorf("run with the built CMD and ENTRYPOINT: %q", got)
	}
	out := e.ok("run", "--rm", "--entrypoint", "sh", "demo:1", "-c",
		"stat -c '%a %u:%g' /app/run.sh; cat /data/a.txt /data/sub/b.txt /unpacked/inner.txt; echo; test ! -e /data/skip.log && echo ignored").stdout
	want := "751 1000:1000\nABinner\nignored\n"
	if !e.subuid() {
		want = "751 0:0\nABinner\nignored\n" // one uid: other owners squash to root
	}
	if out != want {
		t.Errorf("files in the image: %q, want %q", out, want)
	}
	hist := lines(e.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", "demo:1").stdout)
	if len(hist) != 14 || hist[0] != `CMD ["echo \"$MSG from $(pwd)\""]` || !slices.Contains(hist, "COPY data/ /data/ # buildkit") || !slices.Contains(hist, "WORKDIR /app") {
		t.Errorf("history: %q", hist)
	}
	if got := lines(e.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "demo").stdout); !slices.Equal(got, []string{"docker.io/library/demo:1"}) {
		t.Errorf("images demo: %q", got)
	}
	// The ONBUILD trigger runs in a build FROM the image.
	child := e.buildCtx("child", map[string]string{"Dockerfile": "FROM demo:1\nRUN test -d /app\n"})
	if r := e.ok("build", "-t", "child", child); !strings.Contains(r.stderr, "triggered") {
		t.Errorf("ONBUILD trigger did not run: %s", r)
	}
}

// subuid tells whether this user has /etc/subuid ranges.
func (e *env) subuid() bool { return me.Subuid }

// RUN runs in a sandbox over the image so far; its changes, deletions
// included, are a layer; a failing RUN exits 1 and leaves no image.
func TestBuildRun(t *testing.T) {
	e := newEnv(t)
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + `
RUN echo made > /made && mkdir -p /d/e && echo x > /d/e/f
RUN rm /etc/group && rm -r /d/e
RUN ["sh", "-c", "echo exec-form > /exec"]
ARG STAMP=arg-value
RUN echo "$STAMP" > /stamp
RUN <<EOF
echo one > /h1
echo two >> /h1
EOF
RUN cat > /h2 <<EOT
doc
EOT
COPY <<EOF /etc/note
note $STAMP
EOF
`})
	r := e.ok("build", "-t", "ran", dir)
	if !strings.Contains(r.stderr, "RUN echo made") {
		t.Errorf("build output lacks the step line: %s", r)
	}
	out := e.ok("run", "--rm", "ran", "sh", "-c", "cat /made /exec /stamp /h1 /h2 /etc/note; test -e /etc/group || echo gone; test -d /d && test ! -e /d/e && echo dir-gone; test -e /proc/1 && echo proc").stdout
	if out != "made\nexec-form\narg-value\none\ntwo\ndoc\nnote arg-value\ngone\ndir-gone\nproc\n" {
		t.Errorf("RUN results: %q", out)
	}
	// The deletion travels as an OCI whiteout when the image is saved.
	tarPath := filepath.Join(e.home, "ran.tar")
	e.ok("save", "-o", tarPath, "ran")
	if b, err := os.ReadFile(tarPath); err != nil || !bytes.Contains(b, []byte("etc/.wh.group")) {
		t.Errorf("saved image lacks the whiteout etc/.wh.group (err %v)", err)
	}
	before := e.imageIDs()
	bad := e.buildCtx("bad", map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + "\nRUN echo partial > /p\nRUN exit 3\n"})
	r = e.run("build", "-t", "broken", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "Dockerfile:3") || !strings.Contains(r.stderr, "non-zero code: 3") {
		t.Errorf("failing RUN: want exit 1 naming Dockerfile:3 and code 3: %s", r)
	}
	if after := e.imageIDs(); !slices.Equal(before, after) {
		t.Errorf("a failed build left an image: %q, was %q", after, before)
	}
	// Nor a build layer (every stored layer has its diff digest) or a mount.
	layers := e.ok("unshare", "sh", "-c", "cat $HOME/.local/share/husk/storage/*-layers/layers.json; echo; grep -c husk/storage /proc/self/mountinfo || true").stdout
	var ls []map[string]any
	js, mounts, _ := strings.Cut(strings.TrimSpace(layers), "\n")
	if err := json.Unmarshal([]byte(js), &ls); err != nil {
		t.Fatalf("layers.json: %v: %q", err, layers)
	}
	for _, l := range ls {
		if l["diff-digest"] == nil {
			t.Errorf("a build layer was left: %v", l)
		}
	}
	if strings.TrimSpace(mounts) != "0" {
		t.Errorf("mounts of the store left: %q", mounts)
	}
}

// A second build of the same Dockerfile and context reuses every step
// and gives the same image; a changed file invalidates from its COPY on;
// --no-cache runs everything; multi-stage, --target, -f -, -q, --iidfile.
func TestBuildCache(t *testing.T) {
	e := newEnv(t)
	df := "FROM " + plain.Ref("busybox:latest") + ` AS base
RUN echo base > /base
COPY src.txt /src.txt
RUN cat /src.txt > /copy

FROM base AS tools
RUN echo tool > /tool

FROM scratch
COPY --from=tools /tool /copy /
COPY --from=base /bin/busybox /bin/busybox
`
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": df, "src.txt": "one"})
	iid := filepath.Join(e.home, "iid")
	first := e.ok("build", "-q", "--iidfile", iid, "-t", "cached", dir)
	id := strings.TrimSpace(first.stdout)
	if !strings.HasPrefix(id, "sha256:") || strings.Contains(first.stderr, "#1") {
		t.Errorf("-q: want only the ID on stdout and no progress: %s", first)
	}
	if b, _ := os.ReadFile(iid); string(b) != id {
		t.Errorf("--iidfile holds %q, want %q", b, id)
	}
	second := e.ok("build", "-t", "cached", dir)
	if n := strings.Count(second.stderr, "CACHED"); n != 6 {
		t.Errorf("second build: want 6 cached steps, got %d: %s", n, second)
	}
	if !strings.Contains(second.stderr, "writing image "+id) {
		t.Errorf("second build: want the same image %s: %s", id, second)
	}
	if out := e.ok("run", "--rm", "cached", "/bin/busybox", "cat", "/tool", "/copy").stdout; out != "tool\none" {
		t.Errorf("multi-stage result: %q", out)
	}
	e.writeFile("ctx/src.txt", []byte("two"), 0o644)
	third := e.ok("build", "-t", "cached", dir)
	if n := strings.Count(third.stderr, "CACHED"); n != 1 {
		t.Errorf("after a change: want only the first RUN cached, got %d: %s", n, third)
	}
	if out := e.ok("run", "--rm", "cached", "/bin/busybox", "cat", "/copy").stdout; out != "two" {
		t.Errorf("after a change: %q", out)
	}
	if r := e.ok("build", "--no-cache", "-t", "cached", dir); strings.Contains(r.stderr, "CACHED") {
		t.Errorf("--no-cache used the cache: %s", r)
	}
	// --target stops at a stage; -f - reads the Dockerfile from stdin.
	r := e.runInput(df, "build", "-f", "-", "--target", "tools", "-t", "tools", dir)
	if r.code != 0 {
		t.Fatalf("build -f - --target: %s", r)
	}
	if out := e.ok("run", "--rm", "tools", "cat", "/tool", "/base").stdout; out != "tool\nbase\n" {
		t.Errorf("--target tools: %q", out)
	}
}

// Bad input is one line naming the file and line and the fix, exit 125,
// and no image.
func TestBuildErrors(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	cases := map[string][]string{
		"FROM " + base + "\nRUN true\nBOGUS thing\n":                {"Dockerfile:3", "unknown instruction"},
		"FROM " + base + "\nCOPY missing.txt /\n":                   {"Dockerfile:2", "missing.txt", "build context"},
		"FROM " + base + "\nENV A=1 \\\n  B\nCOPY --from=x a /\n":   {"Dockerfile:2"},
		"FROM " + base + " AS a\nCOPY --from=nostage /x /\n":        {"Dockerfile:2", "nostage"},
		"FROM " + base + " AS a\nFROM a\nCOPY --from=a /nofile /\n": {"Dockerfile:3", "/nofile is not in --from=a"},
	}
	i := 0
	for df, want := range cases {
		i++
		dir := e.buildCtx(filepath.Join("c", string(rune('a'+i))), map[string]string{"Dockerfile": df})
		e.wantError(e.run("build", "-t", "bad", dir), want...)
	}
	for _, id := range e.imageIDs() {
		if strings.Contains(e.ok("image", "inspect", "--format", "{{.RepoTags}}", id).stdout, "bad") {
			t.Errorf("a failed build left the image %s", id)
		}
	}
	e.wantError(e.run("build", "--target", "nothing", e.buildCtx("t", map[string]string{"Dockerfile": "FROM scratch\n"})), "--target nothing")
}

// Each root-filesystem strategy builds: RUN over the mounted build layer,
// a deletion, COPY, and the cache.
func TestBuildStrategies(t *testing.T) {
	for _, s := range strategies {
		t.Run(s, func(t *testing.T) {
			e := newEnv(t)
			e.vars["HUSK_STORAGE_DRIVER"] = s
			dir := e.buildCtx("ctx", map[string]string{
				"Dockerfile": "FROM " + plain.Ref("busybox:latest") + "\nRUN echo hi > /hi && rm /etc/group\nCOPY f /f\n",
				"f":          "data",
			})
			e.ok("build", "-t", "s", dir)
			if out := e.ok("run", "--rm", "s", "sh", "-c", "cat /hi /f; test -e /etc/group || echo gone").stdout; out != "hi\ndatagone\n" {
				t.Errorf("%s: %q", s, out)
			}
			if r := e.ok("build", "-t", "s", dir); strings.Count(r.stderr, "CACHED") != 2 {
				t.Errorf("%s: second build not cached: %s", s, r)
			}
		})
	}
}

// A built image pushes like a pulled one, and runs where it is pulled.
func TestBuildPush(t *testing.T) {
	e := newEnv(t)
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + "\nRUN echo pushed > /p\nCMD [\"cat\", \"/p\"]\n"})
	ref := plain.Ref("built-" + me.Name + ":1")
	e.ok("build", "-t", ref, dir)
	e.ok("push", ref)
	other := newEnv(t)
	other.pull(ref)
	if out := other.ok("run", "--rm", ref).stdout; out != "pushed\n" {
		t.Errorf("the pushed image runs as %q", out)
	}
}

// --network none leaves RUN steps loopback only; --pull fetches the FROM
// image though the store has it; --label lands in the config.
func TestBuildFlags(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + ref + "\nRUN ip -o link | cut -d: -f2 | tr -d ' ' > /links\n"})
	r := e.ok("build", "--pull", "--network", "none", "--label", "built.by=test", "-t", "flags", dir)
	if !strings.Contains(r.stderr, "Copying") {
		t.Errorf("--pull did not pull: %s", r)
	}
	if out := e.ok("run", "--rm", "flags", "cat", "/links").stdout; out != "lo\n" {
		t.Errorf("--network none: RUN saw links %q", out)
	}
	if got := e.imageConfig("flags")["Labels"].(map[string]any)["built.by"]; got != "test" {
		t.Errorf("--label: %v", got)
	}
	e.wantError(e.run("build", "--platform", "linux/s390x", dir), "--platform")
}
