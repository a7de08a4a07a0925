package volume

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"husk/reexec"
	"husk/store"
)

// CallFill is the function (reexec) that fills a new volume with the
// image's content at its mount point (Docker's copy-up), in husk's user
// namespace: there the image's files have their owners, and the copy keeps
// them as the mapping allows. Its arguments are the store driver, the
// image's ID, the path in the image and the volume's name.
//
// It runs on the host side of a start, before the sandbox, rather than in
// the executor's mount setup: the image is mounted by containers/storage
// (MountImage), for every root strategy alike, and the C init stays the
// one that only mounts and runs.
const CallFill = "fill-volume"

func init() {
	reexec.Register(CallFill, func(_ context.Context, _, errw io.Writer, args []string) int {
		if len(args) != 4 {
			fmt.Fprintf(errw, "husk: %s takes the store driver, an image, a path and a volume: this is husk's own error\n", CallFill)
			return 125
		}
		if err := fill(args[0], args[1], args[2], args[3]); err != nil {
			fmt.Fprintf(errw, "husk: filling volume %s from the image's %s: %v\n", args[3], args[2], err)
			return 125
		}
		return 0
	})
}

func fill(driver, imageID, path, name string) error {
	vs, err := Open()
	if err != nil {
		return err
	}
	v, err := vs.Get(name)
	if err != nil || !v.Fillable() {
		return err
	}
	st, err := store.Open(driver)
	if err != nil {
		return err
	}
	defer st.Close()
	root, err := st.MountImage(imageID, nil, "")
	if err != nil {
		return fmt.Errorf("mounting image %.12s: %w", imageID, err)
	}
	defer func() { _, _ = st.UnmountImage(imageID, false) }()
	src, err := securejoin.SecureJoin(root, path)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		if err := copyTree(src, v.Mountpoint); err != nil {
			return err
		}
	}
	return v.MarkFilled()
}

// copyTree copies src's content into dst, and src's owner and mode onto
// dst, keeping modes, owners (where the mapping has them), symlinks and
// times.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if err := copyOne(p, to, fi, rel == "."); err != nil {
			return fmt.Errorf("copying %s: %w", p, err)
		}
		return nil
	})
}

func copyOne(from, to string, fi os.FileInfo, top bool) error {
	switch mode := fi.Mode(); {
	case top:
	case mode.IsDir():
		if err := os.Mkdir(to, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, to); err != nil {
			return err
		}
	case mode.IsRegular():
		if err := copyFile(from, to); err != nil {
			return err
		}
	default:
		return nil // devices, fifos, sockets: not a volume's content
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		// An id the mapping lacks stays the namespace's root's.
		_ = os.Lchown(to, int(st.Uid), int(st.Gid))
		ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
		defer func() { _ = unix.UtimesNanoAt(unix.AT_FDCWD, to, ts, unix.AT_SYMLINK_NOFOLLOW) }()
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return os.Chmod(to, fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
