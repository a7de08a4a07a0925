package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"husk/store"
)

// copySpec is one COPY or ADD, its words expanded.
type copySpec struct {
	from    *Context // the context, or a stage's root
	srcs    []string // relative to from
	dest    string   // absolute in the image
	destDir bool     // dest names a directory
	chown   string
	chmod   string
	unpack  bool // ADD: local tar archives are extracted
	// contents are heredocs (COPY <<EOF /dest), written as files.
	contents []instructions.SourceContent
}

// owner is who owns copied files: root unless --chown.
type owner struct{ uid, gid int }

// apply copies the sources into root, the image's root filesystem.
func (c *copySpec) apply(root string) error {
	own, err := resolveOwner(root, c.chown)
	if err != nil {
		return err
	}
	mode, err := parseChmod(c.chmod)
	if err != nil {
		return err
	}
	w := &writer{root: root, own: own, mode: mode, links: map[uint64]string{}}
	destDir := c.destDir || len(c.srcs)+len(c.contents) > 1
	if !destDir {
		if fi, err := w.stat(c.dest); err == nil && fi.IsDir() {
			destDir = true
		}
	}
	for _, src := range c.srcs {
		fi, err := os.Lstat(filepath.Join(c.from.Dir, src))
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			// A directory's contents are copied, not the directory itself.
			err = c.from.walk(src, func(p, rel string, fi fs.FileInfo) error {
				sub, _ := filepath.Rel(src, rel)
				return w.put(p, path.Join(c.dest, filepath.ToSlash(sub)), fi, sub == ".")
			})
		case c.unpack && isArchive(filepath.Join(c.from.Dir, src)):
			err = w.extract(filepath.Join(c.from.Dir, src), c.dest)
		case destDir:
			err = w.put(filepath.Join(c.from.Dir, src), path.Join(c.dest, filepath.Base(src)), fi, false)
		default:
			err = w.put(filepath.Join(c.from.Dir, src), c.dest, fi, false)
		}
		if err != nil {
			return err
		}
	}
	for _, sc := range c.contents {
		dst := c.dest
		if destDir {
			dst = path.Join(c.dest, sc.Path)
		}
		if err := w.write(dst, sc.Data); err != nil {
			return err
		}
	}
	return nil
}

// write makes a file of data at dst: 0644 unless --chmod.
func (w *writer) write(dst, data string) error {
	full, err := w.mkdirs(dst)
	if err != nil {
		return err
	}
	_ = os.RemoveAll(full)
	mode := os.FileMode(0o644)
	if w.mode != nil {
		mode = *w.mode
	}
	if err := os.WriteFile(full, []byte(data), 0o600); err != nil {
		return fmt.Errorf("writing %s in the image: %w", dst, err)
	}
	w.chown(full)
	return os.Chmod(full, mode)
}

// writer creates files inside root, never outside it: every path is
// resolved in the root as the image's own symlinks lead.
type writer struct {
	root  string
	own   owner
	mode  *os.FileMode
	links map[uint64]string // inode of a source file -> where it went, for hard links
}

func (w *writer) resolve(p string) (string, error) {
	return securejoin.SecureJoin(w.root, p)
}

