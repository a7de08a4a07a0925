package sandbox

import (
	"strings"
	"testing"
)

// The -v, --ulimit, --add-host and --device specs are the user's input:
// each is refused with an error or parsed, never a crash; a volume that
// parses has absolute paths.
func FuzzUserSpecs(f *testing.F) {
	for _, s := range []string{"/a:/b", "/a:/b:ro", "/a:/b:ro,z", "rel:/b", "/a", "/a:/b:x:y", "", ":", "/:/",
		"nofile=1024:2048", "nproc=-1", "db:10.1.2.3", "gw:host-gateway", "/dev/null:/dev/n:rwm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if op, err := VolumeOp(s); err == nil && (!strings.HasPrefix(op.Source, "/") || !strings.HasPrefix(op.Target, "/")) {
			t.Fatalf("volume %q gave %q -> %q", s, op.Source, op.Target)
		}
		_, _ = ParseUlimit(s)
		_, _ = ParseAddHost(s, "builtin")
		_, _ = ParseDevice(s)
	})
}
