package store

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tarsplit "github.com/vbatts/tar-split/tar/storage"
	"go.podman.io/storage/pkg/archive"
)

// unpackSparse unpacks tarData into a new directory as unpackOnThread
// does, without its chroot.
func unpackSparse(t *testing.T, tarData []byte) string {
	t.Helper()
	dir := t.TempDir()
	sp := newSparser(bytes.NewReader(tarData), dir)
	if err := archive.Unpack(sp, dir, &archive.TarOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sp.removeLinks(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantSparse checks a file's size, its last byte, its few blocks and one
// link.
func wantSparse(t *testing.T, path string, size int64, last byte) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 64<<10 || st.Nlink != 1 {
		t.Errorf("%s: size %d blocks %d links %d; want size %d, a few blocks, one link", path, st.Size, st.Blocks, st.Nlink, size)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if data[len(data)-1] != last || bytes.Count(data, []byte{0}) != len(data)-1 {
		t.Errorf("%s: content changed", path)
	}
}

func TestSparseTar(t *testing.T) {
	const size = 8 << 20
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := make([]byte, size)
	content[size-1] = 'x'
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, ModTime: mtime},
		{Typeflag: tar.TypeReg, Name: "d/zeros", Mode: 0o4755, Size: size, ModTime: mtime,
			PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}},
		{Typeflag: tar.TypeLink, Name: "d/again", Linkname: "d/zeros", Mode: 0o4755, ModTime: mtime},
		{Typeflag: tar.TypeReg, Name: "small", Mode: 0o644, Size: 3, ModTime: mtime},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		switch h.Name {
		case "d/zeros":
			tw.Write(content)
		case "small":
			tw.Write([]byte("abc"))
		}
	}
	tw.Close()
	dir := unpackSparse(t, buf.Bytes())
	zeros := filepath.Join(dir, "d/zeros")
	var st syscall.Stat_t
	if err := syscall.Stat(zeros, &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 2 || st.Mode&0o7777 != 0o4755 || st.Mtim.Sec != mtime.Unix() || st.Blocks*512 > 64<<10 {
		t.Errorf("d/zeros: links %d mode %o mtime %d blocks %d", st.Nlink, st.Mode, st.Mtim.Sec, st.Blocks)
	}
	if v := make([]byte, 8); true {
		n, err := syscall.Getxattr(zeros, "user.k", v)
		if err != nil || string(v[:n]) != "v" {
			t.Errorf("d/zeros: xattr user.k = %q, %v", v[:n], err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "small")); string(b) != "abc" {
		t.Errorf("small: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".husk-sparse") {
			t.Errorf("left %s", e.Name())
		}
	}
}

// GNU tar's sparse formats (the old GNU type and PAX 1.0) unpack with
// their holes.
func TestSparseGNUFormats(t *testing.T) {
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	f.WriteAt([]byte("x"), size-1)
	f.Close()
	for _, format := range []string{"gnu", "pax"} {
		out, err := exec.Command("tar", "--sparse", "--format="+format, "-cf", "-", "-C", src, "sparse").Output()
		if err != nil {
			t.Fatalf("tar --format=%s: %v", format, err)
		}
		if len(out) > 64<<10 {
			t.Fatalf("tar --format=%s wrote %d bytes: not sparse", format, len(out))
		}
		dir := unpackSparse(t, out)
		wantSparse(t, filepath.Join(dir, "sparse"), size, 'x')
	}
}

// A sparse entry passes the splitter raw (its map and data, not its
// filled-in content), so that the unpacker reads the same tar.
func TestSplitterPassesSparseRaw(t *testing.T) {
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
		out, err := io.ReadAll(newSplitter(bytes.NewReader(raw), tarsplit.NewJSONPacker(io.Discard)))
		if err != nil || !bytes.Equal(out, raw) {
			t.Errorf("%s: the splitter changed the stream (%d bytes in, %d out): %v", format, len(raw), len(out), err)
		}
	}
}
