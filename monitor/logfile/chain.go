package logfile

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// chain is a log's files, newest first: the live path, then path.1, path.2…
type chain string

func (c chain) name(i int) string { return rotated(string(c), i) }

// next opens the file written after cur: the one now numbered one lower, or
// the oldest one when cur is nil or rotation deleted it. It returns nil when
// cur is the live log, or when a rotation under way hides which file comes
// next; the caller then looks again later.
//
// A file only ever moves to a higher number (see shift), so if cur is at
// path.k both before and after opening path.k-1, nothing renamed path.k-1
// in between, and the file opened is cur's successor.
func (c chain) next(cur *os.File) (*os.File, string, error) {
	for range 3 {
		at := c.index(cur)
		if at == 0 {
			return nil, "", nil
		}
		name := c.name(at - 1)
		if at < 0 {
			if cur != nil && !deleted(cur) {
				return nil, "", nil // missed while moving; look again later
			}
			name = c.name(c.oldest())
		}
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fail("opening log", name, err)
		}
		if c.index(cur) == at {
			return f, name, nil
		}
		_ = f.Close()
	}
	return nil, "", nil
}

// index tells where cur is now: 0 for the live path, k for path.k, -1 when
// it is not found (or cur is nil). The scan steps over one missing name,
// the gap a rotation leaves as it renames the files one by one.
func (c chain) index(cur *os.File) int {
	if cur == nil {
		return -1
	}
	fi, err := cur.Stat()
	if err != nil {
		return -1
	}
	for i, misses := 0, 0; misses < 2; i++ {
		st, err := os.Stat(c.name(i))
		if err != nil {
			misses++
			continue
		}
		misses = 0
		if os.SameFile(st, fi) {
			return i
		}
	}
	return -1
}

// oldest returns the highest number in the chain, 0 when nothing was rotated.
func (c chain) oldest() int {
	last := 0
	for i, misses := 0, 0; misses < 2; i++ {
		if _, err := os.Stat(c.name(i)); err != nil {
			misses++
			continue
		}
		last, misses = i, 0
	}
	return last
}

// deleted tells whether f has no name left: the sign that rotation dropped
// the file being read, rather than a scan missing it as it moved. The open
// descriptor keeps the inode from being reused, so the answer is sure.
func deleted(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}
