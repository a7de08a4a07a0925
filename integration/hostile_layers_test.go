package integration

import (
	"archive/tar"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
)

// hostileImage pushes busybox with one more layer of entries, under a
// fresh name.
func hostileImage(t *testing.T, name string, entries []Entry) string {
	t.Helper()
	base, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	l, err := TarLayer(entries)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, v1.Config{Cmd: []string{"sh"}}); err != nil {
		t.Fatal(err)
	}
	repo := name + "-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	return plain.Ref(repo)
}

// hostileEnv is a sandboxEnv with its store in HOME/root and a canary
// file beside it, which no layer may touch.
func hostileEnv(t *testing.T) (e *env, root, canary string) {
	e = sandboxEnv(t, "")
	root = filepath.Join(e.home, "root")
	e.vars["HUSK_ROOT"] = root
	canary = e.writeFile("canary", []byte("canary\n"), 0o644)
	return e, root, canary
}

// afterHostile checks what every case of the battery keeps: the canary,
// nothing escaped, and a good image pulls and runs.
func afterHostile(e *env, canary string) {
	e.t.Helper()
	if b, err := os.ReadFile(canary); err != nil || string(b) != "canary\n" {
		e.t.Errorf("a file outside the store changed: %s: %q, %v", canary, b, err)
	}
	noEscapedFiles(e.t, e.home)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	if out := e.sbxOut([]string{"--rm"}, ref, "echo", "good"); out != "good" {
		e.t.Errorf("a good image after the hostile one: %q", out)
	}
	e.noLeftovers()
}

