package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var pushedLine = regexp.MustCompile(`^(\S+): digest: (sha256:[0-9a-f]{64}) size: [0-9]+$`)

// pushDigest pushes ref and returns the digest from Docker's last line.
func (e *env) pushDigest(ref string, flags ...string) string {
	e.t.Helper()
	r := e.ok(append(append([]string{"push"}, flags...), ref)...)
	l := lines(r.stdout)
	if len(l) == 0 {
		e.t.Fatalf("push printed nothing: %s", r)
	}
	m := pushedLine.FindStringSubmatch(l[len(l)-1])
	if m == nil {
		e.t.Fatalf("push: want 'TAG: digest: sha256:... size: N' last: %s", r)
	}
	return m[2]
}

// imageID is the full ID of the image ref.
func (e *env) imageID(ref string) string {
	e.t.Helper()
	return strings.TrimSpace(e.ok("image", "inspect", "-f", "{{.Id}}", ref).stdout)
}

// login logs e in to the TLS registry.
func (e *env) login() {
	e.t.Helper()
	e.trustCA()
	if r := e.runInput(secure.Password, "login", "-u", secure.User, "--password-stdin", secure.Addr); r.code != 0 {
		e.t.Fatalf("login: %s", r)
	}
}

// An image pushed to a registry it did not come from has its layers
// rebuilt and sent; it comes back whole in another store: the same ID, the
// registry serving the printed digest, the content a user checks. Pushing
// it again gives the same digest and sends no layer again.
func TestPushPullBack(t *testing.T) {
	e := newEnv(t)
	e.login()
	e.pull(plain.Ref("layers:latest"))
	repo := "pushed/layers-" + me.Name + ":v1"
	ref := secure.Ref(repo)
	e.ok("tag", plain.Ref("layers:latest"), ref)
	digestFile := filepath.Join(e.home, "digest")
	r := e.ok("push", "--digestfile", digestFile, ref)
	if !strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("first push to a registry without the layers: want them sent: %s", r)
	}
	first := e.pushDigest(ref)
	if b, err := os.ReadFile(digestFile); err != nil || string(b) != first {
		t.Errorf("--digestfile: want %s, got %q (%v)", first, b, err)
	}
	desc, err := secure.Get(repo)
	if err != nil {
		t.Fatalf("the registry does not serve the pushed tag: %v", err)
	}
	if desc.Digest.String() != first {
		t.Errorf("registry serves %s, push printed %s", desc.Digest, first)
	}
	r = e.ok("push", ref)
	if m := pushedLine.FindStringSubmatch(lines(r.stdout)[0]); m == nil || m[2] != first {
		t.Errorf("second push: want the same digest %s: %s", first, r)
	}
	if strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("second push sent blobs the registry has: %s", r)
	}
	// To a registry that lacks them, the layers go again, gzipped to the
	// same blobs (the digests recorded by the first push are checked as
	// they are sent): the same manifest.
	third, err := StartRegistry(filepath.Join(t.TempDir(), "registry"), RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer third.Stop()
	other := third.Ref("pushed/again:v1")
	e.ok("tag", ref, other)
	r = e.ok("push", other)
	if m := pushedLine.FindStringSubmatch(lines(r.stdout)[0]); m == nil || m[2] != first || !strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("push to another registry: want the layers sent and the digest %s: %s", first, r)
	}

	e2 := newEnv(t)
	e2.login()
	e2.pull(ref)
	if a, b := e.imageID(ref), e2.imageID(ref); a != b {
		t.Errorf("pulled back as %s, pushed %s", b, a)
	}
	checkLayersImage(t, e2, ref)
}

// -q prints the name alone; --all-tags pushes every tag of the repository.
func TestPushAllTagsQuiet(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	repo := plain.Ref("pushed/all-" + me.Name)
	for _, tag := range []string{"a", "b"} {
		e.ok("tag", plain.Ref("busybox:latest"), repo+":"+tag)
	}
	r := e.ok("push", "-q", "--all-tags", repo)
	if got := lines(r.stdout); !slices.Equal(got, []string{repo + ":a", repo + ":b"}) || r.stderr != "" {
		t.Errorf("push -q --all-tags: want the two names and nothing on stderr: %s", r)
	}
	for _, tag := range []string{"a", "b"} {
		if _, err := plain.Get("pushed/all-" + me.Name + ":" + tag); err != nil {
			t.Errorf("tag %s not on the registry: %v", tag, err)
		}
	}
	e.wantError(e.run("push", "--all-tags", repo+":a"), "without a tag")
}

// An image pulled from the registry it is pushed to goes as it was
// pulled: the pulled digest, its blobs mounted, none sent. Without the
// login the TLS registry refuses: one line naming the registry and the
// fix; the image stays.
func TestPushTLSLogin(t *testing.T) {
	e := newEnv(t)
	e.login()
	e.pull(secure.Ref("busybox:latest"))
	pulled, err := secure.Get("busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	repo := "pushed/tls-" + me.Name + ":1"
	ref := secure.Ref(repo)
	e.ok("tag", secure.Ref("busybox:latest"), ref)
	r := e.ok("push", ref)
	if d := e.pushDigest(ref); d != pulled.Digest.String() || strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("push of a re-tagged image: want the pulled digest %s and no blob sent: %s", pulled.Digest, r)
	}
	if desc, err := secure.Get(repo); err != nil || desc.Digest != pulled.Digest {
		t.Errorf("registry: %v %v, want %s", desc, err, pulled.Digest)
	}
	id := e.imageID(ref)
	e.ok("logout", secure.Addr)
	e.wantError(e.run("push", ref), secure.Addr, "husk login")
	if got := e.imageID(ref); got != id {
		t.Errorf("a refused push changed the image: %s, was %s", got, id)
	}
}

