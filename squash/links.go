package squash

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The squashfs writer (go-diskfs) lists each entry's extended attributes
// through the entry's path, following symlinks: an image's dangling
// symlinks (/etc/mtab -> /proc/mounts) would stop it. It reads a
// symlink's target later, by its path relative to the working directory.
// So, before it runs, each symlink of the tree is a stand-in pointing to
// an empty directory, and its real target waits at the same relative
// path in a mirror tree, the writer's working directory. Extended
// attributes are dropped: the writer reads their values through the
// working directory too, and the single file carries none.

// standIn prepares root for the writer: symlinks moved to mirror (made
// here), replaced by links to the empty directory empty; attributes
// removed. It says what the writer will lose: other owners than root,
// hard links, extended attributes, setuid, setgid and sticky bits.
func standIn(root, mirror, empty string) (string, error) {
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return "", err
	}
	var owners, links, attrs, special bool
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		owners = owners || st.Uid != 0 || st.Gid != 0
		special = special || st.Mode&(unix.S_ISUID|unix.S_ISGID|unix.S_ISVTX) != 0
		if d.Type()&fs.ModeSymlink == 0 {
			links = links || !d.IsDir() && st.Nlink > 1
			dropped, err := dropXattrs(p)
			attrs = attrs || dropped
			return err
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		m := filepath.Join(mirror, rel)
		if err := os.MkdirAll(filepath.Dir(m), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, m); err != nil {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		if err := os.Symlink(empty, p); err != nil {
			return err
		}
		// The owner and time are the writer's to read from the stand-in.
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	var lost []string
	for _, l := range []struct {
		had  bool
		name string
	}{{owners, "owners"}, {links, "hard links"}, {attrs, "extended attributes"}, {special, "setuid, setgid and sticky bits"}} {
		if l.had {
			lost = append(lost, l.name)
		}
	}
	return strings.Join(lost, ", "), err
}

// dropXattrs removes p's extended attributes, and says if it had any.
func dropXattrs(p string) (bool, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return false, nil // none, or a filesystem without them
	}
	for _, name := range bytes.Split(bytes.TrimRight(buf[:n], "\x00"), []byte{0}) {
		if err := unix.Lremovexattr(p, string(name)); err != nil {
			return true, fmt.Errorf("removing the extended attribute %s of %s: %w", name, p, err)
		}
	}
	return true, nil
}