// Hostile layers (issue 19's battery), as each user: what a layer may ask
// for and what husk makes of it. Refused layers end in one line naming the
// entry, exit 125 and no image; accepted ones give no more than a
// container may have; after each, nothing outside the store changed and a
// good image pulls and runs.
func TestHostileLayers(t *testing.T) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	busybox := func(name string, mode int64) Entry {
		e := File(name, mode, 0, 0, "")
		e.Data, e.Hdr.Size = bb, int64(len(bb))
		return e
	}

	// Device nodes cannot be made in a user namespace: the layer pulls and
	// the image holds no device that opens the host's.
	t.Run("devices", func(t *testing.T) {
		e, _, canary := hostileEnv(t)
		ref := hostileImage(t, "devices", []Entry{
			{Hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev-mem", Mode: 0o666, Devmajor: 1, Devminor: 1, ModTime: epoch}},
			{Hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev-disk", Mode: 0o666, Devmajor: 8, Devminor: 0, ModTime: epoch}},
			{Hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o644, ModTime: epoch}},
		})
		e.pull(ref)
		out := e.sbxOut([]string{"--rm"}, ref, "sh", "-c",
			`for f in /dev-mem /dev-disk; do if [ -c $f ] || [ -b $f ]; then head -c 1 $f >/dev/null 2>&1 && echo "$f opens"; fi; done; echo done`)
		if out != "done" {
			t.Errorf("a device node of the layer opens in the container: %q", out)
		}
		afterHostile(e, canary)
	})

	// A setuid-root file and a file capability (CAP_SYS_ADMIN, effective)
	// give no more than the container's own: the capability is out of the
	// bounding set, and in the store the xattr is the user namespace's
	// (version 3, its root's host uid), never one the host honours.
	t.Run("setuid and capability", func(t *testing.T) {
		e, root, canary := hostileEnv(t)
		capb := busybox("cap/grep", 0o755)
		capb.Hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(fileCapV2(21))}
		ref := hostileImage(t, "caps", []Entry{Dir("cap/", 0o755, 0, 0), capb, Dir("suid/", 0o755, 0, 0), busybox("suid/id", 0o4755)})
		e.pull(ref)
		out := e.sbxOut([]string{"--rm"}, ref, "sh", "-c", `/cap/grep CapEff /proc/self/status 2>/dev/null || echo refused; stat -c %a /suid/id`)
		l := lines(out)
		if len(l) != 2 || l[1] != "4755" {
			t.Fatalf("the capability and setuid image: %q", out)
		}
		if eff, ok := strings.CutPrefix(l[0], "CapEff:"); ok {
			var bits uint64
			fmt.Sscanf(strings.TrimSpace(eff), "%x", &bits)
			if bits&(1<<21) != 0 {
				t.Errorf("the file capability gave CAP_SYS_ADMIN in the container: %q", l[0])
			}
		} else if l[0] != "refused" { // the kernel refuses the exec: the capability is out of the bounding set
			t.Errorf("running the file with a capability: %q", l[0])
		}
		found := 0
		_ = filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
			if err != nil || !strings.HasSuffix(path, "/cap/grep") || !fi.Mode().IsRegular() {
				return nil
			}
			buf := make([]byte, 64)
			n, err := unix.Lgetxattr(path, "security.capability", buf)
			if err != nil {
				return nil // dropped: nothing to honour
			}
			found++
			if n < 24 || binary.LittleEndian.Uint32(buf)&0xff000000 != 0x03000000 || binary.LittleEndian.Uint32(buf[20:]) == 0 {
				t.Errorf("%s holds a capability the host honours: % x", path, buf[:n])
			}
			return nil
		})
		t.Logf("stored copies with the capability xattr: %d", found)
		afterHostile(e, canary)
	})

	// 100,000 small files pull, whole, in bounded time.
	t.Run("100k files", func(t *testing.T) {
		e, _, canary := hostileEnv(t)
		entries := []Entry{Dir("many/", 0o755, 0, 0)}
		for d := 0; d < 100; d++ {
			entries = append(entries, Dir(fmt.Sprintf("many/d%02d/", d), 0o755, 0, 0))
			for f := 0; f < 1000; f++ {
				entries = append(entries, File(fmt.Sprintf("many/d%02d/f%03d", d, f), 0o644, 0, 0, "x"))
			}
		}
		ref := hostileImage(t, "many", entries)
		start := time.Now()
		e.pull(ref)
		t.Logf("pull of 100,000 files: %s", time.Since(start))
		if out := e.sbxOut([]string{"--rm"}, ref, "sh", "-c", "find /many -type f | wc -l"); out != "100000" {
			t.Errorf("want 100000 files in the container: %q", out)
		}
		afterHostile(e, canary)
	})

	// A name of 255 bytes is a name; one of 256, or a path past PATH_MAX,
	// is refused by name.
	t.Run("long names", func(t *testing.T) {
		e, _, canary := hostileEnv(t)
		n255 := strings.Repeat("n", 255)
		ref := hostileImage(t, "long-ok", []Entry{File(n255, 0o644, 0, 0, "long\n")})
		e.pull(ref)
		if out := e.sbxOut([]string{"--rm"}, ref, "cat", "/"+n255); out != "long" {
			t.Errorf("a 255-byte name: %q", out)
		}
		e.ok("rmi", ref)
		n256 := strings.Repeat("m", 256)
		e.wantError(e.run("pull", hostileImage(t, "long-name", []Entry{File(n256, 0o644, 0, 0, "x")})), "mmmm")
		var deep []Entry
		p := ""
		for i := 0; i < 20; i++ {
			p += strings.Repeat(string(rune('a'+i)), 250) + "/"
			deep = append(deep, Dir(p, 0o755, 0, 0))
		}
		deep = append(deep, File(p+"f", 0o644, 0, 0, "x"))
		e.wantError(e.run("pull", hostileImage(t, "long-path", deep)), "aaaa")
		if out := strings.TrimSpace(e.out("images", "-q")); out != "" {
			t.Errorf("refused pulls left images: %q", out)
		}
		afterHostile(e, canary)
	})

	// An opaque whiteout of / hides every lower layer, as the OCI spec has
	// it; whiteouts of ".", ".." and of / through a directory are refused,
	// and remove nothing.
	t.Run("whiteouts of /", func(t *testing.T) {
		ref := hostileImage(t, "opaque-root", []Entry{File(".wh..wh..opq", 0o644, 0, 0, ""), Dir("kept/", 0o755, 0, 0), busybox("kept/ls", 0o755)})
		for _, strategy := range strategies {
			e := sandboxEnv(t, strategy)
			e.pull(ref, "--storage-driver", strategy)
			out := e.sbxOut([]string{"--rm", "--entrypoint", "/kept/ls"}, ref, "-A", "/")
			if strings.Contains(out, "bin") || !strings.Contains(out, "kept") {
				t.Errorf("an opaque whiteout of / on %s: want only the top layer's files: %q", strategy, out)
			}
		}
		e, _, canary := hostileEnv(t)
		for _, name := range []string{".wh...", ".wh..", "bin/.wh...", "./.wh...", "bin/.wh."} {
			r := e.run("pull", hostileImage(t, "whiteout-dots", []Entry{File(name, 0o644, 0, 0, "")}))
			e.wantFault(r, fmt.Sprintf("%q", name), "ask its publisher")
		}
		afterHostile(e, canary)
	})
}

// fileCapV2 is a security.capability xattr (VFS_CAP_REVISION_2) giving
// capability bit in the permitted set, effective.
func fileCapV2(bit uint) []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b, 0x02000000|1) // revision 2, effective
	binary.LittleEndian.PutUint32(b[4:], 1<<bit)
	return b
}
