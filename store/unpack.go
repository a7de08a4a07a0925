package store

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/unshare"
	"golang.org/x/sys/unix"
)

// errNoConfine is an unpack that could not confine itself to its
// directory.
var errNoConfine = errors.New("cannot confine the unpacker to the layer directory")

// canConfine reports whether a thread may take its own root here
// (unshare(CLONE_FS) and chroot need CAP_SYS_CHROOT, which husk has inside
// its user namespace and as root). Where it may not, layers go through
// containers/storage's own unpacker.
var canConfine = sync.OnceValue(func() bool {
	return onSpareThread(func() error {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return err
		}
		return unix.Chroot("/")
	}) == nil
})

// unpackInRoot extracts the uncompressed tar stream r into dir with
// containers/storage's extractor (archive.Unpack, whiteouts, ownership,
// xattrs and all), with dir as the root directory of the thread that does
// it.
//
// containers/storage does the same in a re-executed copy of the binary
// (storage-untar), chrooted into the layer, so that a symlink the layer
// itself made cannot redirect a later write out of it (CVE-2018-15664 and
// kin). A child costs husk a process start per layer (~20-50 ms of package
// initialization in the static binary) and a pipe copy of every byte. Here
// the chroot is on one OS thread instead: unshare(CLONE_FS) gives the
// thread its own root and working directory, chroot(dir) confines only it,
// and the Go runtime ends the thread when the goroutine returns (it is
// never unlocked), so the changed root never runs other code. The other
// threads keep the real root. pull/validate.go has already refused entries
// that are absolute, climb out with "..", or pass through a symlink of the
// same layer, so the chroot is the second wall, as in containers/storage.
func unpackInRoot(r io.Reader, dir string, opts *archive.TarOptions) error {
	// Read and cached before the chroot: it looks at /proc/self/uid_map.
	_ = unshare.IsRootless()
	return onSpareThread(func() error { return unpackOnThread(r, dir, opts) })
}

// onSpareThread runs f on an OS thread of its own that ends with it, so
// that what f changes in the thread (its root) never runs other code.
func onSpareThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime ends the thread
		if unix.Gettid() != unix.Getpid() {
			done <- f()
			return
		}
		// The process's main thread: /proc/self (mountinfo, root) follows
		// its root, and the runtime parks it rather than ending it. Hold it,
		// unchanged, and run f on another thread, which cannot be this one.
		inner := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			inner <- f()
		}()
		err := <-inner
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// unpackOnThread runs on a locked thread that is never unlocked.
func unpackOnThread(r io.Reader, dir string, opts *archive.TarOptions) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("%w: unshare(CLONE_FS): %w", errNoConfine, err)
	}
	if err := unix.Chroot(dir); err != nil {
		return fmt.Errorf("%w: chroot %s: %w", errNoConfine, dir, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("%w: chdir / in %s: %w", errNoConfine, dir, err)
	}
	if opts.ForceMask != nil {
		// The extractor records a forced mask's owners on files, not on
		// the hard links sparse.go makes.
		return archive.Unpack(r, "/", opts)
	}
	sp := newSparser(r, "/") // sparse.go: large files keep their holes
	if err := archive.Unpack(sp, "/", opts); err != nil {
		return err
	}
	return sp.removeLinks()
}
