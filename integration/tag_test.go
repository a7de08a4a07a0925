package integration

import (
	"sort"
	"strings"
	"testing"
)

func TestTag(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	other := plain.Addr + "/other/name:v1"
	e.ok("tag", ref, other)

	got := lines(e.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout)
	sort.Strings(got)
	id := configID(t, images.Busybox)[:12]
	want := []string{ref + " " + id, other + " " + id}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after tag, images = %q, want %q", got, want)
	}
	// One image under two names.
	if ids := e.imageIDs(); len(ids) > 2 || len(ids) == 0 || ids[0] != id {
		t.Errorf("images -q = %q", ids)
	}
	// The new name works wherever a name does.
	if got := strings.TrimSpace(e.ok("image", "inspect", "--format", "{{.Id}}", other).stdout); got != "sha256:"+configID(t, images.Busybox) {
		t.Errorf("inspect by the new name: %q", got)
	}
	// Tagging by ID works too.
	third := plain.Addr + "/third:v2"
	e.ok("tag", id, third)
	if got := lines(e.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout); !contains(got, third) {
		t.Errorf("tag by ID: images = %q, want %s among them", got, third)
	}
}

func TestTagUnknownSource(t *testing.T) {
	e := newEnv(t)
	e.wantError(e.run("tag", plain.Ref("nothing:here"), plain.Ref("else:v1")))
}
