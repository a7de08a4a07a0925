package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// RUN --mount: a cache directory kept between builds and shared by id, a
// read-only bind of the context and of a stage, a read-write bind whose
// writes are discarded, a cache seeded from a stage, a tmpfs, secrets from a
// file and from the environment (the Dockerfile matches them with s[3]cret,
// so that the value itself appears nowhere but in the secret); none of them leaves anything in the
// image, and a secret is in no layer, history or output. RUN --network.
func TestBuildRunMounts(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	dir := e.buildCtx("ctx", map[string]string{
		"data/a.txt": "bound\n",
		"Dockerfile": "FROM " + base + ` AS tools
RUN echo from-stage > /tool && mkdir /tooldir && cp /tool /tooldir/t
FROM ` + base + `
RUN --mount=type=cache,target=/var/cache/x,sharing=locked echo run >> /var/cache/x/log && wc -l < /var/cache/x/log > /count
RUN --mount=type=cache,id=shared,target=/a echo shared > /a/f
RUN --mount=type=cache,id=shared,target=/b,sharing=shared cp /b/f /shared
RUN --mount=type=bind,source=data,target=/src cat /src/a.txt > /bound && ! touch /src/new 2>/dev/null
RUN --mount=type=bind,from=tools,source=/tool,target=/mnt/tool cp /mnt/tool /tool-copy
RUN --mount=type=bind,source=data,target=/src,rw echo changed > /src/a.txt && cat /src/a.txt > /rw-bound
RUN --mount=type=cache,id=seeded,target=/seed,from=tools,source=/tooldir cat /seed/t > /seeded
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && grep -q ' /scratch tmpfs' /proc/mounts
RUN --mount=type=secret,id=tok grep -qx 's[3]cret-file' /run/secrets/tok && echo seen > /secret-seen
RUN --mount=type=secret,id=envtok,target=/etc/tokfile grep -qx 's[3]cret-env' /etc/tokfile
RUN --network=none test "$(grep -c : /proc/net/dev)" = 1
RUN --network=host test "$(grep -c : /proc/net/dev)" -gt 1
`,
	})
	e.vars["HUSK_TEST_TOKEN"] = "s3cret-env"
	secret := e.writeFile("tok.txt", []byte("s3cret-file"), 0o600)
	build := func(extra ...string) result {
		args := append([]string{"build", "--secret", "id=tok,src=" + secret, "--secret", "id=envtok,env=HUSK_TEST_TOKEN", "-t", "mounts"}, extra...)
		return e.ok(append(args, dir)...)
	}
	r := build()
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Errorf("a secret's value is in the build's output: %s", r)
	}
	check := "cat /count /shared /bound /tool-copy /secret-seen /rw-bound /seeded; for p in /var/cache/x /a /b /src /mnt /scratch /run/secrets /etc/tokfile; do test -e $p && echo left $p; done; true"
	if got := e.shOut("mounts", check); got != "1\nshared\nbound\nfrom-stage\nseen\nchanged\nfrom-stage" {
		t.Errorf("after the mounted steps: %q", got)
	}
	// A read-write bind's writes are discarded, as Docker's are.
	if b, err := os.ReadFile(filepath.Join(dir, "data/a.txt")); err != nil || string(b) != "bound\n" {
		t.Errorf("the context after a rw bind: %q (%v), want it unchanged", b, err)
	}
	hist := e.ok("history", "--no-trunc", "mounts").stdout + e.ok("image", "inspect", "mounts").stdout
	if strings.Contains(hist, "s3cret") {
		t.Errorf("a secret's value is in the history or config")
	}
	// The cache directory outlives the build: a rebuild without the
	// layer cache appends to it.
	build("--no-cache")
	if got := e.shOut("mounts", "cat /count"); got != "2" {
		t.Errorf("the cache mount's content after a second build: count %q, want 2", got)
	}
	tarPath := filepath.Join(e.home, "mounts.tar")
	e.ok("save", "-o", tarPath, "mounts")
	if b, err := os.ReadFile(tarPath); err != nil || strings.Contains(string(b), "s3cret") {
		t.Errorf("the saved image holds a secret (err %v)", err)
	}

	// A required secret not given fails before the step's command runs and
	// leaves no image.
	before := e.imageIDs()
	bad := e.buildCtx("bad", map[string]string{"Dockerfile": "FROM " + base + "\nRUN --mount=type=secret,id=missing,required=true true\n"})
	r = e.run("build", "-t", "bad", bad)
	if r.code != 125 || !strings.Contains(r.stderr, "--secret id=missing") {
		t.Errorf("a missing required secret: want exit 125 naming --secret id=missing: %s", r)
	}
	if after := e.imageIDs(); !slices.Equal(before, after) {
		t.Errorf("a failed build left an image: %q, was %q", after, before)
	}
	if r := e.run("build", "--secret", "id=x,src=/nonexistent", bad); r.code != 125 || !strings.Contains(r.stderr, "/nonexistent") {
		t.Errorf("--secret with a missing file: want exit 125 naming it: %s", r)
	}
	// A failing step with mounts leaves no image and no copy of the secret.
	failing := e.buildCtx("failing", map[string]string{"Dockerfile": "FROM " + base + "\nRUN --mount=type=secret,id=tok --mount=type=tmpfs,target=/new/t exit 3\n"})
	if r := e.run("build", "--secret", "id=tok,src="+secret, "-t", "failing", failing); r.code != 1 {
		t.Errorf("a failing RUN with mounts: want exit 1: %s", r)
	}
	if after := e.imageIDs(); !slices.Equal(before, after) {
		t.Errorf("a failed build left an image: %q, was %q", after, before)
	}
	var info struct {
		Store struct{ Runroot string } `json:"store"`
	}
	if err := json.Unmarshal([]byte(e.ok("info", "--format", "json").stdout), &info); err != nil || info.Store.Runroot == "" {
		t.Fatalf("husk info: no store.runroot (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(info.Store.Runroot, ".secret-*")); len(left) > 0 {
		t.Errorf("copies of a secret were left: %q", left)
	}
}

