package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// LockImage serializes the fetching of one image (by its ID, the config
// digest) between husk processes: of 20 jobs that start on a node at once,
// one pulls and the others wait and then find it stored, so the registry
// serves each blob once. The lock lives in the graph root, which placement
// keeps on node-local storage, where flock works. waiting is called once
// if another process holds it. It gives up when ctx ends.
func (s *Store) LockImage(ctx context.Context, id string, waiting func()) (func(), error) {
	f, err := openLock(s.GraphRoot(), "image", id)
	if err != nil {
		return nil, err
	}
	if err := waitLock(ctx, f, waiting); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// waitLock takes f's exclusive flock, polling so that ctx (Ctrl-C) can end
// the wait, and calls waiting once if it has to wait.
func waitLock(ctx context.Context, f *os.File, waiting func()) error {
	for told := false; ; told = true {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if !told && waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// openLock opens one of a fixed set of lock files of kind in the graph
// root, picked by id, so that none is ever removed while someone waits on
// it.
func openLock(graphRoot, kind, id string) (*os.File, error) {
	dir := filepath.Join(graphRoot, "husk-locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the lock directory %s: %w", dir, err)
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	name := filepath.Join(dir, fmt.Sprintf("%s-%02d.lock", kind, h.Sum32()%64))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock %s: %w", name, err)
	}
	return f, nil
}
