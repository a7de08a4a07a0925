package squash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	"golang.org/x/sys/unix"

	"husk/fuse"
	"husk/pdeath"
	"husk/store"
)

// unpackMain runs detached in husk's user namespace, nice'd, holding the
// path's lock (fd 3) until it ends. Its failures go to .nocopy-ID.
func unpackMain(_ context.Context, _, _ io.Writer, args []string) int {
	_ = unix.Setpriority(unix.PRIO_PROCESS, 0, 10)
	// Its disk and network reads and writes after the runs': the
	// best-effort class's lowest level.
	const ioprioWhoProcess, ioprioClassBE = 1, 2
	_, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, ioprioClassBE<<13|7)
	// The lock is this process's: unsquashfs does not keep it.
	unix.CloseOnExec(3)
	if len(args) != 2 {
		return 125
	}
	file, id := args[0], args[1]
	dir, err := copiesDir(file)
	if err != nil {
		return 125
	}
	if err := unpack(file, id, dir); err != nil {
		_ = os.WriteFile(filepath.Join(dir, ".nocopy-"+id), []byte(err.Error()+"\n"), 0o600)
		return 1
	}
	return 0
}

// errNoRoom: the copy would leave too little of the local disk free.
var errNoRoom = errors.New("no room")

// unpack makes file's copy ID in dir, having removed what a killed
// unpack left and the copies of older versions no sandbox holds.
func unpack(file, id, dir string) error {
	sweep(dir, id)
	if _, err := os.Stat(filepath.Join(dir, id, "meta.json")); err == nil {
		return nil
	}
	sq, f, _, err := open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	// The file this run saw, not a newer one (its copy is another ID).
	if fileID(file, f) != id {
		return nil
	}
	need, err := unpackedSize(sq)
	if err != nil {
		return fmt.Errorf("reading the squashfs %s: %w", file, err)
	}
	if err := room(dir, need); err != nil {
		return err
	}
	strategy := fuse.Overlay
	if err := fuse.Probe(fuse.Overlay, dir); err != nil {
		if ferr := fuse.Probe(fuse.FuseOverlayfs, dir); ferr != nil {
			return fmt.Errorf("no overlay in %s: %v; fuse-overlayfs: %v", dir, err, ferr)
		}
		strategy = fuse.FuseOverlayfs
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".tmp-%s-%d", id, os.Getpid()))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	err = extract(sq, f, file, filepath.Join(tmp, "root"))
	if err == nil {
		var b []byte
		b, err = json.Marshal(copyMeta{Strategy: strategy})
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, "meta.json"), b, 0o600)
		}
	}
	if err == nil {
		err = syncDir(tmp, true)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, id))
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("unpacking %s into %s: %w", file, dir, err)
	}
	return syncDir(dir, false)
}

// syncDir flushes dir: with all, its whole filesystem (the copy's files),
// else the directory itself (a rename in it).
func syncDir(dir string, all bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if all {
		return unix.Syncfs(fd)
	}
	return unix.Fsync(fd)
}

// sweep removes, under dir, the temporaries of killed unpacks (the lock
// is ours: none is under way), old .nocopy- markers, and the copies of
// other versions than keep that no sandbox holds.
func sweep(dir, keep string) {
	list, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range list {
		name := e.Name()
		switch {
		case name == ".lock" || name == keep:
		case strings.HasPrefix(name, ".tmp-"), strings.HasPrefix(name, ".old-"):
			_ = os.RemoveAll(filepath.Join(dir, name))
		case strings.HasPrefix(name, ".nocopy-"):
			if name != ".nocopy-"+keep {
				_ = os.Remove(filepath.Join(dir, name))
			}
		case e.IsDir():
			removeUnheld(dir, name)
		}
	}
}

// removeUnheld removes copy id unless a sandbox holds it: renamed first,
// so that a start that takes the hold afterwards finds it gone (the init
// checks the root exists once it holds it) rather than half there.
func removeUnheld(dir, id string) {
	inuse, err := store.InUsePath("squash-" + id)
	if err != nil {
		return
	}
	fd, err := unix.Open(inuse, unix.O_RDONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return // in use: the next unpack of the path removes it
	}
	old := filepath.Join(dir, ".old-"+id)
	if os.Rename(filepath.Join(dir, id), old) == nil {
		_ = os.RemoveAll(old)
	}
	_ = os.Remove(inuse)
}