// Every RUN appends a line to a cache mount, so the file counts the
// sandboxes the builds started: a second identical build starts none, and
// a changed context file reruns only the steps from its COPY on.
func TestBuildCacheNoSandbox(t *testing.T) {
	e := newEnv(t)
	dir := e.buildCtx("ctx", map[string]string{
		"src.txt": "one\n",
		"Dockerfile": "FROM " + plain.Ref("busybox:latest") + `
RUN --mount=type=cache,id=count,target=/count echo first >> /count/runs
COPY src.txt /src.txt
RUN --mount=type=cache,id=count,target=/count echo second >> /count/runs
`,
	})
	runs := func() string {
		return strings.TrimSpace(e.ok("unshare", "sh", "-c", "cat $HOME/.local/share/husk/storage/husk-build-mounts/*/runs | tr '\\n' ' '").stdout)
	}
	e.ok("build", "-t", "counted", dir)
	if got := runs(); got != "first second" {
		t.Fatalf("the first build's sandboxes: %q, want both RUN steps", got)
	}
	r := e.ok("build", "-t", "counted", dir)
	if got := runs(); got != "first second" {
		t.Errorf("an identical build started a sandbox: runs %q", got)
	}
	if n := strings.Count(r.stderr, "CACHED"); n != 3 {
		t.Errorf("an identical build: want 3 CACHED steps, got %d: %s", n, r)
	}
	e.writeFile("ctx/src.txt", []byte("two\n"), 0o644)
	e.ok("build", "-t", "counted", dir)
	if got := runs(); got != "first second second" {
		t.Errorf("after a context change: runs %q, want only the RUN after the COPY again", got)
	}
	if got := e.shOut("counted", "cat /src.txt"); got != "two" {
		t.Errorf("the rebuilt image has %q, want the changed file", got)
	}
}
