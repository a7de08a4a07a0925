package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.podman.io/storage/pkg/stringid"
	"golang.org/x/sys/unix"
)

// A running sandbox mounts its image's layers straight from the store, with
// no container record, so it marks the image in use with a shared lock on
// <root>/inuse/<image ID>. Removing the image takes the lock exclusively;
// the kernel drops a sandbox's lock when it ends, however it ends.

func (s *Store) inUsePath(id string) string {
	return filepath.Join(s.Root, "inuse", id)
}

// HoldImage marks image id in use until this process exits. The descriptor
// is close-on-exec, so the sandbox's own processes do not inherit it.
func (s *Store) HoldImage(id string) error { return s.hold(id) }

// hold marks id (an image ID, or "copy-" and a vfs copy's ID) in use until
// this process exits.
func (s *Store) hold(id string) error {
	path := s.inUsePath(id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("marking image %.12s in use: %w", id, err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("marking image %.12s in use: %w", id, err)
	}
	if err := unix.Flock(fd, unix.LOCK_SH); err != nil {
		unix.Close(fd)
		return fmt.Errorf("marking image %.12s in use: %w", id, err)
	}
	return nil // held, on purpose, for the life of the process
}

// NewCopyID is the ID of a vfs copy to make (CopyRoot).
func NewCopyID() string { return stringid.GenerateRandomID() }

// HoldCopy marks the vfs copy id in use, from the host side, before the
// copy exists and until release: a sweep or an rmi then leaves it alone.
func HoldCopy(id string) (release func(), err error) {
	path, err := InUsePath("copy-" + id)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err == nil {
		if err = unix.Flock(fd, unix.LOCK_SH); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("marking the sandbox copy %.12s in use: %w", id, err)
	}
	return func() { unix.Close(fd) }, nil
}

// ErrImageRunning is an image a running sandbox uses.
var ErrImageRunning = errors.New("a running container uses it: end the husk run that uses it first (this cannot be forced)")

// lockImageForRemoval fails while a sandbox holds the image. The lock it
// takes is released with the returned function, which also removes the
// lock file once the image is gone (never before: a sandbox that holds a
// lock on a removed file would not stop the next rmi).
func (s *Store) lockForRemoval(id string) (func(removed bool), error) {
	fd, err := unix.Open(s.inUsePath(id), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return func(bool) {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checking whether image %.12s is in use: %w", id, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrImageRunning
		}
		return nil, fmt.Errorf("checking whether image %.12s is in use: %w", id, err)
	}
	return func(removed bool) {
		if removed {
			_ = os.Remove(s.inUsePath(id))
		}
		unix.Close(fd)
	}, nil
}
