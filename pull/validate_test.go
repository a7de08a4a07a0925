package pull

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	digest "github.com/opencontainers/go-digest"
)

type entry struct {
	name, link string
	typ        byte
}

func tarOf(t *testing.T, es []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644}
		body := []byte{}
		if e.typ == tar.TypeReg {
			body = []byte("data")
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return b.Bytes()
}

func TestCheckerRules(t *testing.T) {
	reg, dir, sym, hard := byte(tar.TypeReg), byte(tar.TypeDir), byte(tar.TypeSymlink), byte(tar.TypeLink)
	cases := []struct {
		name    string
		entries []entry
		escape  bool
	}{
		{"plain files", []entry{{"bin/", "", dir}, {"bin/busybox", "", reg}, {"./etc/passwd", "", reg}}, false},
		{"dotdot inside the root", []entry{{"a/../b", "", reg}}, false},
		{"dotdot out", []entry{{"../evil", "", reg}}, true},
		{"dotdot out deeper", []entry{{"a/../../evil", "", reg}}, true},
		{"absolute name", []entry{{"/etc/passwd", "", reg}}, true},
		{"absolute symlink", []entry{{"bin/sh", "/bin/busybox", sym}}, false},
		{"relative symlink inside", []entry{{"usr/bin/sh", "../../bin/busybox", sym}}, false},
		{"relative symlink out", []entry{{"usr/x", "../../../etc", sym}}, true},
		{"entry through a symlink", []entry{{"link", "/tmp", sym}, {"link/evil", "", reg}}, true},
		{"entry through a deep symlink", []entry{{"a/link", "/tmp", sym}, {"a/link/b/evil", "", reg}}, true},
		{"symlink replaced by a dir", []entry{{"d", "/tmp", sym}, {"d/", "", dir}, {"d/f", "", reg}}, false},
		{"hard link inside", []entry{{"bin/busybox", "", reg}, {"bin/ls", "bin/busybox", hard}}, false},
		{"hard link out", []entry{{"hl", "../../etc/passwd", hard}}, true},
		{"hard link absolute", []entry{{"hl", "/etc/passwd", hard}}, true},
		{"hard link through a symlink", []entry{{"l", "/etc", sym}, {"hl", "l/passwd", hard}}, true},
		{"hard link to a symlink", []entry{{"l", "/etc", sym}, {"hl", "l", hard}}, false},
		{"entry through a hard link to a symlink", []entry{{"l", "/etc", sym}, {"hl", "l", hard}, {"hl/passwd", "", reg}}, true},
		{"whiteout", []entry{{"etc/.wh.motd", "", reg}, {"var/.wh..wh..opq", "", reg}, {".wh..wh..opq", "", reg}}, false},
		{"whiteout of ..", []entry{{".wh...", "", reg}}, true},
		{"whiteout of .", []entry{{"bin/.wh..", "", reg}}, true},
		{"whiteout of the root through a directory", []entry{{"./bin/.wh...", "", reg}}, true},
		{"whiteout of nothing", []entry{{"bin/.wh.", "", reg}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := tarOf(t, c.entries)
			sum := sha256.Sum256(raw)
			chk := newChecker(bytes.NewReader(raw), digest.NewDigestFromBytes(digest.SHA256, sum[:]))
			out, err := io.ReadAll(chk)
			var esc *EscapeError
			if got := errors.As(err, &esc); got != c.escape {
				t.Fatalf("escape = %v, want %v (err %v)", got, c.escape, err)
			}
			if !c.escape && !bytes.Equal(out, raw) {
				t.Fatalf("the stream changed: %d bytes in, %d out", len(raw), len(out))
			}
		})
	}
}

func TestCheckerHoldsBackTheBadHeader(t *testing.T) {
	raw := tarOf(t, []entry{{"ok", "", tar.TypeReg}, {"/evil", "", tar.TypeReg}})
	out, err := io.ReadAll(newChecker(bytes.NewReader(raw), ""))
	if err == nil {
		t.Fatal("no error")
	}
	if bytes.Contains(out, []byte("/evil")) {
		t.Fatal("the escaping header reached the consumer")
	}
}

