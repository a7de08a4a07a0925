package store

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// TempDir makes a work directory (downloads of a pull, layers of a push or
// save, an archive being loaded) inside the store, on the same file system
// as the layers (so a full disk shows here first, and /tmp, often a small
// tmpfs, is spared). Each is held (a shared flock on it, for the life of
// the process), so that one left by a husk killed with SIGKILL (a pull's
// downloads, a commit's layer: gigabytes, maybe) is known for a leftover
// and removed by the next TempDir, not a day later.
func (s *Store) TempDir(prefix string) (string, error) {
	base := filepath.Join(s.GraphRoot(), "husk-tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	sweepTemp(base)
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", err
	}
	holdTemp(dir)
	return dir, nil
}

// tempGrace is how old an unheld work directory must be to go: its maker
// holds it a moment after making it.
const tempGrace = 5 * time.Second

// sweepTemp removes the work directories nobody holds, and any older than
// a day (an earlier husk's, which held none). A mount point (ctrfs's
// "root-", or any directory on another device) waits for the day: its
// mount may live on in another namespace.
func sweepTemp(base string) {
	entries, _ := os.ReadDir(base)
	var baseSt unix.Stat_t
	if unix.Stat(base, &baseSt) != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(base, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		age := time.Since(fi.ModTime())
		if age > 24*time.Hour {
			os.RemoveAll(path)
			continue
		}
		var st unix.Stat_t
		if age < tempGrace || !e.IsDir() || strings.HasPrefix(e.Name(), "root-") ||
			unix.Lstat(path, &st) != nil || st.Dev != baseSt.Dev || !unheld(path) {
			continue
		}
		os.RemoveAll(path)
	}
}

// unheld reports whether no process holds the directory (holdTemp).
func unheld(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil // released with the close
}

var held = struct {
	sync.Mutex
	fds map[string]int
}{fds: map[string]int{}}

// holdTemp holds dir for as long as this process runs, or until it is
// gone: the descriptors of directories removed since are closed here.
func holdTemp(dir string) {
	held.Lock()
	defer held.Unlock()
	for d, fd := range held.fds {
		if _, err := os.Stat(d); err != nil {
			unix.Close(fd)
			delete(held.fds, d)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	if unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) != nil {
		unix.Close(fd)
		return
	}
	held.fds[dir] = fd
}
