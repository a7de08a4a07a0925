package integration

import (
	"fmt"
	"strings"
	"testing"
)

// layersScript prints what a user would check in the layers image's root
// filesystem: owners, modes, sizes and link counts, symlinks, whiteouts and
// the opaque directory.
const layersScript = `
stat -c '%n|%u:%g|%a|%s|%h' owners/root-file owners/tester-file owners/nobody-file owners/tester-dir setuid-bin big/zeros hard/orig hard/link1 links/target
echo "readlink rel=$(readlink links/rel)"
echo "readlink abs=$(readlink links/abs)"
echo "cat rel=$(cat links/rel)"
echo "cat up=$(cat links/up)"
echo "ls opaque=$(ls -A opaque | tr '\n' ' ')"
for f in gone gone-dir added; do
	if [ -e "$f" ]; then echo "exists $f=yes"; else echo "exists $f=no"; fi
done
echo "cat added=$(cat added)"
`

// checkLayersImage checks the pulled layers image as a user would, through
// husk unshare and husk image mount.
func checkLayersImage(t *testing.T, e *env, ref string) {
	t.Helper()
	verifyLayersContent(t, e.inImage(ref, layersScript).stdout)
}

// verifyLayersContent checks layersScript's output.
func verifyLayersContent(t *testing.T, out string) {
	t.Helper()
	stat := map[string]string{} // name -> owner|mode|size|links
	kv := map[string]string{}
	for _, l := range lines(out) {
		if name, rest, ok := strings.Cut(l, "|"); ok {
			stat[name] = rest
		} else if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	owner := func(uid int) string {
		if !me.Subuid {
			uid = 0 // single mapping: every owner squashed to the user, root inside
		}
		return fmt.Sprintf("%d:%d", uid, uid)
	}
	want := map[string]string{
		"owners/root-file":   owner(0) + "|644|5|1",
		"owners/tester-file": owner(1000) + "|644|7|1",
		"owners/nobody-file": owner(65534) + "|644|7|1",
		"setuid-bin":         fmt.Sprintf("%s|4755|%d|1", owner(0), len(SetuidScript)),
		"big/zeros":          fmt.Sprintf("%s|644|%d|1", owner(0), BigFileSize),
		"hard/orig":          owner(0) + "|644|5|3",
		"hard/link1":         owner(0) + "|644|5|3",
		"links/target":       owner(0) + "|644|7|1",
	}
	for name, w := range want {
		if got := stat[name]; got != w {
			t.Errorf("%s: owner|mode|size|links = %q, want %q", name, got, w)
		}
	}
	// A directory's size and link count depend on the filesystem.
	if got := stat["owners/tester-dir"]; !strings.HasPrefix(got, owner(1000)+"|750|") {
		t.Errorf("owners/tester-dir: owner|mode = %q, want %s|750", got, owner(1000))
	}
	wantKV := map[string]string{
		"readlink rel":    "target",
		"readlink abs":    "/links/target",
		"cat rel":         "target",
		"cat up":          "root",
		"ls opaque":       "new1 ", // the opaque directory holds only the third layer's entry
		"exists gone":     "no",    // whited out
		"exists gone-dir": "no",
		"exists added":    "yes",
		"cat added":       "layer 3",
	}
	for k, w := range wantKV {
		if got, ok := kv[k]; !ok || got != w {
			t.Errorf("%s: got %q, want %q", k, got, w)
		}
	}
	if t.Failed() {
		t.Logf("in the image:\n%s", out)
	}
}

// checkNotice: the user without subuid ranges gets exactly one notice that
// owners were squashed; the user with ranges gets none.
func checkNotice(t *testing.T, r result) {
	t.Helper()
	n := notices(r.stderr)
	if me.Subuid && n != 0 {
		t.Errorf("with subuid ranges, want no notice: %s", r)
	}
	if !me.Subuid && n != 1 {
		t.Errorf("without subuid ranges, want exactly one \"husk: notice:\" line about squashed owners: %s", r)
	}
}
