package userns

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSubid(t *testing.T) {
	const file = `# comment
alice:100000:65536
1001:300000:1000
bob:165536:65536
alice:400000:10
alice:bad:10
alice:500000:0
alice:600000
:700000:10
`
	tests := []struct {
		name string
		uid  int
		want []Range
	}{
		{"alice", 1001, []Range{{100000, 65536}, {300000, 1000}, {400000, 10}}}, // by name and by uid, in file order
		{"bob", 1002, []Range{{165536, 65536}}},
		{"carol", 1003, nil},
		{"", 1001, []Range{{300000, 1000}}}, // no name (LDAP user under the pure-Go lookup): by uid only
	}
	for _, tc := range tests {
		got, err := parseSubid(strings.NewReader(file), tc.name, tc.uid)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s/%d: got %v, want %v", tc.name, tc.uid, got, tc.want)
		}
	}
}

func TestParseGetsubids(t *testing.T) {
	out := "0: alice 100000 65536\n1: alice 300000 10\nError fetching ranges\n"
	want := []Range{{100000, 65536}, {300000, 10}}
	if got := parseGetsubids([]byte(out)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAppendRanges(t *testing.T) {
	got := appendRanges([]IDMap{{0, 1000, 1}}, []Range{{100000, 65536}, {300000, 10}})
	want := []IDMap{{0, 1000, 1}, {1, 100000, 65536}, {65537, 300000, 10}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestDetectNoRanges: without ranges the mapping is the single one, with
// the usermod fix among its problems.
func TestDetectNoRanges(t *testing.T) {
	dir := t.TempDir()
	defer swap(&subuidFile, filepath.Join(dir, "subuid"))()
	defer swap(&subgidFile, filepath.Join(dir, "subgid"))()
	t.Setenv("PATH", dir) // no getsubids
	defer swap(&fallbackDir, "")()
	p, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != ModeSingle || len(p.UIDMap) != 1 || p.UIDMap[0] != (IDMap{0, os.Getuid(), 1}) {
		t.Fatalf("plan %+v", p)
	}
	if len(p.Problems) != 1 || !strings.Contains(FixOf(p.Problems[0]), "usermod --add-subuids") {
		t.Fatalf("problems %v", p.Problems)
	}
}

func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	defer swap(&procSys, dir)()
	if errs := Preflight(); len(errs) != 0 {
		t.Fatalf("no switches, got %v", errs)
	}
	os.MkdirAll(filepath.Join(dir, "kernel"), 0o755)
	os.WriteFile(filepath.Join(dir, "kernel/unprivileged_userns_clone"), []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kernel/apparmor_restrict_unprivileged_userns"), []byte("0\n"), 0o644)
	errs := Preflight()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "sudo sysctl -w kernel.unprivileged_userns_clone=1") {
		t.Fatalf("got %v", errs)
	}
}

func TestCheckHelperPlain(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "newuidmap"), []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", dir)
	_, err := checkHelper("newuidmap", capSetuid)
	if err == nil || !strings.Contains(FixOf(err), "chmod u+s") {
		t.Fatalf("got %v", err)
	}
}

func swap(v *string, to string) func() {
	old := *v
	*v = to
	return func() { *v = old }
}
