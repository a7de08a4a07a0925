package squash

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"husk/store"
)

// tree lists dir as the copy's tests compare it: each entry's path, type
// and mode bits, owners, size (of a regular file), link target, and which
// entries share an inode.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	inodes := map[uint64]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := fi.Sys().(*syscall.Stat_t)
		l := fmt.Sprintf("%s %o %d:%d", rel, st.Mode, st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			l += fmt.Sprint(" ", fi.Size())
			if first, ok := inodes[st.Ino]; ok {
				l += " =" + first
			}
			inodes[st.Ino] = rel
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			l += " -> " + target
		}
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// The walk over go-diskfs's reader makes the tree unsquashfs makes:
// owners, setuid, setgid and sticky bits, hard and symbolic links, a fifo;
// under the single mapping every owner is the namespace's root.
func TestExtractAsUnsquashfs(t *testing.T) {
	mksquashfs, err1 := exec.LookPath("mksquashfs")
	unsquashfs, err2 := exec.LookPath("unsquashfs")
	if err1 != nil || err2 != nil || os.Getuid() != 0 {
		t.Skip("needs mksquashfs, unsquashfs and root (to own files as others)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, d := range []string{"bin", "etc", "tmp", "shared", "data"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "bin", "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(src, "bin", "suid"), 0o4755))
	must(os.WriteFile(filepath.Join(src, "etc", "owned"), []byte("owned\n"), 0o640))
	must(os.Chown(filepath.Join(src, "etc", "owned"), 1000, 1000))
	must(os.Chown(filepath.Join(src, "shared"), 1000, 100))
	must(unix.Chmod(filepath.Join(src, "shared"), 0o2775))
	must(unix.Chmod(filepath.Join(src, "tmp"), 0o1777))
	must(os.WriteFile(filepath.Join(src, "data", "a"), []byte(strings.Repeat("data ", 100000)), 0o600))
	must(os.Link(filepath.Join(src, "data", "a"), filepath.Join(src, "etc", "hl")))
	must(os.Symlink("../data/a", filepath.Join(src, "etc", "sym")))
	must(os.Symlink("/nowhere", filepath.Join(src, "dangling")))
	must(unix.Mkfifo(filepath.Join(src, "etc", "fifo"), 0o644))
	must(os.Chmod(filepath.Join(src, "data"), 0o500))
	file := filepath.Join(dir, "t.sqsh")
	if out, err := exec.Command(mksquashfs, src, file, "-quiet", "-no-progress", "-noappend").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v: %s", err, out)
	}
	want := filepath.Join(dir, "want")
	if out, err := exec.Command(unsquashfs, "-no-xattrs", "-quiet", "-no-progress", "-dest", want, file).CombinedOutput(); err != nil {
		t.Fatalf("unsquashfs: %v: %s", err, out)
	}
	sq, f, _, err := open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &walker{sq: sq, links: map[uint32]string{}}
	got := filepath.Join(dir, "got")
	must(os.Mkdir(got, 0o755))
	must(w.dir(".", got))
	// The roots differ by design (the server shows 0755): compare below.
	wantList, gotList := listTree(t, want), listTree(t, got)
	wantList, gotList = wantList[strings.Index(wantList, "\n")+1:], gotList[strings.Index(gotList, "\n")+1:]
	if gotList != wantList {
		t.Errorf("the walk's tree differs from unsquashfs's:\n--- unsquashfs:\n%s\n--- walk:\n%s", wantList, gotList)
	}

	single := filepath.Join(dir, "single")
	must(os.Mkdir(single, 0o755))
	w = &walker{sq: sq, single: true, links: map[uint32]string{}}
	must(w.dir(".", single))
	if l := listTree(t, single); strings.Contains(l, "1000:") || !strings.Contains(l, "shared 42775 0:0") {
		t.Errorf("under the single mapping, want every owner root and the modes kept:\n%s", l)
	}
	if need, err := unpackedSize(sq); err != nil || need < 500000 {
		t.Errorf("unpackedSize: %d, %v: want at least the 500,000 bytes of data/a", need, err)
	}
}

// sweep removes what killed unpacks left, old markers and the copies of
// other versions, but not a copy a sandbox holds, nor the one kept.
func TestSweep(t *testing.T) {
	t.Setenv("HUSK_ROOT", t.TempDir())
	dir := t.TempDir()
	for _, d := range []string{".tmp-new-123/root/x", "new/root", "old/root/y", "held/root", ".old-gone/root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{".lock", ".nocopy-old", ".nocopy-new"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inuse, err := store.InUsePath("squash-held")
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.OpenFile(inuse, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := unix.Flock(int(h.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	sweep(dir, "new")
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{".lock", ".nocopy-new", "held", "new"}; !slices.Equal(names, want) {
		t.Errorf("after the sweep: %v, want %v", names, want)
	}
}

// room wants a tenth of the filesystem and 1 GiB free after the copy.
func TestRoom(t *testing.T) {
	dir := t.TempDir()
	if err := room(dir, 1<<62); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("a copy larger than the disk: %v, want no room", err)
	}
}
