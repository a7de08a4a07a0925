package integration

import (
	"strings"
	"testing"
)

// Removing one of two names only untags; removing the last deletes.
func TestRmiByName(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	other := plain.Ref("copy:v1")
	e.ok("tag", ref, other)
	id := configID(t, images.Busybox)

	r := e.ok("rmi", other)
	if !strings.Contains(r.stdout, "Untagged: "+other) || strings.Contains(r.stdout, "Deleted:") {
		t.Errorf("rmi of one of two names: want only \"Untagged: %s\": %s", other, r)
	}
	if got := lines(e.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout); len(got) != 1 || got[0] != ref {
		t.Errorf("after untag, images = %q, want [%s]", got, ref)
	}

	r = e.ok("rmi", ref)
	if !strings.Contains(r.stdout, "Untagged: "+ref) || !strings.Contains(r.stdout, "Deleted: sha256:"+id) {
		t.Errorf("rmi of the last name: want Untagged and \"Deleted: sha256:%s\": %s", id, r)
	}
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after rmi, images -q = %q", ids)
	}
}

// By a prefix of the ID, as short as Docker allows.
func TestRmiByIDPrefix(t *testing.T) {
	for _, n := range []int{12, 6} {
		e := newEnv(t)
		e.pull(plain.Ref("busybox:latest"))
		id := configID(t, images.Busybox)
		r := e.ok("rmi", id[:n])
		if !strings.Contains(r.stdout, "Deleted: sha256:"+id) {
			t.Errorf("rmi %s: %s", id[:n], r)
		}
		if ids := e.imageIDs(); len(ids) != 0 {
			t.Errorf("after rmi by ID, images -q = %q", ids)
		}
	}
}

// An ID with several names needs -f.
func TestRmiForce(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	other := plain.Ref("copy:v1")
	e.ok("tag", ref, other)
	id := configID(t, images.Busybox)

	e.wantError(e.run("rmi", id[:12]))
	if ids := e.imageIDs(); len(ids) == 0 {
		t.Fatalf("rmi without -f removed an image with two names")
	}
	r := e.ok("rmi", "-f", id[:12])
	for _, want := range []string{"Untagged: " + ref, "Untagged: " + other, "Deleted: sha256:" + id} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rmi -f: want %q: %s", want, r)
		}
	}
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after rmi -f, images -q = %q", ids)
	}
}

func TestRmiSeveral(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	e.pull(plain.Ref("layers:latest"))
	e.ok("rmi", plain.Ref("busybox:latest"), plain.Ref("layers:latest"))
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after rmi of both, images -q = %q", ids)
	}
}

func TestRmiUnknown(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	e.wantError(e.run("rmi", plain.Ref("nothing:here")))
	e.wantError(e.run("rmi", "0123456789ab"))
	if ids := e.imageIDs(); len(ids) != 1 {
		t.Errorf("a failed rmi removed something: images -q = %q", ids)
	}
}
