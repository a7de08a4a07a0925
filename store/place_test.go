package store

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"husk/fuse"
)

// onNetwork makes fsOf report dirs under net as a network filesystem.
func onNetwork(t *testing.T, net string) {
	t.Helper()
	old := fsOf
	fsOf = func(d string) (fuse.FSInfo, error) {
		if strings.HasPrefix(d, net) {
			return fuse.FSInfo{Type: "nfs", Network: true}, nil
		}
		return fuse.FSInfo{Type: "ext4"}, nil
	}
	t.Cleanup(func() { fsOf = old })
}

func placeEnv(t *testing.T) (home, tmp string) {
	t.Helper()
	home, tmp = t.TempDir(), t.TempDir()
	t.Setenv("HUSK_ROOT", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)
	return home, tmp
}

func TestPlaceDefaultAndHuskRoot(t *testing.T) {
	home, _ := placeEnv(t)
	onNetwork(t, "/nowhere")
	p, err := Place()
	if err != nil || p.How != "default" || p.Root != filepath.Join(home, ".local", "share", "husk") {
		t.Fatalf("local HOME: %+v, %v", p, err)
	}
	onNetwork(t, home)
	t.Setenv("HUSK_ROOT", filepath.Join(home, "r"))
	if p, err := Place(); err != nil || p.How != "HUSK_ROOT" || p.Root != filepath.Join(home, "r") {
		t.Fatalf("HUSK_ROOT on a network filesystem wins: %+v, %v", p, err)
	}
}

func TestPlaceNodeLocal(t *testing.T) {
	home, tmp := placeEnv(t)
	onNetwork(t, home)
	p, err := Place()
	want := filepath.Join(tmp, "husk-store-"+strconv.Itoa(HostUID()))
	if err != nil || p.How != "node-local" || p.Root != want || !strings.Contains(p.Reason, "nfs") {
		t.Fatalf("HOME on nfs: %+v, %v; want node-local %s", p, err, want)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the node-local root: %v, %v; want mode 0700", fi, err)
	}
	if _, err := os.Stat(filepath.Join(want, placedMarker)); err != nil {
		t.Errorf("no marker of the line said: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".local", "share", "husk", "startcache"))
	if err != nil || string(b) != filepath.Join(want, "startcache")+"\n" {
		t.Errorf("the prelaunch's pointer: %q, %v", b, err)
	}
}

// A directory in the way that others can enter is refused, not used.
func TestPlaceRefusesOpenDir(t *testing.T) {
	home, tmp := placeEnv(t)
	onNetwork(t, home)
	dir := filepath.Join(tmp, "husk-store-"+strconv.Itoa(HostUID()))
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if p, err := Place(); err == nil || !strings.Contains(err.Error(), "HUSK_ROOT") {
		t.Fatalf("want a refusal naming HUSK_ROOT, got %+v, %v", p, err)
	}
}
