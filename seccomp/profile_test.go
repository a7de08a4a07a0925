package seccomp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Profiles that would leave the init unable to exec or exit are refused by
// name; ones that allow the start, or decide by arguments, pass.
func TestFromFileStartCalls(t *testing.T) {
	for _, c := range []struct{ profile, refused string }{
		{`{"defaultAction":"SCMP_ACT_ERRNO"}`, "execve"},
		{`{"defaultAction":"SCMP_ACT_KILL"}`, "execve"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["exit_group"],"action":"SCMP_ACT_ERRNO"}]}`, "exit_group"},
		{`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["execve","write","exit","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`, ""},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":99,"op":"SCMP_CMP_EQ"}]}]}`, ""},
		{`{"defaultAction":"SCMP_ACT_ALLOW"}`, ""},
	} {
		path := filepath.Join(t.TempDir(), "p.json")
		if err := os.WriteFile(path, []byte(c.profile), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := FromFile(path, nil)
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: want it accepted: %v", c.profile, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), "denies "+c.refused)):
			t.Errorf("%s: want it refused for %s: %v", c.profile, c.refused, err)
		}
	}
}

// An endless file is read up to the cap, then refused.
func TestFromFileEndless(t *testing.T) {
	_, err := FromFile("/dev/zero", nil)
	if err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("seccomp=/dev/zero: want it refused as too large: %v", err)
	}
}
