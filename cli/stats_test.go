package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// The memory limit is the lowest memory.max on the container's cgroup
// path, "max" meaning none, else the host's memory.
func TestMemLimit(t *testing.T) {
	root := t.TempDir()
	job := filepath.Join(root, "job")
	ctr := filepath.Join(job, "ctr")
	os.MkdirAll(ctr, 0o755)
	os.WriteFile(filepath.Join(job, "memory.max"), []byte("1073741824\n"), 0o644)
	os.WriteFile(filepath.Join(ctr, "memory.max"), []byte("max\n"), 0o644)
	cg := filepath.Join(t.TempDir(), "cgroup")
	os.WriteFile(cg, []byte("0::/job/ctr\n"), 0o644)
	if got := memLimit(root, cg, 8<<30); got != 1<<30 {
		t.Errorf("under a job limited to 1 GiB: %d", got)
	}
	os.WriteFile(filepath.Join(ctr, "memory.max"), []byte("268435456\n"), 0o644)
	if got := memLimit(root, cg, 8<<30); got != 256<<20 {
		t.Errorf("a container limited to 256 MiB: %d", got)
	}
	os.WriteFile(cg, []byte("12:memory:/x\n"), 0o644)
	if got := memLimit(root, cg, 8<<30); got != 8<<30 {
		t.Errorf("no cgroup v2 path: want the host's memory, got %d", got)
	}
}
