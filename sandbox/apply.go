package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// apply runs ops in order under root: one loop, one case per kind.
func apply(root string, ops []Op) error {
	for _, op := range ops {
		target, err := securejoin.SecureJoin(root, op.Target)
		if err != nil {
			return fmt.Errorf("resolving %s under the root: %w", op.Target, err)
		}
		if err := applyOne(op, target); err != nil {
			if op.Optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return err
		}
	}
	return nil
}

func applyOne(op Op, target string) error {
	switch op.Kind {
	case KindMount:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return mount(op.Source, target, op.FSType, op.Flags, op.Data)
	case KindBind:
		return bind(op.Source, target, op.Flags)
	case KindBindDev, KindFile:
		if err := ensureFile(target); err != nil {
			return err
		}
		return mount(op.Source, target, "", unix.MS_BIND, "")
	case KindMkdir:
		return os.MkdirAll(target, 0o755)
	case KindSymlink:
		if err := os.Symlink(op.Source, target); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		return nil
	case KindMask:
		return mask(target)
	case KindFuseOverlay:
		return fuseOverlay(op.Source, op.Data, target)
	case KindReadonly:
		if _, err := os.Lstat(target); err != nil {
			return err
		}
		return bind(target, target, unix.MS_RDONLY)
	}
	return fmt.Errorf("unknown setup operation %q", op.Kind)
}

// bind makes a recursive bind of source on target, creating target as a
// file or directory like source; MS_RDONLY in flags makes it read-only.
func bind(source, target string, flags uintptr) error {
	fi, err := os.Stat(source)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		err = ensureFile(target)
	}
	if err != nil {
		return err
	}
	if err := mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if flags&unix.MS_RDONLY == 0 {
		return nil
	}
	return makeReadonly(target)
}

// makeReadonly makes the mount at target and every mount below it
// read-only. mount_setattr (Linux 5.12) does it in one call and keeps the
// flags a user namespace may not clear; older kernels get a remount.
func makeReadonly(target string) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(-1, target, unix.AT_RECURSIVE, attr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return &mountError{op: "mount_setattr ro", target: target, err: err}
	}
	return remountReadonly(target)
}

// remountReadonly keeps the locked flags (nosuid, nodev, noexec, atime) that
// the kernel refuses to clear in a user namespace.
func remountReadonly(target string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return &mountError{op: "statfs", target: target, err: err}
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|locked, "")
}

// mask hides a path: a directory under an empty read-only tmpfs, anything
// else under /dev/null, as Docker's masked paths.
func mask(target string) error {
	fi, err := os.Lstat(target)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return mount("tmpfs", target, "tmpfs", unix.MS_RDONLY, "size=0")
	}
	return mount("/dev/null", target, "", unix.MS_BIND, "")
}

func ensureFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// fuseOverlay mounts with fuse-overlayfs, which returns once the mount is
// ready and leaves its daemon behind.
func fuseOverlay(prog, data, target string) error {
	out, err := exec.Command(prog, "-o", data, target).CombinedOutput()
	if err != nil {
		return &mountError{op: "mount", source: prog, target: target, fstype: "fuse-overlayfs",
			err: fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))}
	}
	return nil
}
