package fuse

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// recordName is the file next to graphroot that holds the store's strategy.
const recordName = "strategy"

func recordPath(graphroot string) string {
	return filepath.Join(filepath.Dir(graphroot), recordName)
}

// Recorded is the strategy recorded for the store at graphroot, "" if none.
// It only reads a file, so `husk info` can call it on the host.
func Recorded(graphroot string) (Strategy, error) {
	p := recordPath(graphroot)
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", &Error{Op: "reading", Path: p, Err: err, Fix: "check its permissions, or set HUSK_ROOT to another directory"}
	}
	s, err := Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return "", &Error{Op: "reading", Path: p, Err: err,
			Fix: "write one of overlay, fuse-overlayfs, vfs in it, or run husk system reset"}
	}
	return s, nil
}

// record writes s atomically (temp file and rename), so a concurrent
// reader sees the old choice or the new one, never half of one.
func record(graphroot string, s Strategy) error {
	p := recordPath(graphroot)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(string(s)+"\n"), 0o600); err != nil {
		return &Error{Op: "recording the storage driver in", Path: p, Err: err, Fix: "check free space and permissions there"}
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return &Error{Op: "recording the storage driver in", Path: p, Err: err, Fix: "check permissions there"}
	}
	return nil
}

// HasLayers reports whether containers/storage holds a layer or an image
// under graphroot, with any driver.
func HasLayers(graphroot string) bool {
	for _, pat := range []string{"*-layers/layers.json", "*-images/images.json"} {
		files, _ := filepath.Glob(filepath.Join(graphroot, pat))
		for _, f := range files {
			b, err := os.ReadFile(f)
			b = bytes.TrimSpace(b)
			if err == nil && len(b) > 0 && !bytes.Equal(b, []byte("[]")) && !bytes.Equal(b, []byte("null")) {
				return true
			}
		}
	}
	return false
}

// lockDir holds an exclusive flock on dir, so that two first commands on a
// fresh store probe once and agree on the record.
func lockDir(dir string) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Op: "opening", Path: dir, Err: err, Fix: "set HUSK_ROOT to a directory you can use"}
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, &Error{Op: "locking", Path: dir, Err: err, Fix: "set HUSK_ROOT to a local disk (e.g. $TMPDIR/husk) if this is a network filesystem"}
	}
	return func() { unix.Close(fd) }, nil
}
