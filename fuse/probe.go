package fuse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Result is the outcome of one strategy's probe: Err is nil when it works,
// else one line with its fix.
type Result struct {
	Strategy Strategy
	Err      error
}

// ProbeAll tries every strategy under dir (the store's root, or its
// nearest existing parent when the store does not exist yet) so that the
// mounts are tried on the filesystem the store uses. It runs inside husk's
// user namespace and leaves no mount or directory behind.
func ProbeAll(dir string) []Result {
	var rs []Result
	for _, s := range Strategies {
		rs = append(rs, Result{s, Probe(s, dir)})
	}
	return rs
}

// Probe tries one strategy under dir; nil means it works.
func Probe(s Strategy, dir string) error {
	switch s {
	case Overlay:
		return withScratch(dir, probeOverlay)
	case FuseOverlayfs:
		if _, err := FuseOverlayfsPath(); err != nil {
			return err
		}
		if err := DevFuse(); err != nil {
			return err
		}
		return withScratch(dir, probeFuseOverlayfs)
	case VFS:
		return nil
	}
	_, err := Parse(string(s))
	return err
}

// probeFirst returns the first strategy that works, probing no further.
func probeFirst(dir string) Strategy {
	if overlayKnownGood(dir) {
		return Overlay
	}
	for _, s := range Strategies {
		if Probe(s, dir) == nil {
			if s == Overlay {
				rememberOverlay(dir)
			}
			return s
		}
	}
	return VFS
}

// scratch is a probe's overlay: a lower directory holding one file, and
// empty upper, work and merged directories.
type scratch struct{ dir, lower, upper, work, merged string }

func (s scratch) options() string {
	return fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", s.lower, s.upper, s.work)
}

const probePrefix = ".husk-probe-"

// probeStale is the age of a probe directory that no probe still uses: a
// probe takes seconds.
const probeStale = 10 * time.Minute

// sweepProbes removes the probe directories in base that a killed husk
// left behind (withScratch removes its own). The kernel's overlay made
// their work directory unreadable (mode 0), so that a user's rm -r of the
// store would stop at them.
func sweepProbes(base string) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), probePrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > probeStale {
			removeProbe(filepath.Join(base, e.Name()))
		}
	}
}

// removeProbe removes a probe directory, its overlay's work directory
// made readable first.
func removeProbe(dir string) {
	_ = os.Chmod(filepath.Join(dir, "w", "work"), 0o700)
	_ = os.RemoveAll(dir)
}

// withScratch makes a scratch overlay under dir, runs probe on it, and
// removes it whatever happens.
func withScratch(dir string, probe func(scratch) error) error {
	base := existingParent(dir)
	sweepProbes(base)
	tmp, err := os.MkdirTemp(base, probePrefix)
	if err != nil {
		return &Error{Op: "creating a probe directory in", Path: base, Err: err,
			Fix: "set HUSK_ROOT to a directory you can write"}
	}
	defer removeProbe(tmp)
	s := scratch{tmp, filepath.Join(tmp, "l"), filepath.Join(tmp, "u"), filepath.Join(tmp, "w"), filepath.Join(tmp, "m")}
	for _, d := range []string{s.lower, s.upper, s.work, s.merged} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return &Error{Op: "creating", Path: d, Err: err}
		}
	}
	if err := os.WriteFile(filepath.Join(s.lower, "f"), []byte("husk"), 0o600); err != nil {
		return &Error{Op: "writing", Path: s.lower, Err: err}
	}
	return probe(s)
}

// probeOverlay mounts the kernel's overlay with user.* xattrs (the only
// kind an unprivileged user namespace may set), then reads a lower file,
// writes a new one and deletes the lower one (a whiteout) through it.
func probeOverlay(s scratch) error {
	if err := mount("overlay", s.merged, "overlay", s.options()+",userxattr"); err != nil {
		return &Error{Op: "probing native overlay", Err: err,
			Fix: "needs Linux 5.11 or later and a store on a local disk (ext4, xfs, btrfs); husk uses fuse-overlayfs or vfs instead"}
	}
	defer unmount(s.merged)
	if err := exercise(s); err != nil {
		return &Error{Op: "probing native overlay", Path: s.merged, Err: err,
			Fix: "husk uses fuse-overlayfs or vfs instead; a store on a local disk may allow overlay"}
	}
	return unmount(s.merged)
}

// probeFuseOverlayfs mounts fuse-overlayfs on the scratch directories. It
// daemonizes once the mount is up, so its stderr goes to a file: a pipe
// would be held open by the daemon.
func probeFuseOverlayfs(s scratch) error {
	bin, _ := FuseOverlayfsPath()
	logf, err := os.Create(filepath.Join(s.dir, "log"))
	if err != nil {
		return &Error{Op: "creating", Path: s.dir, Err: err}
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-o", s.options(), s.merged)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		if b, _ := os.ReadFile(logf.Name()); len(bytes.TrimSpace(b)) > 0 {
			err = errors.New(trimLine(b))
		}
		return &Error{Op: "probing", Path: bin, Err: err, Fix: "use --storage-driver=vfs"}
	}
	defer unmount(s.merged)
	if err := exercise(s); err != nil {
		return &Error{Op: "probing", Path: bin, Err: err, Fix: "use --storage-driver=vfs"}
	}
	return unmount(s.merged)
}

// exercise checks a mounted scratch overlay: the lower file shows, a new
// file lands in upper, and deleting the lower file leaves a whiteout.
func exercise(s scratch) error {
	if b, err := os.ReadFile(filepath.Join(s.merged, "f")); err != nil || string(b) != "husk" {
		return fmt.Errorf("the lower file does not show through: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.merged, "n"), []byte("x"), 0o600); err != nil {
		return fmt.Errorf("writing through the mount: %w", err)
	}
	if err := os.Remove(filepath.Join(s.merged, "f")); err != nil {
		return fmt.Errorf("deleting a lower file (whiteout): %w", err)
	}
	if _, err := os.Stat(filepath.Join(s.upper, "n")); err != nil {
		return fmt.Errorf("the new file is not in the upper directory: %w", err)
	}
	return nil
}

// DevFuse checks that /dev/fuse can be opened for reading and writing, as
// fuse-overlayfs must. It works on the host too, for `husk info`.
func DevFuse() error {
	const dev = "/dev/fuse"
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
		return &Error{Op: "opening", Path: dev, Err: err,
			Fix: "ask the admin to load the fuse module (sudo modprobe fuse), or use --storage-driver=vfs"}
	}
	mode := ""
	var st unix.Stat_t
	if unix.Stat(dev, &st) == nil {
		mode = fmt.Sprintf(" (mode %04o)", st.Mode&0o7777)
	}
	return &Error{Op: dev + " is not usable by you" + mode, Cause: err,
		Fix: "ask the admin to run chmod 0666 /dev/fuse, or use --storage-driver=vfs"}
}

// existingParent is dir, or its nearest ancestor that exists.
func existingParent(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}
