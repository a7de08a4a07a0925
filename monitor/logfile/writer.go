// Package logfile keeps a container's output in Docker's json-file format:
// one JSON object a line, {"log":…,"stream":…,"time":…}, so that the files
// look like the ones tools already know from /var/lib/docker/containers.
// The container's monitor writes them with a Writer; `husk logs` reads and
// follows them with Read.
package logfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Writer appends log entries; safe for concurrent use by the stdout and
// stderr copiers.
type Writer struct {
	path    string
	maxSize int64
	keep    int

	// mu makes each entry land whole, and in the order of its time stamp.
	mu      sync.Mutex
	f       *os.File // nil once closed
	size    int64
	streams map[string]*stream
}

// Open opens (creating, 0600) the log at path for appending. maxSize is the
// size in bytes at which the file is rotated: path becomes path.1, path.1
// becomes path.2 and so on, keeping at most keep rotated files. maxSize <= 0
// means never rotate; keep <= 0 means a full log is simply dropped.
func Open(path string, maxSize int64, keep int) (*Writer, error) {
	f, size, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &Writer{path: path, maxSize: maxSize, keep: max(keep, 0), f: f, size: size,
		streams: map[string]*stream{}}, nil
}

// Discard is a Writer that keeps nothing: the none log driver.
func Discard() (*Writer, error) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, fail("opening log", os.DevNull, err)
	}
	return &Writer{path: os.DevNull, f: f, streams: map[string]*stream{}}, nil
}

// openAppend opens path for appending and tells its size, so that rotation
// counts what an earlier monitor already wrote there.
func openAppend(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fail("opening log", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fail("opening log", path, err)
	}
	return f, fi.Size(), nil
}

// Stream returns an io.Writer for one stream ("stdout" or "stderr"). Bytes
// written are split into lines, each line one entry. A partial line waits
// for its newline, or becomes an entry of its own once it grows past 16 KiB
// or when the Writer is closed. The same name always gives the same stream.
func (w *Writer) Stream(name string) io.Writer {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.streams[name]
	if s == nil {
		s = &stream{w: w, name: name}
		w.streams[name] = s
	}
	return s
}

// Close writes out the partial lines of all streams and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(w.streams)) {
		if s := w.streams[name]; len(s.pending) > 0 {
			errs = append(errs, w.append(name, s.pending))
			s.pending = nil
		}
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, fail("closing log", w.path, err))
	}
	w.f = nil
	return errors.Join(errs...)
}

// append writes one entry; the caller holds w.mu.
func (w *Writer) append(stream string, log []byte) error {
	if w.f == nil {
		return fail("writing log", w.path, os.ErrClosed)
	}
	line, err := encode(stream, log, time.Now())
	if err != nil {
		return fail("writing log", w.path, err)
	}
	// Like Docker, rotate lazily, at the first write after the file reached
	// maxSize, so no empty file is left behind when the container ends. When
	// rotation fails the entry still goes to the old file: better a large
	// log than a lost line.
	var rotErr error
	if w.maxSize > 0 && w.size >= w.maxSize {
		rotErr = w.rotate()
	}
	n, err := w.f.Write(line)
	w.size += int64(n)
	if err != nil {
		return errors.Join(rotErr, fail("writing log", w.path, err))
	}
	return rotErr
}

// rotate moves the full log aside and starts a new one at path. The old file
// is renamed while still open and closed only once the new one exists, so a
// failure leaves the Writer still writing somewhere.
func (w *Writer) rotate() error {
	if err := shift(w.path, w.keep); err != nil {
		return err
	}
	f, _, err := openAppend(w.path)
	if err != nil {
		return err
	}
	// Everything written is in the kernel already; closing cannot lose it.
	_ = w.f.Close()
	w.f, w.size = f, 0
	return nil
}

// shift frees the name path: it drops path.keep and any older leftovers of a
// run that kept more files, then renames path.i to path.i+1, oldest first.
// That order means a file only ever moves to a higher number, which is what
// lets a follower find where its file went (see chain.next).
func shift(path string, keep int) error {
	for i := keep; ; i++ {
		err := os.Remove(rotated(path, i))
		if errors.Is(err, fs.ErrNotExist) && i > keep {
			break
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail("rotating log", path, err)
		}
	}
	for i := min(keep-1, rotatedCount(path)); i >= 0; i-- {
		err := os.Rename(rotated(path, i), rotated(path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail("rotating log", path, err)
		}
	}
	return nil
}

// rotatedCount counts path.1, path.2… up to the first missing one, so that
// shift renames only files that exist, however many keep allows.
func rotatedCount(path string) int {
	n := 0
	for {
		if _, err := os.Lstat(rotated(path, n+1)); err != nil {
			return n
		}
		n++
	}
}

// rotated names the i-th file of a log: path itself for 0, else path.i.
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// fail names the operation and the path. A *fs.PathError is unwrapped to
// its errno so the message does not repeat the path.
func fail(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}
