package fuse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"husk/userns"
)

// envProbeDir makes the re-run test binary probe that directory inside a
// user namespace and print the results, instead of running the tests.
const envProbeDir = "HUSK_FUSE_TEST_PROBE"

func TestMain(m *testing.M) {
	if err := userns.ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	if dir := os.Getenv(envProbeDir); dir != "" {
		res := map[Strategy]string{}
		for _, r := range ProbeAll(dir) {
			res[r.Strategy] = fmt.Sprint(r.Err)
		}
		json.NewEncoder(os.Stdout).Encode(res)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParse(t *testing.T) {
	for _, s := range Strategies {
		if got, err := Parse(string(s)); err != nil || got != s {
			t.Errorf("Parse(%q) = %q, %v", s, got, err)
		}
	}
	_, err := Parse("btrfs")
	if err == nil || !strings.Contains(err.Error(), "overlay, fuse-overlayfs, vfs") {
		t.Fatalf("got %v", err)
	}
}

func TestForcedIsRecordedOnAnEmptyStore(t *testing.T) {
	graph := filepath.Join(t.TempDir(), "storage")
	if s, err := Select(graph, "vfs"); err != nil || s != VFS {
		t.Fatalf("Select = %q, %v", s, err)
	}
	if rec, err := Recorded(graph); err != nil || rec != VFS {
		t.Fatalf("Recorded = %q, %v", rec, err)
	}
	// Unforced now: the record wins, no probe.
	if s, err := Select(graph, ""); err != nil || s != VFS {
		t.Fatalf("Select = %q, %v", s, err)
	}
	// No layers yet: another forced choice replaces the record.
	if s, err := Select(graph, "fuse-overlayfs"); err != nil || s != FuseOverlayfs {
		t.Fatalf("Select = %q, %v", s, err)
	}
}

func TestForcedDifferentUnderLayersIsRefused(t *testing.T) {
	graph := filepath.Join(t.TempDir(), "storage")
	if _, err := Select(graph, "overlay"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(graph, "overlay-layers"), 0o700)
	os.WriteFile(filepath.Join(graph, "overlay-layers", "layers.json"), []byte(`[{"id":"x"}]`), 0o600)
	_, err := Select(graph, "vfs")
	if err == nil || !strings.Contains(err.Error(), "husk system reset") || !strings.Contains(err.Error(), "written with overlay") {
		t.Fatalf("got %v", err)
	}
	if s, err := Select(graph, "overlay"); err != nil || s != Overlay {
		t.Fatalf("the recorded one: %q, %v", s, err)
	}
}

func TestHasLayers(t *testing.T) {
	graph := t.TempDir()
	os.MkdirAll(filepath.Join(graph, "vfs-layers"), 0o700)
	os.WriteFile(filepath.Join(graph, "vfs-layers", "layers.json"), []byte("[]\n"), 0o600)
	if HasLayers(graph) {
		t.Fatal("an empty list counts as layers")
	}
	os.WriteFile(filepath.Join(graph, "vfs-layers", "layers.json"), []byte(`[{"id":"a"}]`), 0o600)
	if !HasLayers(graph) {
		t.Fatal("a layer was missed")
	}
}

func TestStoreFS(t *testing.T) {
	fi, err := StoreFS(filepath.Join(t.TempDir(), "not", "yet"))
	if fi.Type == "" {
		t.Fatalf("no type (%v)", err)
	}
	if (err != nil) != fi.Network {
		t.Fatalf("network %v but error %v", fi.Network, err)
	}
}

// TestProbeAllInNamespace probes in a user namespace (single mapping) and
// checks that nothing is left behind.
func TestProbeAllInNamespace(t *testing.T) {
	dir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	mapping := &userns.Mapping{Mode: userns.ModeSingle, UID: uid, GID: gid,
		UIDMap: []userns.IDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GIDMap: []userns.IDMap{{ContainerID: 0, HostID: gid, Size: 1}}}
	var out bytes.Buffer
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), envProbeDir+"="+dir)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := userns.Start(mapping, cmd, 0); err != nil {
		t.Skipf("user namespaces unavailable: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("probe child: %v", err)
	}
	var res map[Strategy]string
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if res[VFS] != "<nil>" || len(res) != 3 {
		t.Fatalf("results %v", res)
	}
	t.Logf("probes: %v", res)
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
