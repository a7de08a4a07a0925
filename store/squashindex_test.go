package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A name that another image holds moves to the new one; the index is
// replaced whole, and no temporary file stays.
func TestSquashIndexMovesNames(t *testing.T) {
	dir := t.TempDir()
	if IsSquashStore(dir) {
		t.Fatal("an empty directory is no squashfs store")
	}
	idx, err := ReadSquashIndex(dir)
	if err != nil || len(idx) != 0 {
		t.Fatalf("empty store: %v, %v", idx, err)
	}
	idx = withEntry(idx, SquashEntry{ID: "a", Names: []string{"x:1", "y:1"}, File: "a.sqsh"})
	idx = withEntry(idx, SquashEntry{ID: "b", Names: []string{"x:1"}, File: "b.sqsh"})
	if err := writeSquashIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	if !IsSquashStore(dir) {
		t.Fatal("no index written")
	}
	got, err := ReadSquashIndex(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("read back: %v, %v", got, err)
	}
	if got[0].ID != "a" || !slices.Equal(got[0].Names, []string{"y:1"}) || got[1].ID != "b" || !slices.Equal(got[1].Names, []string{"x:1"}) {
		t.Errorf("want x:1 moved to b: %+v", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if fi, _ := os.Stat(filepath.Join(dir, SquashIndex)); fi.Mode().Perm() != 0o644 {
		t.Errorf("index mode %v, want 0644 (readable by all)", fi.Mode())
	}
}

// A publish puts the file under the image's ID and then the entry; a
// squash that fails (as a killed one) leaves the index as it was; a name
// is found in the store through HUSK_IMAGE_STORES, by name or ID prefix,
// and the store is left out of containers/storage's stores.
func TestPublishSquash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	write := func(out string) error {
		tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".husk-tmp-x")
		if err := os.WriteFile(tmp, []byte("sqsh"), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, out)
	}
	idA := "aaaa0123456789"
	if err := PublishSquash(dir, idA, []string{"example.org/a:1"}, time.Now(), write); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, SquashIndex))
	if err := PublishSquash(dir, "bbbb", []string{"example.org/a:1"}, time.Now(), func(string) error { return errors.New("killed") }); err == nil {
		t.Fatal("want the squash's error")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, SquashIndex)); string(after) != string(before) {
		t.Errorf("a failed publish changed the index:\n%s\nwant\n%s", after, before)
	}
	if fi, err := os.Stat(filepath.Join(dir, idA+".sqsh")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("want %s.sqsh readable by all: %v, %v", idA, fi, err)
	}
	t.Setenv(EnvImageStores, dir)
	for _, ref := range []string{"example.org/a:1", "aaaa01", "sha256:" + idA} {
		if img, err := FindSquash(ref); err != nil || img == nil || img.Path() != filepath.Join(dir, idA+".sqsh") {
			t.Errorf("FindSquash(%q) = %+v, %v", ref, img, err)
		}
	}
	if img, _ := FindSquash("example.org/b:1"); img != nil {
		t.Errorf("found an image by a name nobody published: %+v", img)
	}
	if opts, err := imageStoreOption("overlay"); err != nil || len(opts) != 0 {
		t.Errorf("a squashfs store given to containers/storage: %q, %v", opts, err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "x"), nil, 0o644)
	if err := PublishSquash(other, idA, nil, time.Now(), write); err == nil || !strings.Contains(err.Error(), "not made by husk image publish") {
		t.Errorf("publish into a directory of other files: %v", err)
	}
}

// Only this node's temporary files of processes that are gone are
// removed.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	dead := fmt.Sprintf(".x.sqsh.husk-tmp-%s-%d", host, 1<<22+12345)
	live := fmt.Sprintf(".y.sqsh.husk-tmp-%s-%d", host, os.Getpid())
	foreign := ".z.sqsh.husk-tmp-othernode-1"
	for _, n := range []string{dead, live, foreign} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	removeStaleTemps(dir)
	for n, want := range map[string]bool{dead: false, live: true, foreign: true} {
		if _, err := os.Stat(filepath.Join(dir, n)); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", n, err == nil, want)
		}
	}
}
