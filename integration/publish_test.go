package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sharedStore is a directory for a published store, removed at the end
// inside husk's namespace (layers keep files of subordinate owners).
func sharedStore(t *testing.T, e *env) string {
	t.Helper()
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r := e.run("unshare", "sh", "-c", `rm -rf "$1"/* "$1"/.[!.]*`, "sh", parent); r.code != 0 {
			t.Logf("cleanup: %s", r)
		}
	})
	return filepath.Join(parent, "store")
}

// reader is a fresh env (its own HOME, nothing pulled) that runs from the
// read-only store, with the publisher's strategy.
func reader(t *testing.T, store, strategy string) *env {
	r := sandboxEnv(t, strategy)
	r.vars["HUSK_IMAGE_STORES"] = store
	return r
}

// A published image runs in another env without a pull, under each
// strategy, is listed as read-only, and rmi refuses it with one line.
func TestImagePublishRunsReadOnly(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, a *env, ref string) {
		publishAndRead(t, a, ref, a.vars["HUSK_STORAGE_DRIVER"])
	})
}

func publishAndRead(t *testing.T, a *env, ref, strategy string) {
	store := sharedStore(t, a)
	id := configID(t, images.Busybox)
	if r := a.ok("image", "publish", ref, store); !strings.Contains(r.stdout, "Published: sha256:"+id) {
		t.Errorf("publish: want \"Published: sha256:%s\": %s", id, r)
	}
	a.wantError(a.run("image", "publish", ref, t.TempDir()), "not made by husk image publish")
	worldReadable(t, store)
	b := reader(t, store, strategy)
	if out := b.out("run", "--rm", "--pull", "never", ref, "echo", "from the store"); out != "from the store" {
		t.Errorf("run from the read-only store: %q", out)
	}
	if got := b.out("images", "--format", "{{.Repository}}:{{.Tag}} {{.Store}}"); got != ref+" read-only" {
		t.Errorf("images: want %q: %q", ref+" read-only", got)
	}
	if out := b.out("images"); !strings.Contains(out, "STORE") || !strings.Contains(out, "read-only") {
		t.Errorf("images table: want a STORE column with read-only: %q", out)
	}
	b.wantError(b.run("rmi", ref), "read-only image store", "HUSK_IMAGE_STORES")
	if ids := b.imageIDs(); len(ids) != 1 || !strings.HasPrefix(id, ids[0]) {
		t.Errorf("after a refused rmi, images -q = %q, want %.12s", ids, id)
	}
	b.noLeftovers()
}

// A publish killed with SIGKILL leaves the store as it was; the next one
// moves the name to the new image, so one name never means two images.
func TestImagePublishKilledLeavesStore(t *testing.T) {
	a, ref := busyboxEnv(t, "")
	layers := plain.Ref("layers:latest")
	a.pull(layers)
	store := sharedStore(t, a)
	a.ok("image", "publish", ref, store)
	a.ok("tag", layers, ref) // ref now names the layers image
	newID := strings.TrimPrefix(a.out("image", "inspect", "-f", "{{.Id}}", ref), "sha256:")
	oldID := configID(t, images.Busybox)

	killMidway(t, a, store, "image", "publish", ref, store)
	b := reader(t, store, "")
	if got := b.imageIDs(); len(got) != 1 || !strings.HasPrefix(oldID, got[0]) {
		t.Errorf("after a killed publish, images -q = %q, want only %.12s", got, oldID)
	}
	if out := b.out("run", "--rm", "--pull", "never", ref, "echo", "still"); out != "still" {
		t.Errorf("run after a killed publish: %q", out)
	}

	a.ok("image", "publish", ref, store)
	got := lines(b.out("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"))
	slices.Sort(got)
	want := []string{"sha256:" + newID + " " + ref, "sha256:" + newID + " " + layers, "sha256:" + oldID + " <none>:<none>"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after publishing another image under the name, images = %q, want %q", got, want)
	}
	if gens, _ := filepath.Glob(filepath.Join(filepath.Dir(store), ".store.gen-*")); len(gens) != 2 {
		t.Errorf("want the two complete generations only, the killed one removed: %q", gens)
	}
	b.noLeftovers()
}

// killMidway starts husk ARGS and kills its process group with SIGKILL as
// soon as the publish has begun its new generation beside store.
func killMidway(t *testing.T, e *env, store string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(filepath.Join(filepath.Dir(store), ".store.gen-*"))
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if gens, _ := filepath.Glob(filepath.Join(filepath.Dir(store), ".store.gen-*")); len(gens) > len(before) {
			break
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("husk %s finished before it was killed: choose a larger image", strings.Join(args, " "))
	}
}

// worldReadable checks that the store's own files (not the layers'
// contents, which keep the image's modes) can be read by every user.
func worldReadable(t *testing.T, store string) {
	t.Helper()
	gen, err := filepath.EvalSymlinks(store)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.Walk(gen, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		parts := strings.Split(strings.TrimPrefix(p, gen+"/"), "/")
		if len(parts) >= 3 && (parts[0] == "overlay" && parts[2] == "diff" || parts[0] == "vfs" && parts[1] == "dir") {
			return filepath.SkipDir
		}
		want := os.FileMode(0o004)
		if fi.IsDir() {
			want = 0o005
		}
		if (fi.IsDir() || fi.Mode().IsRegular()) && fi.Mode().Perm()&want != want {
			t.Errorf("%s has mode %v: others cannot read the published store", p, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Errorf("walking the published store: %v", err)
	}
}