func TestCheckerDiffID(t *testing.T) {
	raw := tarOf(t, []entry{{"f", "", tar.TypeReg}})
	want := digest.FromString("something else")
	_, err := io.ReadAll(newChecker(bytes.NewReader(raw), want))
	var de *DiffIDError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DiffIDError", err)
	}
	// Finish after a consumer that stopped early still checks it all.
	chk := newChecker(bytes.NewReader(raw), digest.FromBytes(raw))
	chk.Read(make([]byte, 10))
	if err := chk.Finish(); err != nil {
		t.Fatalf("Finish: %v", err)
	}
}

// File content goes through unchanged however the reads are cut, and the
// diff ID covers it all, padding included.
func TestCheckerPassesContentThrough(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i, size := range []int{0, 1, 511, 512, 513, 100 << 10, 1 << 20} {
		body := bytes.Repeat([]byte{byte(i + 1)}, size)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d/f%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	b.Write(make([]byte, 5000)) // padding after the marker
	raw := b.Bytes()
	for _, r := range []io.Reader{bytes.NewReader(raw), iotest.HalfReader(bytes.NewReader(raw)), iotest.OneByteReader(bytes.NewReader(raw))} {
		out, err := io.ReadAll(newChecker(r, digest.FromBytes(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, raw) {
			t.Fatalf("the stream changed: %d bytes in, %d out", len(raw), len(out))
		}
	}
}

func TestLeaves(t *testing.T) {
	for p, want := range map[string]bool{"a": false, "..": true, "a/..": false, "a/../..": true, "./a/./b/../../c": false, "": false} {
		if got := leaves(p); got != want {
			t.Errorf("leaves(%q) = %v, want %v", p, got, want)
		}
	}
}

// Files that add up to more than the limit are refused at the header that
// crosses it; below it the stream passes unchanged.
func TestCheckerBoundsExpansion(t *testing.T) {
	t.Setenv("HUSK_LAYER_EXPANSION", "1") // MiB
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, size := range []int64{600 << 10, 600 << 10} {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", buf.Len()), Typeflag: tar.TypeReg, Size: size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	_, err := io.ReadAll(newLimitedChecker(bytes.NewReader(buf.Bytes()), "", 10))
	var ex *ExpansionError
	if !errors.As(err, &ex) {
		t.Fatalf("1.2 MiB of files from a 10-byte blob under a 1 MiB limit: %v", err)
	}
	if out, err := io.ReadAll(newLimitedChecker(bytes.NewReader(buf.Bytes()), "", 1<<20)); err != nil || !bytes.Equal(out, buf.Bytes()) {
		t.Fatalf("within 2000 times a 1 MiB blob: %v", err)
	}
}

// A GNU sparse entry passes the checker raw (its map and data), not with
// its holes filled in.
func TestCheckerPassesSparseRaw(t *testing.T) {
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("x"), 8<<20)
	f.Close()
	for _, format := range []string{"gnu", "pax"} {
		raw, err := exec.Command("tar", "--sparse", "--format="+format, "-cf", "-", "-C", src, "sparse").Output()
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(newChecker(bytes.NewReader(raw), digest.FromBytes(raw)))
		if err != nil || !bytes.Equal(out, raw) {
			t.Errorf("%s: the checker changed the stream (%d bytes in, %d out): %v", format, len(raw), len(out), err)
		}
		// Where containers/storage unpacks (vfs), the old GNU type is
		// refused by name; PAX sparse entries are regular files to it.
		chk := newChecker(bytes.NewReader(raw), digest.FromBytes(raw))
		chk.noGNU = true
		_, err = io.ReadAll(chk)
		if refused := err != nil && strings.Contains(err.Error(), `"sparse" is an old GNU sparse file`); refused != (format == "gnu") {
			t.Errorf("%s with noGNU: %v", format, err)
		}
	}
}
