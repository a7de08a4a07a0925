package logfile

import (
	"bytes"
	"os"
	"slices"
	"unicode/utf8"
)

// maxLine caps an entry's log at 16 KiB, as Docker's copier does, so that a
// program which never prints a newline cannot grow the monitor's memory.
const maxLine = 16 << 10

// stream splits one stream's bytes into lines; its Write is the io.Writer
// that Writer.Stream hands out.
type stream struct {
	w    *Writer
	name string
	// pending is the start of a line whose newline has not come yet. It is
	// guarded by w.mu, since Close flushes it from another goroutine.
	pending []byte
}

func (s *stream) Write(p []byte) (int, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.f == nil {
		return 0, fail("writing log", s.w.path, os.ErrClosed)
	}
	s.pending = append(s.pending, p...)
	rest := s.pending
	var first error
	for n := cut(rest); n > 0; n = cut(rest) {
		// A failed entry is dropped, not retried: the copier must keep
		// draining the container's pipe whatever happens to the log.
		if err := s.w.append(s.name, rest[:n]); err != nil && first == nil {
			first = err
		}
		rest = rest[n:]
	}
	s.keep(rest)
	return len(p), first
}

// keep moves the unfinished line to the front of pending, letting go of the
// buffer a very large write left behind.
func (s *stream) keep(rest []byte) {
	if cap(s.pending) > 4*maxLine {
		s.pending = slices.Clone(rest)
		return
	}
	s.pending = append(s.pending[:0], rest...)
}

// cut returns the length of the first entry at the start of b: through its
// newline, or about maxLine bytes when b holds more than that without one,
// or 0 while b is only the start of a line. It looks at nothing but b, so
// the entries do not depend on how the writes were chunked.
func cut(b []byte) int {
	if i := bytes.IndexByte(b[:min(len(b), maxLine)], '\n'); i >= 0 {
		return i + 1
	}
	if len(b) <= maxLine {
		return 0
	}
	return runeCut(b)
}

// runeCut picks where to split a line longer than maxLine: at maxLine, or a
// few bytes earlier so as not to split a UTF-8 sequence, which JSON would
// turn into two U+FFFD. b is longer than maxLine.
func runeCut(b []byte) int {
	for n := maxLine; n > maxLine-utf8.UTFMax; n-- {
		if utf8.RuneStart(b[n]) {
			return n
		}
	}
	return maxLine // not UTF-8 anyway
}
