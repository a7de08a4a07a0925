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

// A store on the sshfs mount (a network filesystem, where
// containers/storage's store cannot live) is filled with squashfs files by
// default. Another env runs its image by name with no pull, lists it
// read-only, and rmi refuses it in one line; the publisher runs it too
// with HUSK_IMAGE_STORES set. A publish killed with SIGKILL while its file
// is being written leaves the index as it was, and the next publish moves
// the name and removes what the killed one left. The export holds only
// plain files of the user's afterwards.
func TestImagePublishSquashSSHFS(t *testing.T) {
	e, exportHome := sshfsEnv(t)
	e.vars[markVar] = randomHex(8)
	ref, layers := plain.Ref("busybox:latest"), plain.Ref("layers:latest")
	e.pull(ref)
	e.pull(layers)
	store, exportStore := filepath.Join(e.home, "store"), filepath.Join(exportHome, "store")
	oldID := configID(t, images.Busybox)
	published := time.Now()
	if r := e.ok("image", "publish", ref, store); !strings.Contains(r.stdout, "Published: sha256:"+oldID) {
		t.Errorf("publish: want \"Published: sha256:%s\": %s", oldID, r)
	}
	t.Logf("publish of %s to the squashfs store on sshfs: %v", ref, time.Since(published).Round(time.Millisecond))
	e.wantError(e.run("image", "publish", "--format", "store", ref, filepath.Join(e.home, "other")), "network filesystem", "--format squashfs")
	sqsh := filepath.Join(store, oldID+".sqsh")
	if fi, err := os.Lstat(store); err != nil || !fi.IsDir() {
		t.Fatalf("want the store a directory (a squashfs store), not a link: %v, %v", fi, err)
	}
	if fi, err := os.Stat(sqsh); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("want %s readable by all: %v, %v", sqsh, fi, err)
	}

	b := reader(t, store, "")
	if out := b.out("run", "--rm", ref, "echo", "from the store"); out != "from the store" {
		t.Errorf("run from the squashfs store: %q", out)
	}
	wantUIDMap(t, b.out("run", "--rm", ref, "cat", "/proc/self/uid_map"))
	if got := b.out("images", "--format", "{{.Repository}}:{{.Tag}} {{.Store}}"); got != ref+" read-only" {
		t.Errorf("images: want only %q (nothing pulled): %q", ref+" read-only", got)
	}
	if out := b.out("images"); !strings.Contains(out, "STORE") || !strings.Contains(out, "read-only") {
		t.Errorf("images table: want a STORE column with read-only: %q", out)
	}
	// inspect by name shows the store's image: its ID, its name, the
	// config run uses, the platform and layers the squash kept.
	if got := b.out("image", "inspect", "--format", "{{.Id}} {{index .RepoTags 0}} {{.Os}} {{len .RootFS.Layers}} {{.Config.Cmd}}", ref); got != "sha256:"+oldID+" "+ref+" linux 1 [sh]" {
		t.Errorf("image inspect of the store's image: %q, want %q", got, "sha256:"+oldID+" "+ref+" linux 1 [sh]")
	}
	// Figures for the note: a start of true from the store on sshfs, and
	// from the publisher's own (node-local) store.
	t.Logf("run --rm true: %v from the squashfs store on sshfs by name, %v by its file's path, %v from the publisher's own store",
		bestOf3(func() { b.ok("run", "--rm", ref, "true") }), bestOf3(func() { b.ok("run", "--rm", sqsh, "true") }),
		bestOf3(func() { e.ok("run", "--rm", ref, "true") }))
	b.wantError(b.run("rmi", ref), "read-only squashfs store", "HUSK_IMAGE_STORES")
	if ids := b.imageIDs(); len(ids) != 1 || !strings.HasPrefix(oldID, ids[0]) {
		t.Errorf("after a refused rmi, images -q = %q, want %.12s", ids, oldID)
	}
	b.ok("create", "--name", "fromstore", ref, "true")
	if got := b.out("ps", "-a", "--format", "{{.Image}}", "--filter", "name=fromstore"); got != sqsh {
		t.Errorf("create by name: want the container made from %s: %q", sqsh, got)
	}
	b.ok("rm", "fromstore")

	// The publisher, with the store listed, runs the store's file.
	e.vars["HUSK_IMAGE_STORES"] = store
	if out := e.out("run", "--rm", ref, "echo", "publisher"); out != "publisher" {
		t.Errorf("run by the publisher from the store: %q", out)
	}
	delete(e.vars, "HUSK_IMAGE_STORES")

	e.ok("tag", layers, ref) // ref now names the layers image
	newID := strings.TrimPrefix(e.out("image", "inspect", "-f", "{{.Id}}", ref), "sha256:")
	index := filepath.Join(exportStore, "husk-images.json")
	before, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	killWhileWriting(t, e, filepath.Join(exportStore, "."+newID+".sqsh.husk-tmp-*"), "image", "publish", ref, store)
	if after, _ := os.ReadFile(index); string(after) != string(before) {
		t.Errorf("a killed publish changed the index:\n%s\nwant\n%s", after, before)
	}
	if _, err := os.Stat(filepath.Join(exportStore, newID+".sqsh")); err == nil {
		t.Errorf("a killed publish left %s.sqsh under its final name", newID)
	}
	if got := b.imageIDs(); len(got) != 1 || !strings.HasPrefix(oldID, got[0]) {
		t.Errorf("after a killed publish, images -q = %q, want only %.12s", got, oldID)
	}
	if out := b.out("run", "--rm", ref, "echo", "still"); out != "still" {
		t.Errorf("run after a killed publish: %q", out)
	}

	e.ok("image", "publish", ref, store)
	got := lines(b.out("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"))
	slices.Sort(got)
	want := []string{"sha256:" + newID + " " + ref, "sha256:" + newID + " " + layers, "sha256:" + oldID + " <none>:<none>"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after publishing another image under the name, images = %q, want %q", got, want)
	}
	b.ok("create", "--name", "moved", ref, "true")
	if got, want := b.out("ps", "-a", "--format", "{{.Image}}", "--filter", "name=moved"), filepath.Join(store, newID+".sqsh"); got != want {
		t.Errorf("create by the moved name: want the container made from %s: %q", want, got)
	}
	b.ok("rm", "moved")
	if tmps, _ := filepath.Glob(filepath.Join(exportStore, ".*husk-tmp-*")); len(tmps) != 0 {
		t.Errorf("the next publish left the killed one's temporary files: %q", tmps)
	}
	b.noLeftovers()
	e.noLeftovers()
	wantPlainFiles(t, exportHome)
}

// killWhileWriting starts husk ARGS and kills its process group with
// SIGKILL as soon as a file matching glob (the squashfs file's temporary
// name) has data.
func killWhileWriting(t *testing.T, e *env, glob string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { t.Logf("publish killed %v after its start", time.Since(start).Round(time.Millisecond)) }()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if m, _ := filepath.Glob(glob); len(m) > 0 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("husk %s finished before it was killed: choose a larger image", strings.Join(args, " "))
	}
}

// bestOf3 is the shortest of three runs of fn.
func bestOf3(fn func()) time.Duration {
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		fn()
		best = min(best, time.Since(start))
	}
	return best.Round(time.Millisecond)
}