// A missing image and a registry that is down: one line, exit 125, the
// store as it was.
func TestPushFaults(t *testing.T) {
	e := newEnv(t)
	e.wantError(e.run("push", plain.Ref("nothing-here:1")), "no image of that name", "husk tag")
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e.pull(plain.Ref("busybox:latest"))
	down := fmt.Sprintf("127.0.0.1:%d/busybox:latest", port)
	e.ok("tag", plain.Ref("busybox:latest"), down)
	e.wantError(e.run("push", down), fmt.Sprintf("127.0.0.1:%d", port), "down")
	if ids := e.imageIDs(); len(ids) != 1 {
		t.Errorf("after a failed push want the one image: %q", ids)
	}
	e.ok("run", "--rm", down, "true")
}

// An image with another name on the registry, in a repository that never
// got its blobs, still goes as it was pulled: the pulled digest, no blob
// sent (its layers mounted from the repository that has them).
func TestPushNameWithoutBlobs(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	pulled, err := plain.Get("busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	empty := plain.Ref("pushed/never-" + me.Name + ":1")
	repo := "pushed/named-" + me.Name + ":1"
	e.ok("tag", plain.Ref("busybox:latest"), empty)
	e.ok("tag", plain.Ref("busybox:latest"), plain.Ref(repo))
	r := e.ok("push", plain.Ref(repo))
	if d := e.pushDigest(plain.Ref(repo)); d != pulled.Digest.String() || strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("want the pulled digest %s and no blob sent: %s", pulled.Digest, r)
	}
	if desc, err := plain.Get(repo); err != nil || desc.Digest != pulled.Digest {
		t.Errorf("registry: %v %v, want %s", desc, err, pulled.Digest)
	}
	if _, err := plain.Get("pushed/never-" + me.Name + ":1"); err == nil {
		t.Error("the other name was pushed too")
	}
}

// A recorded gzip digest that husk's gzip no longer gives (a record made
// by another husk) fails the push before the registry keeps anything,
// with one line that says to push again; the record is gone, and the push
// again sends the layer and names the pulled-back image's digest. Each
// way a record can be stale: a size beyond the gzip's, one short of it
// (the upload stops reading there), and the right size with another
// digest (a recorded gzip is sent unsummed: the registry refuses it).
func TestPushStaleGzipRecord(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	reg, err := StartRegistry(filepath.Join(t.TempDir(), "registry"), RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	diffID := strings.TrimSpace(e.out("image", "inspect", "-f", "{{index .RootFS.Layers 0}}", plain.Ref("busybox:latest")))
	dir := filepath.Join(strings.TrimSpace(e.out("info", "--format", "{{.Store.GraphRoot}}")), "husk-gzip", "blockgz-1m-s8")
	record := filepath.Join(dir, strings.Replace(diffID, ":", "-", 1))
	for i, size := range []int{999999999, 100} {
		ref := reg.Ref(fmt.Sprintf("stale/%d:1", i))
		e.ok("tag", plain.Ref("busybox:latest"), ref)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		stale := fmt.Sprintf("sha256:%064d %d\n", 0, size)
		if err := os.WriteFile(record, []byte(stale), 0o600); err != nil {
			t.Fatal(err)
		}
		e.wantError(e.run("push", ref), "push again")
		if _, err := os.Stat(record); err == nil {
			t.Errorf("size %d: the stale record stayed", size)
		}
		if _, err := reg.Get(fmt.Sprintf("stale/%d:1", i)); err == nil {
			t.Errorf("size %d: the failed push left a tag", size)
		}
		r := e.ok("push", ref)
		if !strings.Contains(r.stderr, "Copying blob") {
			t.Errorf("size %d: the push again sent no layer: %s", size, r)
		}
		if got := e.pushDigest(ref); got == "" {
			t.Errorf("size %d: no digest", size)
		}
	}
	// The right size but another digest: the gzip, sent unsummed as
	// recorded, reaches the registry, which refuses it (DIGEST_INVALID).
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the push again recorded no gzip: %v", err)
	}
	digest, size, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	stale := fmt.Sprintf("sha256:%064d %s\n", 0, size)
	if digest == "sha256:"+strings.Repeat("0", 64) {
		t.Fatalf("the record is the stale one already: %q", b)
	}
	if err := os.WriteFile(record, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := reg.Ref("stale/digest:1")
	e.ok("tag", plain.Ref("busybox:latest"), ref)
	e.wantError(e.run("push", ref), "DIGEST_INVALID", "push again")
	if _, err := os.Stat(record); err == nil {
		t.Errorf("the record the registry refused stayed")
	}
	if _, err := reg.Get("stale/digest:1"); err == nil {
		t.Errorf("the refused push left a tag")
	}
	if got := e.pushDigest(ref); got == "" {
		t.Errorf("the push after the refused one: no digest")
	}
	if b, _ := os.ReadFile(record); strings.TrimSpace(string(b)) != digest+" "+size {
		t.Errorf("the push again recorded %q, want %q", b, digest+" "+size)
	}
}
