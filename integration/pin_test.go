package integration

import (
	"strings"
	"testing"
)

// A job pins an image by digest: `husk pull` prints it, and
// `run NAME@sha256:...` runs exactly that image, from the store when the
// tag's pull put it there, else pulled by the digest; an unknown digest
// is refused.
func TestPullDigestPin(t *testing.T) {
	e := sandboxEnv(t, "")
	ref := plain.Ref("busybox:latest")
	r := e.pull(ref)
	var d string
	for _, l := range lines(r.stdout) {
		if v, ok := strings.CutPrefix(l, "Digest: "); ok {
			d = v
		}
	}
	if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
		t.Fatalf("want a Digest: sha256:... line from pull: %s", r)
	}
	if r := e.ok("pull", "-q", ref); strings.Contains(r.stdout, "Digest:") {
		t.Errorf("pull -q: want only the name: %s", r)
	}
	ids := e.imageIDs()
	rows := e.ok("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").stdout
	pinned := ref[:strings.LastIndex(ref, ":")] + "@" + d
	if r := e.ok("run", "--rm", pinned, "echo", "pinned"); r.stdout != "pinned\n" {
		t.Errorf("run %s: want pinned: %s", pinned, r)
	}
	// From the store: no pull, so no new name either.
	if got := e.ok("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").stdout; got != rows {
		t.Errorf("run by the pulled digest pulled again: images before %q, after %q", rows, got)
	}

	// Elsewhere (a new store), the pinned name pulls that same image.
	e2 := sandboxEnv(t, "")
	if r := e2.ok("run", "--rm", pinned, "echo", "pinned"); r.stdout != "pinned\n" {
		t.Errorf("run %s in a new store: want pinned: %s", pinned, r)
	}
	if got := e2.imageIDs(); strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("run %s in a new store: image %q, want %q", pinned, got, ids)
	}

	wrong := ref[:strings.LastIndex(ref, ":")] + "@sha256:" + strings.Repeat("0", 64)
	if r := e.run("run", "--rm", wrong, "true"); r.code == 0 {
		t.Errorf("run of an unknown digest: want a failure: %s", r)
	}
}