func (w *writer) stat(p string) (os.FileInfo, error) {
	full, err := w.resolve(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(full)
}

// mkdirs makes the missing parents of p, as Docker does: root's, 0755.
func (w *writer) mkdirs(p string) (string, error) {
	dir, err := w.resolve(path.Dir(p))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return securejoin.SecureJoin(dir, path.Base(p))
}

// put copies the source file src (fi its Lstat) to dst in the image,
// keeping its mode (unless --chmod), symlink target, hard links and
// mtime; owners come from --chown, else root. top: dst is the
// destination directory itself, which keeps its mode if it exists.
func (w *writer) put(src, dst string, fi fs.FileInfo, top bool) error {
	if dst == "/" || top {
		full, err := w.mkdirs(path.Clean(dst) + "/.")
		if err != nil {
			return err
		}
		if _, err := os.Lstat(full); err == nil {
			return nil
		}
		return os.MkdirAll(full, 0o755)
	}
	full, err := w.mkdirs(dst)
	if err != nil {
		return fmt.Errorf("creating %s in the image: %w", dst, err)
	}
	if err := w.create(src, full, fi); err != nil {
		return fmt.Errorf("copying %s to %s: %w", filepath.Base(src), dst, err)
	}
	return nil
}

func (w *writer) create(src, full string, fi fs.FileInfo) error {
	if old, err := os.Lstat(full); err == nil && !(old.IsDir() && fi.IsDir()) {
		if err := os.RemoveAll(full); err != nil {
			return err
		}
	}
	mode := fi.Mode()
	if w.mode != nil {
		mode = mode&^fs.ModePerm | *w.mode
	}
	switch {
	case fi.IsDir():
		if err := os.Mkdir(full, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, full); err != nil {
			return err
		}
		w.chown(full)
		return unix.Lutimes(full, []unix.Timeval{unix.NsecToTimeval(fi.ModTime().UnixNano()), unix.NsecToTimeval(fi.ModTime().UnixNano())})
	case mode.IsRegular():
		if st, ok := fi.Sys().(*unix.Stat_t); ok && st.Nlink > 1 {
			if first, ok := w.links[st.Ino]; ok {
				return os.Link(first, full)
			}
			w.links[st.Ino] = full
		}
		if err := copyFile(src, full); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s is neither a file, a directory nor a symlink: leave it out with .dockerignore", src)
	}
	w.chown(full)
	// chmod after chown: chown clears the setuid and setgid bits.
	if err := os.Chmod(full, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return os.Chtimes(full, fi.ModTime(), fi.ModTime())
}

// chown gives the file the --chown owner. With the single mapping the
// other ids do not exist here, and the file stays ours, as the store's
// layers do.
func (w *writer) chown(full string) {
	_ = os.Lchown(full, w.own.uid, w.own.gid)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	hw := store.NewHoleWriter(out) // a sparse file keeps its holes
	if _, err := io.Copy(hw, in); err != nil {
		out.Close()
		return err
	}
	if err := hw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// resolveOwner reads --chown USER[:GROUP]: numbers, or names looked up
// in the image's /etc/passwd and /etc/group.
func resolveOwner(root, spec string) (owner, error) {
	if spec == "" {
		return owner{}, nil
	}
	passwd, _ := securejoin.SecureJoin(root, "/etc/passwd")
	group, _ := securejoin.SecureJoin(root, "/etc/group")
	u, g, hasGroup := strings.Cut(spec, ":")
	eu, err := user.GetExecUserPath(u, &user.ExecUser{}, passwd, group)
	if err != nil {
		return owner{}, fmt.Errorf("--chown=%s: %w: use numeric ids or a user the image's /etc/passwd names", spec, err)
	}
	own := owner{uid: eu.Uid, gid: eu.Gid}
	if !hasGroup {
		if _, err := strconv.Atoi(u); err == nil {
			own.gid = eu.Uid // a bare number is uid and gid, as Docker has it
		}
		return own, nil
	}
	if n, err := strconv.Atoi(g); err == nil {
		own.gid = n
		return own, nil
	}
	groups, err := user.ParseGroupFileFilter(group, func(gr user.Group) bool { return gr.Name == g })
	if err != nil || len(groups) == 0 {
		return owner{}, fmt.Errorf("--chown=%s: no group %s in the image's /etc/group: use a numeric gid or add the group", spec, g)
	}
	own.gid = groups[0].Gid
	return own, nil
}

// parseChmod reads --chmod as octal.
func parseChmod(s string) (*os.FileMode, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return nil, fmt.Errorf("--chmod=%s: give an octal mode such as 0755", s)
	}
	m := os.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return &m, nil
}