// unpackedSize is what the tree takes on disk, about: each file's size
// rounded up to 4 KiB, and 4 KiB an entry.
func unpackedSize(sq *squashfs.FileSystem) (int64, error) {
	var total int64
	var walk func(string) error
	walk = func(p string) error {
		list, err := sq.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range list {
			total += 4096
			if e.IsDir() {
				if err := walk(path.Join(p, e.Name())); err != nil {
					return err
				}
				continue
			}
			if e.Type().IsRegular() {
				fi, err := e.Info()
				if err != nil {
					return err
				}
				total += (fi.Size() + 4095) &^ 4095
			}
		}
		return nil
	}
	return total, walk(".")
}

// room refuses a copy that would leave the local filesystem of dir with
// less than a tenth, or less than 1 GiB, free.
func room(dir string, need int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	free, size := int64(st.Bavail)*st.Bsize, int64(st.Blocks)*st.Bsize
	left := free - need
	if left < size/10 || left < 1<<30 {
		return fmt.Errorf("%w: the copy takes about %d MiB; %d MiB of %d MiB are free in %s",
			errNoRoom, need>>20, free>>20, size>>20, dir)
	}
	return nil
}

// extract writes the squashfs into dest, as the FUSE server shows it: with
// unsquashfs where it can keep every owner (a mapping of subordinate ids),
// else by a walk over the same reader the server uses, with every owner
// the one mapped id under the single mapping.
func extract(sq *squashfs.FileSystem, f *os.File, file, dest string) error {
	single := singleMapping()
	if prog, err := exec.LookPath("unsquashfs"); err == nil && !single {
		r, err := locate(f, file)
		if err != nil {
			return err
		}
		defer pdeath.Hold()() // its parent-death signal follows this thread
		cmd := exec.Command(prog, "-no-xattrs", "-no-progress", "-quiet",
			"-offset", strconv.FormatInt(r.off, 10), "-dest", dest, file)
		// It ends with this process, however that ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("unsquashfs: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	w := &walker{sq: sq, single: single, links: map[uint32]string{}}
	if err := os.Mkdir(dest, 0o755); err != nil {
		return err
	}
	// The root is as the server shows it: 0755, the namespace's root's.
	return w.dir(".", dest)
}

// walker copies a squashfs tree entry by entry.
type walker struct {
	sq     *squashfs.FileSystem
	single bool
	links  map[uint32]string // a regular file's inode: its first copy
	buf    []byte
}

func (w *walker) dir(p, dest string) error {
	list, err := w.sq.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range list {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*squashfs.StatT)
		src, dst := path.Join(p, e.Name()), filepath.Join(dest, e.Name())
		m := fi.Mode()
		switch {
		case m.IsDir():
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
			if err := w.dir(src, dst); err != nil {
				return err
			}
		case m&iofs.ModeSymlink != 0:
			target := ""
			if st != nil {
				target = st.LinkTarget
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case m.IsRegular():
			if st != nil {
				if first, ok := w.links[st.Inode]; ok {
					if err := os.Link(first, dst); err != nil {
						return err
					}
					continue // a hard link: the first one's attributes
				}
				w.links[st.Inode] = dst
			}
			if err := w.file(src, dst); err != nil {
				return err
			}
		case m&iofs.ModeNamedPipe != 0:
			if err := unix.Mkfifo(dst, 0o600); err != nil {
				return err
			}
		case m&iofs.ModeSocket != 0:
			if err := unix.Mknod(dst, unix.S_IFSOCK|0o600, 0); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is a device node, which a user namespace cannot make", src)
		}
		if err := w.attrs(dst, fi, e); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) file(src, dst string) error {
	in, err := w.sq.OpenFile(src, os.O_RDONLY)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if w.buf == nil {
		w.buf = make([]byte, 1<<20)
	}
	_, err = io.CopyBuffer(out, in, w.buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// attrs sets dst's owner (under subordinate ids), mode with its setuid,
// setgid and sticky bits (after the owner, which clears them) and time.
func (w *walker) attrs(dst string, fi iofs.FileInfo, e iofs.DirEntry) error {
	st, _ := fi.Sys().(*squashfs.StatT)
	if st != nil && !w.single {
		if err := os.Lchown(dst, int(st.UID), int(st.GID)); err != nil {
			return err
		}
	}
	mt := fi.ModTime()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if fi.Mode()&iofs.ModeSymlink != 0 {
		return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	mode := unixMode(fi.Mode()) & 0o7777
	if e != nil {
		if bits, ok := specialBits(e); ok {
			mode = mode&^0o7777 | bits
		}
	}
	if err := unix.Chmod(dst, mode); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, 0)
}
